"""Text we can store: no NUL character and no lone UTF-16 surrogate.

JSON lets a client send both (``"\\u0000"``, ``"\\ud800"``), Python holds them,
but PostgreSQL text and jsonb refuse NUL and UTF-8 cannot encode a lone
surrogate.  Everything that arrives from outside is checked once, where it is
accepted (``lib.http`` for requests, the webhook service for PhonePe's bodies),
so nothing downstream meets such a string.
"""

from __future__ import annotations

import re
from typing import Any

# NUL, or a surrogate code point (a valid pair never reaches Python as two code points).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
WHY = "must not contain NUL characters or unpaired surrogates"


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def unstorable_path(value: Any) -> str | None:
    """The dotted path (``a.b[2].c``) of the first key or string in ``value`` that is not storable.

    A bad key names the key's own path; ``None`` when all is well.  The walk is iterative
    (nesting is bounded by the JSON parser's depth limit, but no recursion either way).
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not is_storable(item):
                return path or "(value)"
        elif isinstance(item, dict):
            for key, child in item.items():
                key_text = str(key)
                child_path = f"{path}.{_printable(key_text)}" if path else _printable(key_text)
                if not is_storable(key_text):
                    return child_path
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
    return None


def _printable(key: str) -> str:
    """A key as it may appear in an error message: unstorable characters shown as escapes."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", key)
