"""The logger itself redacts: nothing secret reaches the output, whatever the caller logs."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator

import jwt
import pytest

from lib.logs import (
    REDACTED,
    LogContext,
    configure_logging,
    get_logger,
    log_context,
    redact,
    redact_text,
    register_secret,
)

A_JWT = jwt.encode(
    {"sub": "0b0c5d8e-1111-4222-8333-944445555666", "role": "authenticated", "exp": 4102444800},
    "a-signing-secret-long-enough-for-hs256-tokens",
    algorithm="HS256",
)
WEBHOOK_HEADER = hashlib.sha256(b"localhook:super-webhook-password").hexdigest()
API_SECRET = "re_live_9f8e7d6c5b4a39281706"
DSN_PASSWORD = "pg-pass-5b7c9d"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream, force=True)
    yield stream
    configure_logging("INFO", force=True)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_secrets_never_reach_the_output(captured: io.StringIO) -> None:
    register_secret(API_SECRET)
    log = get_logger("test.redaction", user_id="u-1")
    log.warning(
        "verifying webhook Authorization: %s with token %s and Bearer %s",
        WEBHOOK_HEADER,
        A_JWT,
        A_JWT,
        extra={
            "headers": {
                "Authorization": WEBHOOK_HEADER,
                "X-VERIFY": "abcdef0123456789###1",
                "Cookie": "sb-access-token=" + A_JWT,
                "Idempotency-Key": "order-key-1",
            },
            "nested": {"deeper": [{"access_token": A_JWT}, {"note": f"sent O-Bearer {A_JWT}"}]},
            "config": {"client_secret": "phonepe-client-secret-value", "resend_api_key": API_SECRET},
            "dsn": f"postgresql://postgres:{DSN_PASSWORD}@127.0.0.1:5432/postgres",
            "free_text": f"the key is {API_SECRET} ok",
            "password": "hunter2hunter2",
        },
    )
    out = captured.getvalue()
    for secret in (
        A_JWT,
        WEBHOOK_HEADER,
        "abcdef0123456789###1",
        "phonepe-client-secret-value",
        API_SECRET,
        DSN_PASSWORD,
        "hunter2hunter2",
    ):
        assert secret not in out, secret
    (entry,) = lines(captured)
    assert entry["headers"]["Authorization"] == REDACTED  # type: ignore[index]
    # Useful, non-secret values survive.
    assert entry["headers"]["Idempotency-Key"] == "order-key-1"  # type: ignore[index]
    assert entry["user_id"] == "u-1"
    assert entry["severity"] == "WARNING"
    assert "Bearer [REDACTED]" in str(entry["message"])


def test_entry_carries_cloud_logging_fields_and_request_context(captured: io.StringIO) -> None:
    ctx = LogContext(
        request_id="req-12345678",
        function="payment_status",
        trace="projects/p/traces/abc",
        span_id="42",
        trace_sampled=True,
    )
    with log_context(ctx):
        logging.getLogger("test.ctx").info("hello %s", "world", extra={"order": "ORD_1"})
    logging.getLogger("test.ctx").info("outside")
    first, second = lines(captured)
    assert first["message"] == "hello world"
    assert first["severity"] == "INFO"
    assert first["logging.googleapis.com/trace"] == "projects/p/traces/abc"
    assert first["logging.googleapis.com/spanId"] == "42"
    assert first["logging.googleapis.com/trace_sampled"] is True
    assert first["request_id"] == "req-12345678"
    assert first["function"] == "payment_status"
    assert first["order"] == "ORD_1"
    assert str(first["time"]).endswith("+00:00")
    assert "request_id" not in second
    assert "logging.googleapis.com/trace" not in second


def test_exception_stack_is_logged_but_redacted(captured: io.StringIO) -> None:
    try:
        raise ValueError(f"bad token {A_JWT}")
    except ValueError:
        logging.getLogger("test.exc").exception("failed")
    (entry,) = lines(captured)
    assert entry["severity"] == "ERROR"
    assert "Traceback" in str(entry["message"])
    assert "ValueError" in str(entry["message"])
    assert A_JWT not in captured.getvalue()


def test_redact_handles_structures_and_depth() -> None:
    deep: dict[str, object] = {"v": "x"}
    for _ in range(30):
        deep = {"d": deep}
    out = redact({"list": [A_JWT, ("Bearer abc.def",)], "n": 3, "ok": True, "none": None, "deep": deep, "b": b"hi"})
    assert out["list"] == [REDACTED, ["Bearer [REDACTED]"]]
    assert out["n"] == 3
    assert out["ok"] is True
    assert out["none"] is None
    assert out["b"] == "hi"
    assert "[TRUNCATED]" in json.dumps(out)


def test_redact_text_inline_key_values_and_dsn() -> None:
    assert redact_text("password=abc123 next") == f"password={REDACTED} next"
    assert redact_text('{"x-verify": "sig###1"}') == f'{{"x-verify": "{REDACTED}"}}'
    assert redact_text("redis://:pw@host:6379/0") == f"redis://:{REDACTED}@host:6379/0"
    # Ordinary text is left alone.
    assert redact_text("token_count=1200 checksum=ab12") == "token_count=1200 checksum=ab12"


def test_configure_is_once_unless_forced() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream, force=True)
    other = io.StringIO()
    configure_logging("INFO", stream=other)  # ignored: already configured
    logging.getLogger("test.once").info("one")
    assert "one" in stream.getvalue()
    assert other.getvalue() == ""
    configure_logging("INFO", force=True)
