"""``Documents`` on Cloud Firestore (google-cloud-firestore).

Holds the hot onboarding drafts.  Every RPC carries a short timeout and a
bounded retry, so a stopped emulator or an outage surfaces as ``Unavailable``
in seconds instead of the SDK's default minute-long retry.  That includes the
transaction's own BeginTransaction / Commit / Rollback, which the SDK sends
without any retry or timeout argument (so with the GAPIC default of one
minute): ``_BoundedTransaction`` passes ours.

``update_if`` is a Firestore transaction: read, compare the expected paths,
update (three RPCs); contention (``Aborted``) is retried by the SDK and then
reported as retryable.  ``update_if_unchanged`` is the one-RPC alternative for
a caller that already holds the document: an ``update`` with the precondition
"still at this ``update_time``" (the version ``get_with_version`` returned), so
a concurrent writer makes it fail (``FailedPrecondition`` -> ``Rejected``).

The client is built lazily on first use.  With an emulator host (argument or
the ``FIRESTORE_EMULATOR_HOST`` the SDK reads itself) it uses anonymous
credentials and an insecure channel; no Google endpoint is contacted.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.api_core.datetime_helpers import DatetimeWithNanoseconds

from lib.adapters.dotted import apply_updates, first_mismatch, normalize_operator
from lib.adapters.google_errors import google_errors
from lib.adapters.lazy import Lazy
from lib.config import Settings
from lib.errors import Missing, Rejected, Unavailable

SERVICE = "firestore"
# One RPC's limit and the retry budget: the values (and why) live in Settings, the one place.
CALL_TIMEOUT_S: float = Settings.model_fields["firestore_timeout_s"].default
RETRY_BUDGET_S: float = Settings.model_fields["firestore_retry_budget_s"].default
TRANSACTION_TIMEOUT_S: float = Settings.model_fields["firestore_transaction_timeout_s"].default
# Contended transactions are re-run this many times before giving up.
TRANSACTION_ATTEMPTS = 5
_PING_COLLECTION = "_health"
# The details path of the ``Rejected`` raised when a document moved past the expected version.
VERSION_PATH = "update_time"

log = logging.getLogger(__name__)


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
        transaction_timeout_s: float = TRANSACTION_TIMEOUT_S,
        client: Any | None = None,
    ) -> None:
        self._project = project
        self._timeout = timeout_s
        self._txn_timeout = transaction_timeout_s
        self._retry = gretry.Retry(
            predicate=gretry.if_transient_error, initial=0.1, maximum=1.0, multiplier=2.0, timeout=retry_budget_s
        )
        self._database = database
        self._emulator_host = emulator_host
        self._client: Lazy[Any] = Lazy(self._build_client, client)

    @property
    def client(self) -> Any:
        """The shared ``firestore.Client``, created on first use."""
        return self._client.get()

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

    def get_with_version(self, collection: str, doc_id: str) -> tuple[dict[str, Any], str] | None:
        """The document and its ``update_time`` as an RFC 3339 string (nanoseconds kept), or None."""
        with _translated():
            snap = self._doc(collection, doc_id).get(retry=self._retry, timeout=self._timeout)
        if not snap.exists:
            return None
        return dict(snap.to_dict() or {}), _version(snap.update_time)

    def update_if_unchanged(self, collection: str, doc_id: str, updates: Mapping[str, Any], *, version: str) -> str:
        """One ``update`` RPC with the precondition ``update_time == version``; the new version.

        ``Rejected`` (details ``path="update_time"``) when the document changed or was
        deleted since: the caller re-reads and decides again.
        """
        try:
            stamp = DatetimeWithNanoseconds.from_rfc3339(version)  # type: ignore[no-untyped-call]
        except ValueError as exc:
            raise Rejected(f"not a document version: {version!r}", SERVICE, path=VERSION_PATH) from exc
        ref = self._doc(collection, doc_id)
        option = self.client.write_option(last_update_time=stamp)
        try:
            with _translated():
                try:
                    result = ref.update(dict(updates), option=option, retry=self._retry, timeout=self._timeout)
                except gexc.FailedPrecondition as exc:
                    raise Rejected(
                        f"{collection}/{doc_id} changed since {version}", SERVICE, path=VERSION_PATH
                    ) from exc
        except Missing as exc:  # a precondition on update_time answers NOT_FOUND on some backends
            raise Rejected(f"{collection}/{doc_id} is gone", SERVICE, path=VERSION_PATH) from exc
        return _version(result.update_time)

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
            snap = ref.get(transaction=txn, retry=self._retry, timeout=self._txn_timeout)
            if not snap.exists:
                raise Missing(f"{collection}/{doc_id} not found", SERVICE)
            current = snap.to_dict() or {}
            bad = first_mismatch(current, expect or {})
            if bad is not None:
                raise Rejected(f"{collection}/{doc_id}: {bad} changed", SERVICE, path=bad)
            txn.update(ref, dict(updates))
            return apply_updates(current, updates)

        txn = _bounded_transaction_class()(
            self.client, max_attempts=TRANSACTION_ATTEMPTS, retry=self._retry, timeout=self._txn_timeout
        )
        try:
            with _translated():
                result: dict[str, Any] = apply(txn)
        except ValueError as exc:
            # The SDK's way of saying "still Aborted after max_attempts" (the Aborted is the cause).
            if isinstance(exc.__cause__, gexc.Aborted):
                raise Unavailable(f"{collection}/{doc_id}: contention: {exc}", SERVICE) from exc
            raise
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


def _version(update_time: Any) -> str:
    """``update_time`` as a version token: RFC 3339 with the server's nanoseconds, so it
    matches exactly when sent back as a precondition."""
    rfc3339 = getattr(update_time, "rfc3339", None)  # DatetimeWithNanoseconds (api_core's or proto-plus's)
    if callable(rfc3339):
        return str(rfc3339())
    raise Rejected(f"unexpected update_time {update_time!r}", SERVICE)


@functools.cache
def _bounded_transaction_class() -> type[Any]:
    """A ``Transaction`` whose BeginTransaction, Commit and Rollback RPCs carry our retry
    and timeout.  Built on first use: the SDK is imported lazily.

    The SDK sends those three without ``retry``/``timeout``, so the GAPIC defaults
    (retry transient errors for 60 s) apply: a stopped server held a save for a
    minute.  And when BeginTransaction itself failed, the SDK's rollback raised a
    bare ``ValueError`` ("no transaction ID") that hid the RPC error; here a
    rollback with nothing begun is a no-op and a failed rollback is logged, so the
    original error is what surfaces (and ``_translated`` maps it).  The bodies
    follow ``google.cloud.firestore_v1.transaction.Transaction`` (2.x).
    """
    from google.cloud.firestore_v1.transaction import Transaction

    class BoundedTransaction(Transaction):
        def __init__(self, client: Any, *, max_attempts: int, retry: gretry.Retry, timeout: float) -> None:
            super().__init__(client, max_attempts=max_attempts)
            self._rpc_retry = retry
            self._rpc_timeout = timeout

        def _begin(self, retry_id: bytes | None = None) -> None:
            if self.in_progress:
                raise ValueError(f"transaction {self._id!r} already in progress")
            response = self._client._firestore_api.begin_transaction(
                request={"database": self._client._database_string, "options": self._options_protobuf(retry_id)},
                metadata=self._client._rpc_metadata,
                retry=self._rpc_retry,
                timeout=self._rpc_timeout,
            )
            self._id = response.transaction

        def _commit(self) -> list[Any]:
            if not self.in_progress:
                raise ValueError("no transaction in progress to commit")
            response = self._client._firestore_api.commit(
                request={
                    "database": self._client._database_string,
                    "writes": self._write_pbs,
                    "transaction": self._id,
                },
                metadata=self._client._rpc_metadata,
                retry=self._rpc_retry,
                timeout=self._rpc_timeout,
            )
            self._clean_up()
            self.write_results = list(response.write_results)
            self.commit_time = response.commit_time
            return self.write_results

        def _rollback(self) -> None:
            if not self.in_progress:
                return  # BeginTransaction failed: nothing to undo, let its error surface
            try:
                self._client._firestore_api.rollback(
                    request={"database": self._client._database_string, "transaction": self._id},
                    metadata=self._client._rpc_metadata,
                    retry=self._rpc_retry,
                    timeout=self._rpc_timeout,
                )
            except (gexc.GoogleAPICallError, gexc.RetryError) as exc:
                # The server drops an abandoned transaction itself; the error that made us
                # roll back is the one worth raising.
                log.warning("firestore.rollback_failed", extra={"error": str(exc)})
            finally:
                self._clean_up()

    return BoundedTransaction


def _translated() -> AbstractContextManager[None]:
    """Google client exceptions -> ``lib.errors``: the one table in ``lib.adapters.google_errors``."""
    return google_errors(SERVICE)
