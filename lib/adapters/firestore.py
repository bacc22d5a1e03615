"""``Documents`` on Cloud Firestore (google-cloud-firestore).

Holds the hot onboarding drafts.  Every call carries a short timeout and a
bounded retry, so a stopped emulator or an outage surfaces as ``Unavailable``
in seconds instead of the SDK's default minute-long retry.  ``update_if`` is a
Firestore transaction: read, compare the expected paths, update; contention
(``Aborted``) is retried by the SDK and then reported as retryable.

The client is built lazily on first use.  With an emulator host (argument or
the ``FIRESTORE_EMULATOR_HOST`` the SDK reads itself) it uses anonymous
credentials and an insecure channel; no Google endpoint is contacted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.auth import exceptions as auth_exc

from lib.adapters.dotted import apply_updates, first_mismatch, normalize_operator
from lib.errors import AlreadyExists, Missing, Rejected, Unavailable

SERVICE = "firestore"
# One RPC may take this long before it is abandoned (drafts are small docs).
CALL_TIMEOUT_S = 5.0
# Transient errors are retried with backoff for at most this long in total.
RETRY_BUDGET_S = 5.0
# Contended transactions are re-run this many times before giving up.
TRANSACTION_ATTEMPTS = 5
_PING_COLLECTION = "_health"


class FirestoreDocuments:
    """``lib.ports.Documents`` over Firestore; errors translated to ``lib.errors``."""

    def __init__(
        self,
        project: str,
        database: str = "(default)",
        *,
        emulator_host: str | None = None,
        timeout_s: float = CALL_TIMEOUT_S,
        retry_budget_s: float = RETRY_BUDGET_S,
        client: Any | None = None,
    ) -> None:
        self._project = project
        self._timeout = timeout_s
        self._retry = gretry.Retry(
            predicate=gretry.if_transient_error, initial=0.1, maximum=1.0, multiplier=2.0, timeout=retry_budget_s
        )
        self._database = database
        self._emulator_host = emulator_host
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The shared ``firestore.Client``, created on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def _build_client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import firestore

        if self._emulator_host:
            client = firestore.Client(
                project=self._project,
                database=self._database,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            )
            # The SDK only reads the host from the environment; setting it here
            # (before the first RPC builds the channel) makes the argument win.
            client._emulator_host = self._emulator_host
            return client
        with _translated():
            return firestore.Client(project=self._project, database=self._database)

    def _doc(self, collection: str, doc_id: str) -> Any:
        return self.client.collection(collection).document(doc_id)

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        with _translated():
            snap = self._doc(collection, doc_id).get(retry=self._retry, timeout=self._timeout)
        return dict(snap.to_dict() or {}) if snap.exists else None

    def set(self, collection: str, doc_id: str, data: Mapping[str, Any], *, merge: bool = False) -> None:
        with _translated():
            self._doc(collection, doc_id).set(dict(data), merge=merge, retry=self._retry, timeout=self._timeout)

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        with _translated():
            self._doc(collection, doc_id).create(dict(data), retry=self._retry, timeout=self._timeout)

    def update_if(
        self,
        collection: str,
        doc_id: str,
        updates: Mapping[str, Any],
        *,
        expect: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        from google.cloud import firestore

        ref = self._doc(collection, doc_id)

        @firestore.transactional
        def apply(txn: Any) -> dict[str, Any]:
            snap = ref.get(transaction=txn, timeout=self._timeout)
            if not snap.exists:
                raise Missing(f"{collection}/{doc_id} not found", SERVICE)
            current = snap.to_dict() or {}
            bad = first_mismatch(current, expect or {})
            if bad is not None:
                raise Rejected(f"{collection}/{doc_id}: {bad} changed", SERVICE, path=bad)
            txn.update(ref, dict(updates))
            return apply_updates(current, updates)

        with _translated():
            result: dict[str, Any] = apply(self.client.transaction(max_attempts=TRANSACTION_ATTEMPTS))
        return result

    def delete(self, collection: str, doc_id: str) -> None:
        with _translated():
            self._doc(collection, doc_id).delete(retry=self._retry, timeout=self._timeout)

    def query(
        self, collection: str, *, where: list[tuple[str, str, Any]], limit: int = 100
    ) -> list[tuple[str, dict[str, Any]]]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        q = self.client.collection(collection)
        for field_path, op, value in where:
            name = normalize_operator(op)
            if name is None:
                raise Rejected(f"unsupported operator {op!r}", SERVICE)
            q = q.where(filter=FieldFilter(field_path, name, value))
        with _translated():
            snaps = list(q.limit(limit).stream(retry=self._retry, timeout=self._timeout))
        return [(s.id, dict(s.to_dict() or {})) for s in snaps]

    def ping(self) -> None:
        """A read of a document that need not exist: proves reachability and auth."""
        with _translated():
            self._doc(_PING_COLLECTION, "ping").get(retry=self._retry, timeout=self._timeout)


@contextmanager
def _translated() -> Iterator[None]:
    """google.api_core exceptions -> ``lib.errors`` (order matters: ``Aborted``
    and ``AlreadyExists`` both subclass ``Conflict``)."""
    try:
        yield
    except gexc.NotFound as exc:
        raise Missing(exc.message or "not found", SERVICE) from exc
    except (gexc.Aborted, gexc.FailedPrecondition) as exc:
        raise Unavailable(exc.message or "contention", SERVICE) from exc
    except (gexc.AlreadyExists, gexc.Conflict) as exc:
        raise AlreadyExists(exc.message or "already exists", SERVICE) from exc
    except (
        gexc.ServiceUnavailable,
        gexc.DeadlineExceeded,
        gexc.InternalServerError,
        gexc.ResourceExhausted,
        gexc.Unknown,
        gexc.Cancelled,
    ) as exc:
        raise Unavailable(exc.message or type(exc).__name__, SERVICE) from exc
    except gexc.RetryError as exc:
        raise Unavailable(f"gave up retrying: {exc.cause or exc.message}", SERVICE) from exc
    except gexc.GoogleAPICallError as exc:
        raise Rejected(exc.message or type(exc).__name__, SERVICE) from exc
    except auth_exc.GoogleAuthError as exc:
        raise Unavailable(f"credentials: {exc}", SERVICE) from exc
