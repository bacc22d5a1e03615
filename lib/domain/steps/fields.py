"""Reusable field types and the base model every step schema derives from.

Why here: the rules "strings trimmed, bounded, no control characters; HTML kept
as text; unknown fields rejected" must hold for all 23 steps, so they live in
the types, not in each model.  Every type also publishes its rule in the JSON
Schema (``maxLength``, ``pattern``) so the frontend can check the same thing.

Text is never interpreted: ``<b>`` stays the four characters ``<b>``; escaping
is the renderer's job.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from lib.domain.steps import limits as L

# Published forms of the control-character rule (ECMA-262 and Python `re` both read \uXXXX).
SINGLE_LINE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
MULTI_LINE_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
CURRENCY_PATTERN = r"^[A-Za-z]{3}$"
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_ID_RE = re.compile(ID_PATTERN)
_MULTI_LINE_ALLOWED = frozenset("\n\t")


@dataclass(frozen=True)
class JsonExtra:
    """Adds keys to a field's published JSON Schema (the check itself is a validator)."""

    extra: tuple[tuple[str, Any], ...]

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        result = handler(schema)
        result.update(dict(self.extra))
        return result


def _reject_controls(value: str, allowed: frozenset[str]) -> str:
    for index, char in enumerate(value):
        if char not in allowed and unicodedata.category(char) == "Cc":
            raise PydanticCustomError(
                "control_character",
                "must not contain control characters (found U+{code} at position {position})",
                {"code": f"{ord(char):04X}", "position": index},
            )
    return unicodedata.normalize("NFC", value)


def _single_line(value: str) -> str:
    return _reject_controls(value, frozenset())


def _multi_line(value: str) -> str:
    return _reject_controls(value, _MULTI_LINE_ALLOWED)


def _unify_newlines(value: object) -> object:
    """Windows and old-Mac line ends become ``\\n`` so pasted text is not a control-character error."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def _identifier(value: str) -> str:
    if not _ID_RE.match(value):
        raise PydanticCustomError(
            "identifier",
            "must start with a letter or digit and use only letters, digits, '_', '-', '.' and ':'",
        )
    return value


def _http_url(value: str) -> str:
    """An http(s) URL; a bare domain (``acme.in/pricing``) is taken to mean https."""
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise PydanticCustomError("url", "must be a URL without spaces or control characters")
    candidate = value if "://" in value else f"https://{value}"
    try:
        parts = urlsplit(candidate)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise PydanticCustomError("url", "must be a valid http or https URL") from exc
    if parts.scheme.lower() not in {"http", "https"}:
        raise PydanticCustomError("url", "must be an http or https URL")
    host = parts.hostname or ""
    if not host or (port is not None and port == 0):
        raise PydanticCustomError("url", "must be a valid http or https URL with a host")
    if len(candidate) > L.URL_MAX:
        raise PydanticCustomError("url", "must be at most {max_length} characters", {"max_length": L.URL_MAX})
    return candidate


def _storage_path(value: str) -> str:
    """A Cloud Storage object name: relative, no ``..`` segments, one line."""
    if value.startswith("/") or any(part in {"", ".", ".."} for part in value.split("/")):
        raise PydanticCustomError("storage_path", "must be a relative object path without empty, '.' or '..' segments")
    return _single_line(value)


def _currency(value: str) -> str:
    if not _CURRENCY_RE.match(value):
        raise PydanticCustomError("currency", "must be a three-letter ISO 4217 currency code such as INR")
    return value


def _whole_as_int(value: float) -> float | int:
    """``4999.0`` is stored as ``4999``: what the user typed, and what canonical JSON (RFC 8785) writes."""
    return int(value) if value.is_integer() and abs(value) <= _EXACT_INT_MAX else value


_EXACT_INT_MAX = 2**53  # beyond this a float no longer holds every integer exactly
_WHOLE_AS_INT = PlainSerializer(_whole_as_int, when_used="json")


def _single(max_length: int) -> tuple[Any, ...]:
    return (
        StringConstraints(strip_whitespace=True, max_length=max_length),
        AfterValidator(_single_line),
        JsonExtra((("pattern", SINGLE_LINE_PATTERN),)),
    )


def _multi(max_length: int) -> tuple[Any, ...]:
    return (
        StringConstraints(strip_whitespace=True, max_length=max_length),
        BeforeValidator(_unify_newlines),  # listed after the constraints so it wraps them and runs first
        AfterValidator(_multi_line),
        JsonExtra((("pattern", MULTI_LINE_PATTERN),)),
    )


# mypy needs type aliases spelled out statically, hence one line per length.
Tag = Annotated[str, *_single(L.TAG_MAX)]
Name = Annotated[str, *_single(L.NAME_MAX)]
Guardrail = Annotated[str, *_single(L.GUARDRAIL_MAX)]
Sentence = Annotated[str, *_single(L.SENTENCE_MAX)]
Soundbite = Annotated[str, *_multi(L.SOUNDBITE_MAX)]
PositioningText = Annotated[str, *_multi(L.POSITIONING_STATEMENT_MAX)]
Paragraph = Annotated[str, *_multi(L.PARAGRAPH_MAX)]
Notes = Annotated[str, *_multi(L.NOTES_MAX)]
Document = Annotated[str, *_multi(L.DOCUMENT_MAX)]

Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=L.ID_MAX),
    AfterValidator(_identifier),
    JsonExtra((("pattern", ID_PATTERN),)),
]
HttpUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=L.URL_MAX),
    AfterValidator(_http_url),
    JsonExtra((("description", "An http(s) URL; a bare domain is read as https://<domain>."),)),
]
StoragePath = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=L.STORAGE_PATH_MAX),
    AfterValidator(_storage_path),
    JsonExtra((("description", "Cloud Storage object name inside the workspace's evidence bucket."),)),
]
Currency = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, max_length=L.CURRENCY_LEN),
    AfterValidator(_currency),
    JsonExtra((("pattern", CURRENCY_PATTERN),)),
]

Confidence = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), _WHOLE_AS_INT]
Sentiment = Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False), _WHOLE_AS_INT]
MapCoordinate = Annotated[float, Field(ge=L.MAP_MIN, le=L.MAP_MAX, allow_inf_nan=False), _WHOLE_AS_INT]
Level = Annotated[int, Field(ge=L.LEVEL_MIN, le=L.LEVEL_MAX)]
Money = Annotated[float, Field(ge=0, le=L.MONEY_MAX, allow_inf_nan=False), _WHOLE_AS_INT]
KpiTarget = Annotated[
    float, Field(ge=-L.KPI_TARGET_ABS_MAX, le=L.KPI_TARGET_ABS_MAX, allow_inf_nan=False), _WHOLE_AS_INT
]


class StepModel(BaseModel):
    """Base of every step schema and of every object inside one.

    Strict types (a JSON string is not a number, ``"yes"`` is not a boolean), unknown
    fields are errors, and every field is optional so that a draft can be saved: the
    per-step completeness rules (``rules.py``) say what a finished step needs.  Absent,
    ``null`` and blank text all mean "not given" and are left out of the stored data.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _blank_means_absent(cls, data: Any) -> Any:
        """A cleared form field arrives as ``""``: store it as not given rather than as an empty value."""
        if isinstance(data, dict):
            return {key: None if isinstance(value, str) and not value.strip() else value for key, value in data.items()}
        return data
