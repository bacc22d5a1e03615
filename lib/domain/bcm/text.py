"""Small, deterministic text helpers for the reducer."""

from __future__ import annotations

from collections.abc import Iterable

ELLIPSIS = "…"
# Cut at the last word break when it keeps at least this share of the limit; otherwise cut mid-word.
WORD_BREAK_MIN_SHARE = 0.6
_TRAILING_PUNCTUATION = " ,;:.-\u2013\u2014"  # and en and em dashes


def squash(text: str) -> str:
    """One line, single spaces: newlines and runs of whitespace cost tokens and say nothing."""
    return " ".join(text.split())


def cut(text: str | None, limit: int) -> str | None:
    """``text`` in at most ``limit`` characters, cut at a word break with an ellipsis when it is longer."""
    if text is None or len(text) <= limit:
        return text
    head = text[: max(limit - 1, 1)]
    space = head.rfind(" ")
    if space >= limit * WORD_BREAK_MIN_SHARE:
        head = head[:space]
    return head.rstrip(_TRAILING_PUNCTUATION) + ELLIPSIS


def cut_all(texts: Iterable[str], limit: int) -> tuple[str, ...]:
    return tuple(cut(t, limit) or t for t in texts)


def unique(texts: Iterable[str | None], limit: int | None = None) -> tuple[str, ...]:
    """Squashed, non-blank texts without case-insensitive repeats, first occurrence kept, at most ``limit``."""
    seen: set[str] = set()
    out: list[str] = []
    for text in texts:
        if not text:
            continue
        clean = squash(text)
        key = clean.casefold()
        if clean and key not in seen:
            seen.add(key)
            out.append(clean)
            if limit is not None and len(out) >= limit:
                break
    return tuple(out)
