"""Request text, accepted in one place.

Every string that reaches a handler (JSON body keys and values, path
parameters, query parameters) is checked against ``lib.domain.text``: NUL and
lone surrogates are a 422 naming the field.  Counts in headers are parsed
strictly (ASCII digits), as ``lib.domain.numbers`` parses query numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.domain.numbers import ASCII_DIGITS
from lib.domain.text import WHY, unstorable_path
from lib.errors import FieldError, Unprocessable


def reject_unstorable(value: Any) -> None:
    """422 naming the first key or string that Postgres could not store (``validation_failed``)."""
    path = unstorable_path(value)
    if path is not None:
        raise Unprocessable(f"{path} contains characters that cannot be stored.", errors=[FieldError(path, WHY)])


def reject_unstorable_params(path_args: Mapping[str, Any], query: Mapping[str, list[str]]) -> None:
    """The path parameters and the query parameters, each named as sent (keys and values)."""
    reject_unstorable({k: v for k, v in path_args.items() if isinstance(v, str)})
    reject_unstorable({name: values[0] if len(values) == 1 else values for name, values in query.items()})


def count_header(raw: str | None) -> int:
    """A non-negative count sent by infrastructure (``X-CloudTasks-TaskRetryCount``); 0 when unreadable."""
    return int(raw) if raw is not None and ASCII_DIGITS.fullmatch(raw) else 0
