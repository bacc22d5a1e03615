"""The per-task response schema: a step's JSON Schema reduced to what Gemini accepts.

Gemini's ``responseJsonSchema`` understands a subset of JSON Schema (types,
``properties``, ``items``, ``enum``, ``required``, ``minimum``/``maximum``,
``minItems``/``maxItems``, ``description``).  The published step schemas use
more: ``$ref``/``$defs``, ``anyOf [X, null]`` for optional fields, ``pattern``,
``maxLength``, ``const``.  So references are inlined, optional unions collapse
to their non-null member, ``const`` becomes a one-value ``enum``, and the
string rules that cannot be sent become words in ``description`` ("at most 120
characters", "no spaces") for the model to follow.  Nothing is lost: the
output is validated against the full step schema afterwards (``validate_step``).
"""

from __future__ import annotations

from typing import Any

from lib.domain.steps import StepDef
from lib.domain.steps.fields import CURRENCY_PATTERN, ID_PATTERN, MULTI_LINE_PATTERN, SINGLE_LINE_PATTERN

# Keywords copied as they are (all in Gemini's supported subset).
_COPIED = ("type", "enum", "minimum", "maximum", "minItems", "maxItems", "required")
# What a pattern means, said in words the model reads.
_PATTERN_HINTS = {
    ID_PATTERN: "an identifier: letters, digits, '_', '-', '.', ':'; no spaces",
    CURRENCY_PATTERN: "a three-letter ISO 4217 currency code such as INR",
    SINGLE_LINE_PATTERN: "one line",
    MULTI_LINE_PATTERN: "plain text, line breaks allowed",
}
# Top-level fields of a step the AI must not propose: they are the user's sign-off, not content.
USER_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "truth_sheet": frozenset({"locked"}),
}


class SchemaError(ValueError):
    """A step schema uses a construct this reducer cannot express (a programming error)."""


def response_schema(step: StepDef) -> dict[str, Any]:
    """The schema sent with ``step``'s AI task (a plain, self-contained JSON object)."""
    raw = step.model.model_json_schema(mode="validation")
    reduced = _reduce(raw, raw.get("$defs", {}), depth=0)
    omitted = USER_ONLY_FIELDS.get(step.slug, frozenset())
    if omitted:
        reduced["properties"] = {k: v for k, v in reduced["properties"].items() if k not in omitted}
    return reduced


# Step schemas nest a few levels (step -> list -> item -> object); deeper means a cycle.
_MAX_DEPTH = 12


def _reduce(node: dict[str, Any], defs: dict[str, Any], *, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise SchemaError("schema nests too deeply (a recursive $ref?)")
    node = _resolve(node, defs)
    out: dict[str, Any] = {key: node[key] for key in _COPIED if key in node}
    if "const" in node:
        out["enum"] = [node["const"]]
    if "properties" in node:
        out["type"] = "object"
        out["properties"] = {name: _reduce(child, defs, depth=depth + 1) for name, child in node["properties"].items()}
    if "items" in node:
        out["items"] = _reduce(node["items"], defs, depth=depth + 1)
    if "type" not in out and "enum" not in out:
        raise SchemaError(f"schema node without a type: {sorted(node)}")
    description = _describe(node)
    if description:
        out["description"] = description
    return out


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline ``$ref`` and collapse ``anyOf [X, null]`` to X (keeping the outer description)."""
    while True:
        if "$ref" in node:
            name = str(node["$ref"]).rsplit("/", 1)[-1]
            if name not in defs:
                raise SchemaError(f"unknown $ref {node['$ref']}")
            outer = {k: v for k, v in node.items() if k != "$ref"}
            node = {**defs[name], **outer}
            continue
        if "anyOf" in node:
            options = [option for option in node["anyOf"] if option.get("type") != "null"]
            if len(options) != 1:
                raise SchemaError("only optional (X or null) unions are supported")
            outer = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**options[0], **outer}
            continue
        return node


def _describe(node: dict[str, Any]) -> str:
    parts = [str(node["description"]).rstrip(".")] if node.get("description") else []
    if "pattern" in node and node["pattern"] in _PATTERN_HINTS:
        parts.append(_PATTERN_HINTS[node["pattern"]])
    if "maxLength" in node:
        parts.append(f"at most {node['maxLength']} characters")
    return "; ".join(parts) + ("." if parts else "")
