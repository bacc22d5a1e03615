"""The reducer: business_context -> Business Context Manifest, within the token budget.

Pure and deterministic: the same document gives the same bytes, on any
machine, under any hash seed.  Pipeline: validate and parse the document,
run the extractors (the uncompressed draft), then try the compression levels
in order and keep the first whose manifest, serialised as canonical JSON,
counts at most ``TOKEN_BUDGET`` cl100k tokens.

``meta.token_count`` is part of the bytes it counts, so it is found as a fixed
point (the number written equals the count of the final bytes, digits
included).  The level is chosen as if ``meta.source`` were the longest source
label, so the same content gets the same level and checksum whichever path
(onboarding, rebuild, edit) built it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from lib.domain.bcm.checksum import canonical_json, canonical_text, manifest_checksum
from lib.domain.bcm.compression import (
    EMERGENCY_TEXT_ROUNDS,
    LEVELS,
    CompressionLevel,
    compress,
    cut_names_and_foundation,
)
from lib.domain.bcm.draft import Draft, body
from lib.domain.bcm.extractors import extract
from lib.domain.bcm.tokens import TOKENIZER_NAME, count_tokens
from lib.domain.context.validation import parse_business_context

Source = Literal["onboarding", "rebuild", "edit"]
SOURCES: tuple[Source, ...] = get_args(Source)
# The manifest's schema version: bump the major when a consumer would have to change how it reads the manifest.
MANIFEST_SCHEMA_VERSION = "1.0"
# cl100k tokens the whole manifest may cost: small enough to prepend to every AI call (docs/domain.md).
TOKEN_BUDGET = 1200
# The count's fixed point settles in two rounds (only the digits of the count itself move); more means a bug.
MAX_COUNT_ROUNDS = 5


class BudgetExceeded(RuntimeError):
    """Even the emergency level does not fit the budget (cannot happen with bounded inputs; a bug if it does)."""


@dataclass(frozen=True)
class ReducedManifest:
    """A manifest, its checksum and how it was made to fit."""

    manifest: dict[str, Any]
    checksum: str
    token_count: int
    compression: CompressionLevel
    dropped: tuple[str, ...]

    @property
    def canonical(self) -> bytes:
        """The manifest's canonical JSON bytes: what was counted and what should be stored."""
        return canonical_json(self.manifest)


@functools.cache
def _source_slack(source: Source) -> int:
    """Tokens the longest source label costs more than ``source`` (a label is its own pre-token chunk)."""
    return max(count_tokens(label) for label in SOURCES) - count_tokens(source)


@dataclass(frozen=True)
class _Target:
    """What every candidate manifest is made for: its source label and its budget."""

    source: Source
    budget: int


def _with_meta(
    content: dict[str, Any],
    draft: Draft,
    level: CompressionLevel,
    dropped: tuple[str, ...],
    *,
    target: _Target,
    count: int,
) -> dict[str, Any]:
    return {
        **content,
        "meta": {
            "source": target.source,
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "token_budget": target.budget,
            "token_count": count,
            "tokenizer": TOKENIZER_NAME,
            "compression": level,
            "dropped": list(dropped),
            "counts": dict(draft.counts),
        },
    }


def _digit_tokens(number: int) -> int:
    """cl100k tokens of a non-negative integer's digits: one per group of up to three.

    cl100k's pattern splits digits into chunks of at most three (``\\p{N}{1,3}``) and every such chunk is a
    single token (tests check 0-99999).  In canonical JSON the count sits between ``"token_count":`` and
    ``,"tokenizer"``, punctuation on both sides, so its digits are chunks of their own.
    """
    return -(-len(str(number)) // 3)


def _fit(
    draft: Draft, level: CompressionLevel, dropped: tuple[str, ...], target: _Target
) -> tuple[dict[str, Any], int] | None:
    """The manifest with an honest token count, or None when it is over budget (for the longest source label).

    One encode per candidate: the manifest is counted with ``token_count`` 0 (one token), and the final count
    is the fixed point of "everything else plus the tokens of the count's own digits".  The tests check the
    recorded count against a fresh count of the final bytes.
    """
    content = body(draft)
    slack = _source_slack(target.source)
    others = count_tokens(canonical_text(_with_meta(content, draft, level, dropped, target=target, count=0))) - 1
    count = others + 1
    for _ in range(MAX_COUNT_ROUNDS):
        settled = others + _digit_tokens(count)
        if settled == count:
            break
        count = settled
    else:  # pragma: no cover - the digit count of a number this size moves at most twice
        raise RuntimeError(f"token count did not converge in {MAX_COUNT_ROUNDS} rounds")
    if count + slack > target.budget:
        return None
    return _with_meta(content, draft, level, dropped, target=target, count=count), count


def _reduce(draft: Draft, target: _Target) -> tuple[dict[str, Any], int, CompressionLevel, tuple[str, ...]]:
    """The first level (and, at emergency, the first text-cutting round) whose manifest fits."""
    for index, (level, _) in enumerate(LEVELS):
        compressed, dropped = compress(draft, index)
        fitted = _fit(compressed, level, dropped, target)
        if fitted is not None:
            return fitted[0], fitted[1], level, dropped
    for limit in EMERGENCY_TEXT_ROUNDS:
        fitted = _fit(cut_names_and_foundation(compressed, limit), level, dropped, target)
        if fitted is not None:
            return fitted[0], fitted[1], level, dropped
    raise BudgetExceeded(f"the manifest does not fit {target.budget} tokens even at the emergency level")


def reduce_context(context: Mapping[str, Any], *, source: Source, token_budget: int = TOKEN_BUDGET) -> ReducedManifest:
    """The manifest for a business_context v2.0 document (raises Unprocessable if the document is invalid).

    ``token_budget`` exists for tests that walk the compression levels; production uses the default.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    draft = extract(parse_business_context(context))
    manifest, count, level, dropped = _reduce(draft, _Target(source, token_budget))
    return ReducedManifest(
        manifest=manifest,
        checksum=manifest_checksum(manifest),
        token_count=count,
        compression=level,
        dropped=dropped,
    )
