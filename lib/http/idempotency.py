"""``Idempotency-Key`` for POSTs that create something, stored in Postgres for 24 h.

The first request with a key claims it (``in_flight``), runs, and stores its
status and body; a retry with the same key and the same request gets that
response again (``Idempotent-Replayed: true``) without running twice.  The
key is bound to a hash of method, path, query and canonical JSON body, so
reusing it for a different request is a client bug (422).  A 5xx outcome
releases the key: the failure was ours and the retry must be able to run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from lib.errors import BadRequest, Conflict, Unprocessable
from lib.ports import Database

# How long a key and its stored response live (the usual 24 h of payment APIs).
IDEMPOTENCY_TTL_S = 24 * 3600
# An in-flight claim older than this belongs to a crashed instance and may be taken over
# (longer than any function's timeout, so a live request is never raced).
IN_FLIGHT_LEASE_S = 600
# What a 409 ``idempotency_in_flight`` tells the client to wait before retrying.
IN_FLIGHT_RETRY_AFTER_S = 2
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY_RE = re.compile(r"^[\x20-\x7e]{1,255}$")
# Response headers that belong to one delivery, not to the stored outcome.
_VOLATILE_HEADERS = frozenset(
    {"content-length", "date", "x-request-id", "set-cookie", "retry-after", REPLAYED_HEADER.lower()}
)


def validate_key(key: str) -> str:
    if not _KEY_RE.match(key):
        raise BadRequest("Idempotency-Key must be 1-255 printable ASCII characters.", code="idempotency_key_invalid")
    return key


def _canonical_body(body: bytes) -> bytes:
    """JSON bodies hash by meaning (key order and spacing ignored); anything else by bytes."""
    if not body.strip():
        return b""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return body
    # surrogatepass: a lone surrogate hashes like any other text (the handler then refuses it with a 422).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def request_fingerprint(method: str, path: str, query: Mapping[str, list[str]], body: bytes) -> str:
    """sha256 over method, path, sorted query and canonical body."""
    digest = hashlib.sha256()
    digest.update(method.upper().encode())
    digest.update(b"\n")
    digest.update(path.encode())
    digest.update(b"\n")
    digest.update(json.dumps(sorted((k, sorted(v)) for k, v in query.items())).encode())
    digest.update(b"\n")
    digest.update(_canonical_body(body))
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any  # the JSON body, or the text of a non-JSON body
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
        return {
            k: v
            for k, v in headers.items()
            if k.lower() not in _VOLATILE_HEADERS and not k.lower().startswith("ratelimit-")
        }


class IdempotencyStore(Protocol):
    def begin(self, user_id: str, scope: str, key: str, request_hash: str) -> StoredResponse | None:
        """Claim the key: ``None`` means run the handler; a ``StoredResponse`` means replay it.

        Raises ``Unprocessable(code="idempotency_key_reused")`` for another request under
        the same key and ``Conflict(code="idempotency_in_flight")`` while the first still runs."""
        ...

    def complete(self, user_id: str, scope: str, key: str, response: StoredResponse) -> None: ...

    def release(self, user_id: str, scope: str, key: str) -> None: ...


def key_reused() -> Unprocessable:
    return Unprocessable(
        "This Idempotency-Key was already used for a different request.", code="idempotency_key_reused"
    )


def in_flight() -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still being processed.",
        code="idempotency_in_flight",
        headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER_S)},
    )


# A claim can lose two races (the row released or expired between statements); beyond that, give up.
_CLAIM_ATTEMPTS = 3


class PostgresIdempotencyStore:
    """``idempotency_keys`` rows: ``in_flight`` while running, then ``completed`` with the response."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def begin(self, user_id: str, scope: str, key: str, request_hash: str) -> StoredResponse | None:
        ident = (user_id, scope, key)
        for _ in range(_CLAIM_ATTEMPTS):
            with self._db.transaction() as conn:
                # Expired keys are absent: clear this one so the insert can claim it.
                conn.execute(
                    "delete from public.idempotency_keys"
                    " where user_id = %s and scope = %s and key = %s and expires_at <= now()",
                    ident,
                )
                claimed = conn.execute(
                    "insert into public.idempotency_keys (user_id, scope, key, request_hash, status, expires_at)"
                    " values (%s, %s, %s, %s, 'in_flight', now() + make_interval(secs => %s))"
                    " on conflict do nothing returning key",
                    (*ident, request_hash, IDEMPOTENCY_TTL_S),
                ).fetchone()
                if claimed:
                    return None
                row = conn.execute(
                    "select request_hash, status, response_status, response_body, response_headers,"
                    " created_at < now() - make_interval(secs => %s) as stale"
                    " from public.idempotency_keys where user_id = %s and scope = %s and key = %s for update",
                    (IN_FLIGHT_LEASE_S, *ident),
                ).fetchone()
                if row is None:
                    continue  # released between our insert and select: try to claim again
                if row["request_hash"] != request_hash:
                    raise key_reused()
                if row["status"] == "completed":
                    return StoredResponse(
                        int(row["response_status"]), row["response_body"], dict(row["response_headers"] or {})
                    )
                if row["stale"]:
                    conn.execute(
                        "update public.idempotency_keys set created_at = now()"
                        " where user_id = %s and scope = %s and key = %s",
                        ident,
                    )
                    return None
                raise in_flight()
        raise in_flight()

    def complete(self, user_id: str, scope: str, key: str, response: StoredResponse) -> None:
        from psycopg.types.json import Jsonb

        with self._db.connection() as conn:
            conn.execute(
                "update public.idempotency_keys set status = 'completed', response_status = %s,"
                " response_body = %s, response_headers = %s"
                " where user_id = %s and scope = %s and key = %s and status = 'in_flight'",
                (response.status, Jsonb(response.body), Jsonb(response.headers), user_id, scope, key),
            )

    def release(self, user_id: str, scope: str, key: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "delete from public.idempotency_keys"
                " where user_id = %s and scope = %s and key = %s and status = 'in_flight'",
                (user_id, scope, key),
            )
