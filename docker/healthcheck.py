"""Container HEALTHCHECK: exit 0 when /ct-health/ answers 200 on CT_HTTP_PORT."""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("CT_HTTP_PORT", "1080").strip() or "1080"
    url = f"http://127.0.0.1:{port}/ct-health/"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"ctserver health check failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
