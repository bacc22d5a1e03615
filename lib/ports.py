"""The interfaces (ports) between services and the outside world.

Each port is a small ``typing.Protocol``.  Adapters in ``lib.adapters``
implement them against a real system; fakes in ``lib.testing`` implement them
in memory.  ``tests/integration/test_contracts.py`` runs both through the same
cases.  Adapters raise only ``lib.errors.AdapterError`` subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable


class UnitOfWork(Protocol):
    """One atomic change: ``with uow: ...; uow.commit()``.

    Services own transactions through this: the repositories a unit of work
    exposes all act inside it, and leaving the block without ``commit()`` (or
    by an exception) undoes everything.  Effects that must follow the commit
    (emails, tasks) run after the block.
    """

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Keep what this unit did when the block ends (call it last in the block)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        ...


@runtime_checkable
class KeyValue(Protocol):
    """A shared cache with TTLs (Redis / Memorystore).

    Losing its contents loses nothing: every caller can rebuild from a durable
    store.  Calls fail fast (a few hundred ms) with ``Unavailable``.
    """

    def get(self, key: str) -> bytes | None: ...

    def mget(self, keys: list[str]) -> list[bytes | None]: ...

    def set(self, key: str, value: bytes, *, ttl_s: int | None = None) -> None: ...

    def set_if_absent(self, key: str, value: bytes, *, ttl_s: int) -> bool:
        """Atomically set when missing (a lock or a de-dup marker); True if set."""
        ...

    def delete(self, *keys: str) -> int: ...

    def expire(self, key: str, ttl_s: int) -> bool: ...

    def ping(self) -> None: ...


@runtime_checkable
class Documents(Protocol):
    """A document store (Firestore): JSON-like dicts addressed by collection and id."""

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...

    def get_with_version(self, collection: str, doc_id: str) -> tuple[dict[str, Any], str] | None:
        """The document and an opaque version token (Firestore: its ``update_time``) that
        changes with every write; None when absent."""
        ...

    def set(self, collection: str, doc_id: str, data: Mapping[str, Any], *, merge: bool = False) -> None: ...

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        """Create; raises ``AlreadyExists`` when the document exists."""
        ...

    def update_if(
        self,
        collection: str,
        doc_id: str,
        updates: Mapping[str, Any],
        *,
        expect: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Transactionally apply dotted-path ``updates`` when every ``expect`` path
        currently holds the given value; returns the new document.  Raises
        ``Missing`` when absent and ``Rejected`` (details: ``path``) on mismatch."""
        ...

    def update_if_unchanged(self, collection: str, doc_id: str, updates: Mapping[str, Any], *, version: str) -> str:
        """Apply dotted-path ``updates`` in one write when the document is still at
        ``version`` (from ``get_with_version`` or an earlier call); returns the new
        version.  ``Rejected`` (details: ``path="update_time"``) when it was written or
        deleted since: re-read and decide again."""
        ...

    def delete(self, collection: str, doc_id: str) -> None: ...

    def query(
        self, collection: str, *, where: list[tuple[str, str, Any]], limit: int = 100
    ) -> list[tuple[str, dict[str, Any]]]: ...

    def ping(self) -> None: ...


@runtime_checkable
class Blobs(Protocol):
    """Object storage (Cloud Storage)."""

    def put(self, bucket: str, name: str, data: bytes, *, content_type: str) -> None: ...

    def get(self, bucket: str, name: str) -> bytes: ...

    def signed_url(
        self,
        bucket: str,
        name: str,
        *,
        expires_s: int,
        method: str = "GET",
        content_type: str | None = None,
        download_name: str | None = None,
        response_type: str | None = None,
    ) -> str:
        """A time-limited URL; for a GET, ``download_name`` saves the object under that (ASCII) file
        name and ``response_type`` is the Content-Type it is served with (text exports: with charset)."""
        ...

    def ping(self, bucket: str) -> None: ...


@dataclass(frozen=True)
class TaskRequest:
    """One HTTP task: POST ``payload`` as JSON to ``url`` with an OIDC token."""

    queue: str
    url: str
    payload: Mapping[str, Any]
    name: str | None = None  # de-dup: a second create with the same name is AlreadyExists
    delay_s: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class TaskQueue(Protocol):
    """Cloud Tasks: deliver later, retry per the queue's config, de-dup by name."""

    def enqueue(self, task: TaskRequest) -> str:
        """Create the task; returns its full name.  ``AlreadyExists`` on a name collision."""
        ...


class Connection(Protocol):
    """The slice of a DB-API connection services' repositories use."""

    def execute(self, query: Any, params: Any = None, /) -> Any: ...


class Database(Protocol):
    """PostgreSQL: pooled connections and transactions; errors translated."""

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def connection(self) -> AbstractContextManager[Connection]: ...

    def ping(self) -> None: ...

    def close(self) -> None:
        """Close the pool (an instance or test shutting down); the next use reopens it."""
        ...
