"""Resend behind ``Mailer``, through the official ``resend`` SDK.

The SDK keeps its configuration in module globals (``resend.api_key``,
``resend.api_url``, ``resend.default_http_client``); they are set on the first
send, never at import.  Our own HTTP client (the SDK's documented extension
point) adds connect/read timeouts and a pooled ``requests.Session``.  Every
send carries an ``Idempotency-Key`` (``payment-confirmed/<outbox id>``), so a
retry after a timeout whose first attempt did arrive sends nothing twice.
Retryable failures (timeouts, 429, 5xx) are retried here with exponential
backoff (tenacity); what is left is raised as ``Unavailable`` (the outbox
backs off) or ``Rejected`` (the outbox gives up).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import requests
import resend
from resend.exceptions import ResendError
from resend.http_client import HTTPClient
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from lib.errors import AdapterError, Rejected, Unavailable
from lib.services.payments.ports import EmailMessage

SERVICE = "resend"
# Attempts per send inside one request (the outbox retries later beyond these).
SEND_ATTEMPTS = 3
# Backoff between attempts: 0.2 s doubling, at most 2 s (keeps a webhook's answer fast).
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 2.0
# Resend statuses worth retrying: rate limited, idempotent request still in flight, server errors.
_RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


class _TimeoutClient(HTTPClient):
    """The SDK's HTTP client seam with (connect, read) timeouts and connection reuse."""

    def __init__(self, connect_timeout_s: float, read_timeout_s: float) -> None:
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._session = requests.Session()

    def request(  # noqa: PLR0917 - the SDK's abstract signature
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: dict[str, object] | list[object] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        resp = self._session.request(
            method=method, url=url, headers=dict(headers), json=json, files=files, data=data, timeout=self._timeout
        )
        return resp.content, resp.status_code, resp.headers


def _status(exc: ResendError) -> int:
    try:
        return int(exc.code)
    except (TypeError, ValueError):
        return 500


def translate(exc: Exception) -> AdapterError:
    """ResendError -> Unavailable (timeouts, 429, 5xx) or Rejected (bad request, bad key)."""
    if isinstance(exc, ResendError):
        status = _status(exc)
        kind = getattr(exc, "error_type", "")
        if status in _RETRYABLE_STATUSES or kind == "HttpClientError":
            return Unavailable(f"resend {status} {kind}", service=SERVICE, status=status)
        return Rejected(f"resend {status} {kind}", service=SERVICE, status=status)
    return Unavailable(f"resend call failed: {type(exc).__name__}", service=SERVICE)


class ResendMailer:
    """``Mailer`` on Resend.  One instance per process (the SDK's settings are global)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        sender: str,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        attempts: int = SEND_ATTEMPTS,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._sender = sender
        self._client = _TimeoutClient(connect_timeout_s, read_timeout_s)
        self._attempts = attempts
        self._lock = threading.Lock()

    def _configure(self) -> None:
        with self._lock:
            resend.api_key = self._api_key
            resend.api_url = self._base_url
            resend.default_http_client = self._client

    def _send_once(self, message: EmailMessage) -> str:
        params: resend.Emails.SendParams = {
            "from": message.sender or self._sender,
            "to": [message.to],
            "subject": message.subject,
            "html": message.html,
            "text": message.text,
        }
        options: resend.Emails.SendOptions = {"idempotency_key": message.idempotency_key}
        try:
            sent = resend.Emails.send(params, options)
        except Exception as exc:  # the SDK raises ResendError and, for odd bodies, others
            raise translate(exc) from exc
        return str(sent["id"])

    def send(self, message: EmailMessage) -> str:
        self._configure()
        retrying = retry(
            retry=retry_if_exception(lambda e: isinstance(e, AdapterError) and e.retryable),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=BACKOFF_MIN_S, max=BACKOFF_MAX_S),
            reraise=True,
        )
        return retrying(self._send_once)(message)


__all__ = ["ResendMailer", "translate"]
