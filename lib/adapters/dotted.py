"""Dotted field paths (``"steps.s01.status"``) over nested dicts.

Firestore addresses nested fields with dotted paths in ``update``; the
Firestore adapter (to compute the document it just wrote) and the in-memory
fake (to behave the same) share these pure helpers, so both agree on what a
path means.  No SDK import here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

_ABSENT: Any = object()


def get_path(doc: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at ``path``, or ``default`` when any segment is missing."""
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def has_path(doc: Mapping[str, Any], path: str) -> bool:
    return get_path(doc, path, _ABSENT) is not _ABSENT


def apply_updates(doc: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with each dotted path set (intermediate maps created),
    as Firestore's ``update`` does: a dict value replaces the whole field."""
    out: dict[str, Any] = copy.deepcopy(dict(doc))
    for path, value in updates.items():
        parts = path.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = copy.deepcopy(value)
    return out


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``set(..., merge=True)``: nested maps merge key by key, other values replace."""
    out: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in extra.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            out[key] = deep_merge(current, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def first_mismatch(doc: Mapping[str, Any], expect: Mapping[str, Any]) -> str | None:
    """The first ``expect`` path whose current value differs (absent reads as None)."""
    for path, wanted in expect.items():
        if get_path(doc, path) != wanted:
            return path
    return None


# Firestore's Python SDK operator names; the hyphenated spellings of the
# console/REST API are accepted as aliases so callers need not care.
QUERY_OPERATORS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not-in", "array_contains", "array_contains_any"})
_OPERATOR_ALIASES = {"array-contains": "array_contains", "array-contains-any": "array_contains_any", "not_in": "not-in"}


def normalize_operator(op: str) -> str | None:
    """The SDK's name for a query operator, or None when it is not one."""
    op = _OPERATOR_ALIASES.get(op, op)
    return op if op in QUERY_OPERATORS else None
