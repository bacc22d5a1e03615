"""Pieces every contract module shares: the closed base model, timestamps, field errors."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# An ISO 8601 timestamp with its offset, as the services render it (``datetime.isoformat()``).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
# A free-form JSON object whose keys the contract does not fix (step data, an AI suggestion).
FreeObject = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "additionalProperties": True, "description": "A JSON object."}),
]


def example(value: dict[str, Any] | list[Any]) -> ConfigDict:
    """The config of a closed model with its one example."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [value]})


class Closed(BaseModel):
    """A response object whose fields are all listed: any other field is a contract break."""

    model_config = ConfigDict(extra="forbid")


class Request(BaseModel):
    """A request body: the fields a route reads.  A model with ``example(...)`` is closed: the router
    answers 422 ``validation_failed`` naming any other top-level field (``lib.http.body``)."""

    model_config = ConfigDict(extra="allow")


class FieldErrorOut(Closed):
    model_config = example({"path": "data.name", "message": "is required"})

    path: str
    message: str


class Problem(BaseModel):
    """application/problem+json (RFC 9457); extra members appear where useful (``current_version``...)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:bcm:problem:workspace_not_found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "No such workspace.",
                    "code": "workspace_not_found",
                    "request_id": "5f0c6a1e2b7d4c1f9e3a8b6d",
                }
            ]
        },
    )

    type: str = Field(description="A URI reference naming the problem type (`urn:bcm:problem:<code>`).")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="Stable machine-readable code (e.g. `payload_too_large`).")
    errors: list[FieldErrorOut] = Field(
        default_factory=list, description="Each bad field and why (present when there are any)."
    )
    request_id: str | None


class NoBody(Request):
    """No body is read: send nothing or `{}`."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{}]})
