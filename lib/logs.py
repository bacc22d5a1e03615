"""Structured JSON logs that Cloud Logging understands, with redaction built in.

Cloud Functions ship every stdout line to Cloud Logging; a JSON line with
``severity``, ``message`` and ``logging.googleapis.com/trace`` becomes a
structured entry grouped under the request's trace.  Redaction happens here,
in the formatter, so no caller can forget it: secret-looking keys, JWTs,
Bearer tokens, DSN passwords and registered secret values never reach the
output, however deeply they are nested in ``extra`` or spelled in a message.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

REDACTED = "[REDACTED]"
# Nested structures deeper than this are cut off: logs never recurse forever on cycles.
MAX_REDACT_DEPTH = 12
# Registered secret values shorter than this are not scrubbed (they would mangle ordinary words).
MIN_SECRET_LEN = 6

# Keys whose values are credentials, compared after lower-casing and turning '-' into '_'.
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "jwt",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "api_key",
        "apikey",
        "x_api_key",
        "x_verify",
        "private_key",
        "credentials",
        "database_url",
        "redis_url",
    }
)
# ...and keys ending like these (``supabase_jwt_secret``, ``phonepe_client_secret``);
# not ``_key`` alone, so ``idempotency_key``/``event_key`` stay visible for debugging.
SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_api_key", "_private_key", "_authorization")

_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER_RE = re.compile(r"\b((?:O-)?Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# "authorization: X", "password=X", "'x-verify': 'X'" inside free text.
_INLINE_KV_RE = re.compile(
    r"""(?ix)
    \b(authorization|x[-_]verify|password|passwd|secret|client[-_]secret|api[-_]?key|access[-_]token|cookie)
    (["']?\s*[:=]\s*["']?)
    (?!\[REDACTED\])([^\s"',;}]+)
    """
)
_DSN_PASSWORD_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)", re.IGNORECASE)

# LogRecord attributes that are not "extra" fields.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


class _SecretRegistry:
    """Exact secret values (from Settings) scrubbed from every line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def add(self, *values: str | None) -> None:
        with self._lock:
            new = {v for v in values if v and len(v) >= MIN_SECRET_LEN}
            # Longest first, so a secret containing another is scrubbed whole.
            self._values = tuple(sorted(set(self._values) | new, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text


_SECRETS = _SecretRegistry()


def register_secret(*values: str | None) -> None:
    """Scrub these exact values from every log line (bootstrap passes Settings' secrets)."""
    _SECRETS.add(*values)


def is_sensitive_key(key: str) -> bool:
    norm = key.lower().replace("-", "_")
    return norm in SENSITIVE_KEYS or norm.endswith(SENSITIVE_SUFFIXES)


def redact_text(text: str) -> str:
    """Remove tokens and credentials from free text."""
    text = _SECRETS.scrub(text)
    text = _JWT_RE.sub(REDACTED, text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _INLINE_KV_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _DSN_PASSWORD_RE.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` safe to log: recursive over mappings, lists and tuples."""
    if _depth > MAX_REDACT_DEPTH:
        return "[TRUNCATED]"
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): (REDACTED if is_sensitive_key(str(k)) else redact(v, _depth + 1)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", errors="replace"))
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


@dataclass(frozen=True)
class LogContext:
    """Per-request fields every line carries (set by the router, read by the formatter)."""

    request_id: str | None = None
    function: str | None = None
    trace: str | None = None  # "projects/<project>/traces/<trace id>"
    span_id: str | None = None
    trace_sampled: bool | None = None


_EMPTY_CONTEXT = LogContext()
_CONTEXT: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar("bcm_log_context", default=None)


def current_context() -> LogContext:
    return _CONTEXT.get() or _EMPTY_CONTEXT


@contextmanager
def log_context(ctx: LogContext) -> Iterator[LogContext]:
    """Bind ``ctx`` to every line logged inside the block (thread- and task-local)."""
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)


_LEVEL_TO_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


class CloudJsonFormatter(logging.Formatter):
    """One JSON object per line in Cloud Logging's structured format, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = current_context()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg!r} % {record.args!r}"
        if record.exc_info:
            # Error Reporting picks the stack trace out of the message.
            message = f"{message}\n{''.join(traceback.format_exception(*record.exc_info))}"
        elif record.stack_info:
            message = f"{message}\n{record.stack_info}"
        entry: dict[str, Any] = {
            "severity": _LEVEL_TO_SEVERITY.get(record.levelno, record.levelname),
            "message": message,
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="microseconds"),
            "logger": record.name,
            "logging.googleapis.com/sourceLocation": {
                "file": record.pathname,
                "line": record.lineno,
                "function": record.funcName,
            },
        }
        if ctx.trace:
            entry["logging.googleapis.com/trace"] = ctx.trace
        if ctx.span_id:
            entry["logging.googleapis.com/spanId"] = ctx.span_id
        if ctx.trace_sampled is not None:
            entry["logging.googleapis.com/trace_sampled"] = ctx.trace_sampled
        if ctx.request_id:
            entry["request_id"] = ctx.request_id
        if ctx.function:
            entry["function"] = ctx.function
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = REDACTED if is_sensitive_key(key) else value
        return json.dumps(redact(entry), default=str, ensure_ascii=False)


class BoundLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger carrying fixed fields (user id, route) merged into each line's ``extra``."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs

    def bind(self, **fields: Any) -> BoundLogger:
        return BoundLogger(self.logger, {**(self.extra or {}), **fields})


def get_logger(name: str, **fields: Any) -> BoundLogger:
    return BoundLogger(logging.getLogger(name), fields)


_configured_lock = threading.Lock()
_handler: logging.Handler | None = None


def configure_logging(level: str | int = "INFO", *, stream: IO[str] | None = None, force: bool = False) -> None:
    """Send every log line through the JSON formatter; once per process unless ``force``.

    Cold starts call this from the composition root; tests pass ``stream`` and
    ``force=True`` to capture output.
    """
    global _handler  # noqa: PLW0603 - logging is process-global by nature; this guards one-time setup
    with _configured_lock:
        if _handler is not None and not force:
            return
        root = logging.getLogger()
        if _handler is not None:
            root.removeHandler(_handler)
        handler = logging.StreamHandler(stream or sys.stdout)
        handler.setFormatter(CloudJsonFormatter())
        root.addHandler(handler)
        root.setLevel(level if isinstance(level, int) else level.upper())
        _handler = handler
