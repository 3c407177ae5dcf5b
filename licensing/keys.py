"""The vendor's public key: the only key whose licenses this server accepts.

A raw Ed25519 public key, base64. It is part of the code on purpose: no variable,
file or database row can replace it, so a license cannot be forged by configuring
another key. ``ctserver/settings.py`` passes it on as ``LICENSE_VERIFY_KEY``, which
only test settings change. The matching private key never enters the repository.
"""

from __future__ import annotations

VENDOR_PUBLIC_KEY = "KHI+23Q2ZDTnmUNwKP7Ew087oqB5ttHfUqsWSqPhiII="
