"""How log lines are written: one line per event, whatever a client sent.

Messages routinely carry strings from outside (a Host header, a path, a user
name). ``LineFormatter`` escapes their control and format characters, so nobody
can forge a log line, clear an operator's terminal or hide text with bidi
overrides. Tracebacks stay as they are: they come from our code.
"""

from __future__ import annotations

import logging

from relay.inputs import printable


class LineFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        # A trailing newline (uvicorn ends some messages with one) is not an attack.
        record.message = printable(record.message.rstrip("\n"))
        return super().formatMessage(record)


class WithoutTraceback(logging.Filter):
    """Django logs every refused request (a bad Host header, say) with a traceback
    under ``django.security.*``: about 2 KB of noise per request, from anyone, in the
    log that also holds the one-time dashboard password. One line says enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security."):
            record.exc_info = None
            record.exc_text = None
        return True
