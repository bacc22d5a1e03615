"""A local mail catcher that speaks enough of Resend's HTTP API for the real ``resend`` SDK.

How the SDK is pointed here (resend 2.x, ``resend/request.py``): every call
goes to ``f"{resend.api_url}{path}"`` with ``path="/emails"`` for
``resend.Emails.send``; ``resend.api_url`` is a module attribute read from the
``RESEND_API_URL`` environment variable when ``resend`` is first imported
(default ``https://api.resend.com``), and ``resend.api_key`` is sent as
``Authorization: Bearer <key>``.  Our adapter sets ``resend.api_url`` from
``Settings.resend_base_url`` (``RESEND_BASE_URL``), which the dev server points
at ``http://127.0.0.1:8080/_dev/resend``.  ``SendOptions(idempotency_key=...)``
becomes the ``Idempotency-Key`` header.  The SDK treats any status other than
200 (or a non-JSON body) as an error, so success is ``200 {"id": ...}``.

Served routes (one app, mounted at ``/_dev/resend`` and ``/_dev/mail``):

- ``POST /emails`` (Bearer key required): validates ``from``, ``to``,
  ``subject`` and ``html``/``text``; honours ``Idempotency-Key`` as Resend does
  (same key and body -> the same id and no second message; same key with a
  different body -> 409 ``invalid_idempotent_request``; keys live 24 h).
- ``GET /emails/<id>``: one message, Resend's retrieve shape.
- ``GET /``: every caught message, newest first (``?to=`` filters).
- ``DELETE /``: forget everything (tests).
- ``POST /fail-next?count=N&mode=500|timeout&seconds=S``: the next N sends
  fail with a 500, or hang ``S`` seconds and then answer 504, for failure tests.

Errors use Resend's body ``{statusCode, name, message}``.  Messages are kept in
memory and, for ``make dev``, in a JSON file so they survive restarts.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

# Resend keeps idempotency keys for 24 hours.
IDEMPOTENCY_TTL_S = 24 * 3600
# Resend refuses longer idempotency keys.
MAX_IDEMPOTENCY_KEY_LEN = 256
# Resend accepts at most 50 recipients per message.
MAX_RECIPIENTS = 50
# Messages kept (oldest dropped first): a dev inbox, not an archive.
MAX_MESSAGES = 500
# What ``mode=timeout`` hangs for when no ``seconds`` is given: longer than the adapter's timeout.
DEFAULT_HANG_S = 15.0
FAIL_MODES = frozenset({"500", "timeout"})


@dataclass
class CaughtMessage:
    id: str
    from_: str
    to: list[str]
    subject: str
    html: str | None
    text: str | None
    created_at: float
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    idempotency_key: str | None = None
    api_key_hint: str = ""  # the last 4 characters: which key sent it, never the key

    def view(self) -> dict[str, Any]:
        out = asdict(self)
        out["from"] = out.pop("from_")
        out["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at))
        return out


@dataclass
class _Failure:
    mode: str
    seconds: float


class ResendError(Exception):
    """A Resend-shaped error answer."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message


def _as_list(value: Any, path: str, *, required: bool = False) -> list[str]:
    if value is None or value == []:
        if required:
            raise ResendError(422, "missing_required_field", f"The `{path}` field is missing.")
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and "@" in v for v in items):
        raise ResendError(422, "validation_error", f"Invalid `{path}` field.")
    return list(items)


def _fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class MailCatcher:
    """The mail store and its WSGI app (``wsgi_app``)."""

    def __init__(self, *, store_path: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self._path = store_path
        self._clock = clock
        self._lock = threading.Lock()
        self._messages: list[CaughtMessage] = []
        self._idempotency: dict[str, tuple[str, str, float]] = {}  # key -> (fingerprint, id, expires)
        self._failures: list[_Failure] = []
        self._load()
        self._urls = Map(
            [
                Rule("/", endpoint="index", methods=["GET", "DELETE"]),
                Rule("/emails", endpoint="send", methods=["POST"]),
                Rule("/emails/<message_id>", endpoint="get", methods=["GET"]),
                Rule("/fail-next", endpoint="fail_next", methods=["POST"]),
            ],
            strict_slashes=False,
        )

    # --- the Python API (tests, the console) --------------------------------------------
    def messages(self, to: str | None = None) -> list[CaughtMessage]:
        """Caught messages, newest first; ``to`` keeps those addressed to it."""
        with self._lock:
            found = list(reversed(self._messages))
        if to:
            found = [m for m in found if to.lower() in (a.lower() for a in [*m.to, *m.cc, *m.bcc])]
        return found

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._idempotency.clear()
            self._failures.clear()
            self._persist()

    def fail_next(self, count: int = 1, mode: str = "500", seconds: float = DEFAULT_HANG_S) -> None:
        if mode not in FAIL_MODES:
            raise ValueError(f"mode must be one of {sorted(FAIL_MODES)}")
        with self._lock:
            self._failures.extend(_Failure(mode, seconds) for _ in range(max(0, count)))

    def send(self, body: dict[str, Any], *, api_key: str, idempotency_key: str | None = None) -> tuple[str, bool]:
        """Catch one message; returns ``(id, created)`` (False for an idempotent replay)."""
        sender = body.get("from")
        if not isinstance(sender, str) or not sender.strip():
            raise ResendError(422, "missing_required_field", "The `from` field is missing.")
        subject = body.get("subject")
        if not isinstance(subject, str) or not subject:
            raise ResendError(422, "missing_required_field", "The `subject` field is missing.")
        html, text = body.get("html"), body.get("text")
        if not (isinstance(html, str) and html) and not (isinstance(text, str) and text) and not body.get("react"):
            raise ResendError(422, "missing_required_field", "Missing `html` or `text` field.")
        to = _as_list(body.get("to"), "to", required=True)
        if len(to) > MAX_RECIPIENTS:
            raise ResendError(422, "validation_error", f"Too many recipients: at most {MAX_RECIPIENTS}.")
        now = self._clock()
        fingerprint = _fingerprint(body)
        with self._lock:
            if idempotency_key is not None:
                self._idempotency = {k: v for k, v in self._idempotency.items() if v[2] > now}
                seen = self._idempotency.get(idempotency_key)
                if seen is not None:
                    if seen[0] != fingerprint:
                        raise ResendError(
                            409,
                            "invalid_idempotent_request",
                            "Same idempotency key used with a different request payload. Change your "
                            "idempotency key or payload.",
                        )
                    return seen[1], False
            message = CaughtMessage(
                id=str(uuid.uuid4()),
                from_=sender,
                to=to,
                subject=subject,
                html=html if isinstance(html, str) else None,
                text=text if isinstance(text, str) else None,
                created_at=now,
                cc=_as_list(body.get("cc"), "cc"),
                bcc=_as_list(body.get("bcc"), "bcc"),
                reply_to=_as_list(body.get("reply_to"), "reply_to"),
                headers={str(k): str(v) for k, v in dict(body.get("headers") or {}).items()},
                tags=[dict(t) for t in body.get("tags") or [] if isinstance(t, dict)],
                idempotency_key=idempotency_key,
                api_key_hint=api_key[-4:],
            )
            self._messages.append(message)
            del self._messages[:-MAX_MESSAGES]
            if idempotency_key is not None:
                self._idempotency[idempotency_key] = (fingerprint, message.id, now + IDEMPOTENCY_TTL_S)
            self._persist()
            return message.id, True

    # --- WSGI ------------------------------------------------------------------------------
    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, args = self._urls.bind_to_environ(environ).match()
            handler: Callable[..., Response] = getattr(self, f"_on_{endpoint}")
            response = handler(request, **args)
        except ResendError as exc:
            response = _error(exc)
        except MethodNotAllowed:
            response = _error(ResendError(405, "method_not_allowed", "Method is not allowed for the requested path."))
        except NotFound:
            response = _error(ResendError(404, "not_found", "The requested endpoint does not exist."))
        except HTTPException as exc:
            response = _error(ResendError(exc.code or 400, "validation_error", exc.description or "Bad request."))
        return response(environ, start_response)

    __call__ = wsgi_app

    def _on_index(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear()
            return _json({"deleted": True}, 200)
        messages = self.messages(request.args.get("to"))
        return _json({"object": "list", "count": len(messages), "data": [m.view() for m in messages]}, 200)

    def _on_get(self, request: Request, message_id: str) -> Response:
        for message in self.messages():
            if message.id == message_id:
                return _json({"object": "email", **message.view(), "last_event": "delivered"}, 200)
        raise ResendError(404, "not_found", "Email not found.")

    def _on_fail_next(self, request: Request) -> Response:
        try:
            count = int(request.args.get("count", "1"))
            seconds = float(request.args.get("seconds", str(DEFAULT_HANG_S)))
            self.fail_next(count, request.args.get("mode", "500"), seconds)
        except ValueError as exc:
            raise ResendError(422, "validation_error", str(exc)) from exc
        return _json({"failing_next": count}, 200)

    def _on_send(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
            raise ResendError(401, "missing_api_key", "Missing API key in the authorization header.")
        failure = self._take_failure()
        if failure is not None:
            if failure.mode == "timeout":
                time.sleep(failure.seconds)
                raise ResendError(504, "gateway_timeout", "Injected timeout (mail catcher).")
            raise ResendError(500, "internal_server_error", "Injected failure (mail catcher).")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ResendError(422, "validation_error", "The request body must be a JSON object.")
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY_LEN):
            raise ResendError(
                422, "invalid_idempotency_key", f"Idempotency key must be 1-{MAX_IDEMPOTENCY_KEY_LEN} characters."
            )
        message_id, _created = self.send(body, api_key=auth[len("Bearer ") :].strip(), idempotency_key=key)
        return _json({"id": message_id}, 200)

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    # --- persistence -------------------------------------------------------------------------
    def _persist(self) -> None:
        """Called with the lock held."""
        if self._path is None:
            return
        data = {
            "messages": [asdict(m) for m in self._messages],
            "idempotency": {k: list(v) for k, v in self._idempotency.items()},
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self._path)

    def _load(self) -> None:
        if self._path is None or not self._path.exists():
            return
        try:
            data = json.loads(self._path.read_text())
            self._messages = [CaughtMessage(**m) for m in data.get("messages", [])]
            self._idempotency = {k: (str(v[0]), str(v[1]), float(v[2])) for k, v in data.get("idempotency", {}).items()}
        except (ValueError, TypeError, KeyError, IndexError):
            self._messages, self._idempotency = [], {}  # an unreadable dev inbox starts empty


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(exc: ResendError) -> Response:
    return _json({"statusCode": exc.status, "name": exc.name, "message": exc.message}, exc.status)
