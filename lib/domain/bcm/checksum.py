"""Canonical JSON and the manifest checksum.

Equal content must mean equal bytes (and so equal checksum): that is what
lets a rebuild that changes nothing make no new version.  The canonical form
follows RFC 8785 (JCS) in the ways that matter for our documents: keys sorted,
no insignificant whitespace, UTF-8 without ``\\u`` escapes, no NaN/Infinity,
and integral floats below 1e21 written as integers the way JCS (ECMAScript)
does (``1.0`` -> ``1``, ``1e20`` -> ``100000000000000000000``).  Other floats
keep Python's shortest round-trip form, which differs from ECMAScript only in
exponent notation below 1e-4 (a manifest holds no floats at all).  Our keys
are ASCII, so sorting by code point equals JCS's UTF-16 order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# Manifest fields that describe this build rather than the business content, left out of the checksum:
# `source` says which path built it (a rebuild of unchanged content must not be a new version) and
# `token_count` moves with the length of the source label; timestamps, if a caller adds any, are volatile too.
VOLATILE_META_FIELDS = ("source", "token_count", "generated_at", "created_at")
# ECMAScript (and so JCS) writes integral numbers below this magnitude without an exponent.
_PLAIN_INTEGER_LIMIT = 1e21


def _normalise(value: Any) -> Any:
    """Integral floats become ints (JCS writes 1.0 as 1); containers are walked, everything else kept.

    Exact type checks first: this runs on every count of the manifest, and ABC checks cost 5x more.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {key: _normalise(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_normalise(item) for item in value]
    if kind is float:
        return _integral(value)
    if isinstance(value, Mapping):
        return {key: _normalise(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    if isinstance(value, float):
        return _integral(float(value))
    return value


def _integral(value: float) -> float | int:
    """An integral float as the integer JCS prints: its shortest digits, then zeros (2.0**60 -> 1152921504606847000)."""
    if value.is_integer() and abs(value) < _PLAIN_INTEGER_LIMIT:
        return int(Decimal(repr(value)))
    return value


def canonical_text(obj: Any) -> str:
    """The canonical JSON of ``obj`` as text (what the tokenizer counts); raises ValueError on NaN or Infinity."""
    return json.dumps(_normalise(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(obj: Any) -> bytes:
    """The canonical UTF-8 bytes of ``obj``; raises ValueError on NaN or Infinity."""
    return canonical_text(obj).encode("utf-8")


def checksummed_part(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest without its volatile meta fields: what the checksum covers."""
    content = dict(manifest)
    meta = content.get("meta")
    if isinstance(meta, Mapping):
        content["meta"] = {key: value for key, value in meta.items() if key not in VOLATILE_META_FIELDS}
    return content


def manifest_checksum(manifest: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of the manifest's non-volatile content."""
    return hashlib.sha256(canonical_json(checksummed_part(manifest))).hexdigest()
