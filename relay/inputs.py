"""What the edge accepts from peers: strings and JSON, checked with no I/O.

Every string a peer supplies may end up in the database, in ``sessions.log``, on
another peer's terminal or in a page. So it must encode as UTF-8 (a lone
surrogate cannot, and used to make every save of a session fail) and hold no
control, format or separator character (Unicode Cc, Cf, Zl, Zp): no terminal
escapes, no NUL, no bidi overrides, no line breaks that forge log lines.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

# Unicode categories no name or label may contain (see the module docstring).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# Control frames and API bodies are flat; nothing legitimate nests deeper.
MAX_JSON_DEPTH = 8


class InputError(ValueError):
    """A value the edge refuses; the message says why, for the sender."""


def clean_text(value: Any, field: str, max_chars: int, *, required: bool = True) -> str:
    """``value`` trimmed, or InputError naming ``field``."""
    shape = f"'{field}' must be a string of {1 if required else 0}-{max_chars} characters"
    if not isinstance(value, str):
        raise InputError(shape)
    text = value.strip()
    if len(text) > max_chars or (required and not text):
        raise InputError(shape)
    if not text.isprintable() and _refused_character(text):
        raise InputError(f"'{field}' must not contain control, format or separator characters")
    return text


def _refused_character(text: str) -> bool:
    # isprintable() is a fast C pass that is stricter than the rule (it also refuses,
    # say, a no-break space); only when it fails are categories looked at one by one.
    return any(unicodedata.category(char) in REFUSED_CATEGORIES for char in text)


def parse_json(data: str | bytes) -> Any:
    """Decode JSON no deeper than ``MAX_JSON_DEPTH``, or raise InputError."""
    try:
        value = json.loads(data)
    except RecursionError:  # nesting past the interpreter's own limit
        raise InputError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:  # includes UnicodeDecodeError for bytes that are not UTF-8
        raise InputError("not valid JSON") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise InputError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """Nesting depth of decoded JSON (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            children = item.values() if isinstance(item, dict) else item
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:  # deeper is refused anyway: stop looking
                stack.extend((child, level + 1) for child in children)
    return deepest


def printable(text: str) -> str:
    """``text`` with every refused character written as a Python escape (``\\x1b``),
    for showing a string that came from outside where it could do harm (a log line)."""
    if text.isprintable() or not _refused_character(text):
        return text
    return "".join(
        char.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(char) in REFUSED_CATEGORIES
        else char
        for char in text
    )
