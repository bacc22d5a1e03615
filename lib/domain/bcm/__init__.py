"""The Business Context Manifest: reducer, token budget, checksum and versions (pure domain code)."""

from lib.domain.bcm.checksum import VOLATILE_META_FIELDS, canonical_json, manifest_checksum
from lib.domain.bcm.compression import CompressionLevel
from lib.domain.bcm.reducer import (
    MANIFEST_SCHEMA_VERSION,
    TOKEN_BUDGET,
    BudgetExceeded,
    ReducedManifest,
    Source,
    reduce_context,
)
from lib.domain.bcm.tokens import TOKENIZER_NAME, count_tokens
from lib.domain.bcm.versions import VersionChange, next_version

__all__ = [
    "MANIFEST_SCHEMA_VERSION",
    "TOKENIZER_NAME",
    "TOKEN_BUDGET",
    "VOLATILE_META_FIELDS",
    "BudgetExceeded",
    "CompressionLevel",
    "ReducedManifest",
    "Source",
    "VersionChange",
    "canonical_json",
    "count_tokens",
    "manifest_checksum",
    "next_version",
    "reduce_context",
]
