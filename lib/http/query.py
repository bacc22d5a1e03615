"""Query parameters a route reads, declared on the route.

The declaration is what the OpenAPI document publishes (name, schema with
bounds, description) and what ``RequestContext.arg`` lets a handler read: a
handler reading an undeclared parameter is a bug caught by the first test
that reaches it, so the contract cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False

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
