"""Whole numbers from text, parsed strictly: ASCII digits and bounds.

``"²".isdigit()`` is true in Python and ``int("²")`` raises; ``"٣"`` parses as 3.
Query parameters and headers are parsed here so neither surprise reaches a service.
"""

from __future__ import annotations

import re

from lib.errors import FieldError, Unprocessable

ASCII_DIGITS = re.compile(r"[0-9]{1,9}")


def parse_int(raw: str | None, *, name: str, default: int, minimum: int, maximum: int) -> int:
    """A whole number in ``[minimum, maximum]`` from ASCII digits; ``default`` when absent or empty."""
    if raw is None or raw == "":
        return default
    if not ASCII_DIGITS.fullmatch(raw):
        raise _out_of_range(name, minimum, maximum)
    value = int(raw)
    if not minimum <= value <= maximum:
        raise _out_of_range(name, minimum, maximum)
    return value


def _out_of_range(name: str, minimum: int, maximum: int) -> Unprocessable:
    return Unprocessable(
        f"{name} must be a whole number.", errors=[FieldError(name, f"must be within {minimum}..{maximum}")]
    )
