"""Query parameters a route reads, declared on the route.

The declaration is what the OpenAPI document publishes (name, schema with
bounds, description) and what ``RequestContext.arg`` lets a handler read: a
handler reading an undeclared parameter is a bug caught by the first test
that reaches it, so the contract cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.domain.ids import canonical_uuid


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False

    def refusal(self, value: str) -> str | None:
        """Why ``value`` breaks a string parameter's published schema (its enum, ``uuid`` format or
        pattern), or None.  Other types are parsed by their handler, which answers its own 422."""
        if self.schema.get("type") != "string":
            return None
        enum = self.schema.get("enum")
        if enum is not None and value not in enum:
            return "must be one of " + ", ".join(map(str, enum))
        if self.schema.get("format") == "uuid" and canonical_uuid(value) is None:
            return "must be a UUID"
        pattern = self.schema.get("pattern")
        if pattern is not None and re.search(pattern, value) is None:
            return f"must match {pattern}"
        return None

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "description": self.description,
            "schema": dict(self.schema),
        }


WORKSPACE_ID = QueryParam(
    "workspace_id",
    "The workspace to act on (a member's); omitted means the caller's own.",
    {"type": "string", "format": "uuid"},
)
