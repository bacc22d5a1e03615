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


# --- money ------------------------------------------------------------------------------------

PAISE_PER_RUPEE = 100
RUPEE_SIGN = "₹"


def group_indian(whole: int) -> str:
    """Digits grouped the Indian way: the last three, then pairs (1234567 -> ``12,34,567``).

    Receipts are read in India, where ``₹12,34,567`` is how a lakh-sized amount is
    written; the Western grouping (``1,234,567``) reads as a different number there."""
    if whole < 0:
        return "-" + group_indian(-whole)
    digits = str(whole)
    head, tail = digits[:-3], digits[-3:]
    pairs: list[str] = []
    while head:
        head, pair = head[:-2], head[-2:]
        pairs.insert(0, pair)
    return ",".join([*pairs, tail])


def format_rupees(paise: int, *, sign: str = RUPEE_SIGN) -> str:
    """Integer paise as rupees for display: 123450 -> ``₹1,234.50``, 123456700 -> ``₹12,34,567.00``,
    -50000 -> ``-₹500.00``.  Exact (no float ever touches money)."""
    minus = "-" if paise < 0 else ""
    whole, frac = divmod(abs(paise), PAISE_PER_RUPEE)
    return f"{minus}{sign}{group_indian(whole)}.{frac:02d}"
