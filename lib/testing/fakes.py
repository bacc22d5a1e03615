"""In-memory fakes of every port in ``lib.ports`` (hand-written, not mocks).

Unit tests wire these instead of the real adapters; the contract tests in
``tests/integration/test_contracts.py`` run the same cases against a fake and
the real adapter, so a fake that drifts from the real thing fails there.

Every fake has a ``down`` switch: set ``fake.down = True`` and each call
raises ``lib.errors.Unavailable`` (retryable), the same error the real
adapter raises when its service is stopped, so failure paths are testable.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from lib.adapters.dotted import apply_updates, deep_merge, first_mismatch, get_path, has_path, normalize_operator
from lib.adapters.task_names import task_id
from lib.errors import AlreadyExists, Missing, Rejected, Unavailable
from lib.ports import Clock, TaskRequest

# A fixed, recognisable instant so test output is stable.
DEFAULT_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


class FixedClock:
    """A clock that never moves (``Clock``)."""

    def __init__(self, at: datetime = DEFAULT_EPOCH) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at


class ManualClock:
    """A clock the test moves by hand (``advance``/``set``): TTLs and ladders
    are tested without sleeping."""

    def __init__(self, start: datetime = DEFAULT_EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = at


class _Switchable:
    """The ``down`` switch shared by every fake."""

    service = "fake"

    def __init__(self) -> None:
        self.down = False
        self._lock = threading.RLock()

    def _check(self) -> None:
        if self.down:
            raise Unavailable("simulated outage", self.service)


# --- KeyValue ------------------------------------------------------------------


class FakeKeyValue(_Switchable):
    """``KeyValue`` in memory with TTLs read from an injectable clock (by
    default a ``ManualClock``: nothing expires until the test advances it)."""

    service = "redis"

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock: Clock = clock or ManualClock()
        self._data: dict[str, tuple[bytes, datetime | None]] = {}

    def _live(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires_at = item
        if expires_at is not None and self.clock.now() >= expires_at:
            del self._data[key]
            return None
        return value

    def _expiry(self, ttl_s: int | None) -> datetime | None:
        if ttl_s is None:
            return None
        if ttl_s <= 0:
            raise Rejected("ttl must be positive", self.service)
        return self.clock.now() + timedelta(seconds=ttl_s)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            self._check()
            return self._live(key)

    def mget(self, keys: list[str]) -> list[bytes | None]:
        with self._lock:
            self._check()
            return [self._live(k) for k in keys]

    def set(self, key: str, value: bytes, *, ttl_s: int | None = None) -> None:
        with self._lock:
            self._check()
            self._data[key] = (bytes(value), self._expiry(ttl_s))

    def set_if_absent(self, key: str, value: bytes, *, ttl_s: int) -> bool:
        with self._lock:
            self._check()
            if self._live(key) is not None:
                return False
            self._data[key] = (bytes(value), self._expiry(ttl_s))
            return True

    def delete(self, *keys: str) -> int:
        with self._lock:
            self._check()
            removed = 0
            for k in keys:
                if self._live(k) is not None:
                    del self._data[k]
                    removed += 1
            return removed

    def expire(self, key: str, ttl_s: int) -> bool:
        with self._lock:
            self._check()
            value = self._live(key)
            if value is None:
                return False
            self._data[key] = (value, self._expiry(ttl_s))
            return True

    def ping(self) -> None:
        with self._lock:
            self._check()

    # test helpers (not part of the port)
    def ttl(self, key: str) -> float | None:
        """Seconds left, None when the key has no TTL or is absent."""
        with self._lock:
            if self._live(key) is None:
                return None
            expires_at = self._data[key][1]
            return None if expires_at is None else (expires_at - self.clock.now()).total_seconds()

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(k for k in list(self._data) if self._live(k) is not None)


# --- Documents -----------------------------------------------------------------


def _matches(doc: Mapping[str, Any], field_path: str, op: str, value: Any) -> bool:
    """Firestore's filter semantics; a document without the field never matches."""
    if not has_path(doc, field_path):
        return False
    current = get_path(doc, field_path)
    try:
        tests: dict[str, Callable[[], bool]] = {
            "==": lambda: bool(current == value),
            "!=": lambda: bool(current != value),
            "<": lambda: bool(current < value),
            "<=": lambda: bool(current <= value),
            ">": lambda: bool(current > value),
            ">=": lambda: bool(current >= value),
            "in": lambda: current in value,
            "not-in": lambda: current not in value,
            "array_contains": lambda: isinstance(current, list) and value in current,
            "array_contains_any": lambda: isinstance(current, list) and any(v in current for v in value),
        }
        return tests[op]()
    except TypeError:  # comparing across types: Firestore orders by type, never matches a range
        return False


def _fake_version(n: int) -> str:
    """The fake's version token: opaque to callers, like Firestore's update_time."""
    return f"v{n}"


class FakeDocuments(_Switchable):
    """``Documents`` in memory: collections of deep-copied dicts."""

    service = "firestore"

    def __init__(self) -> None:
        super().__init__()
        self._data: dict[str, dict[str, dict[str, Any]]] = {}
        # Every write stamps the document with the next number, as Firestore stamps update_time.
        self._versions: dict[tuple[str, str], int] = {}
        self._writes = 0
        self.calls: Counter[str] = Counter()  # calls per method: tests count round trips with it

    def _called(self, method: str) -> None:
        self.calls[method] += 1
        self._check()

    def _coll(self, collection: str) -> dict[str, dict[str, Any]]:
        return self._data.setdefault(collection, {})

    def _stamp(self, collection: str, doc_id: str) -> str:
        self._writes += 1
        self._versions[(collection, doc_id)] = self._writes
        return _fake_version(self._writes)

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._called("get")
            doc = self._coll(collection).get(doc_id)
            return copy.deepcopy(doc) if doc is not None else None

    def get_with_version(self, collection: str, doc_id: str) -> tuple[dict[str, Any], str] | None:
        with self._lock:
            self._called("get_with_version")
            doc = self._coll(collection).get(doc_id)
            if doc is None:
                return None
            return copy.deepcopy(doc), _fake_version(self._versions[(collection, doc_id)])

    def set(self, collection: str, doc_id: str, data: Mapping[str, Any], *, merge: bool = False) -> None:
        with self._lock:
            self._called("set")
            coll = self._coll(collection)
            if merge and doc_id in coll:
                coll[doc_id] = deep_merge(coll[doc_id], data)
            else:
                coll[doc_id] = copy.deepcopy(dict(data))
            self._stamp(collection, doc_id)

    def create(self, collection: str, doc_id: str, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._called("create")
            coll = self._coll(collection)
            if doc_id in coll:
                raise AlreadyExists(f"{collection}/{doc_id} exists", self.service)
            coll[doc_id] = copy.deepcopy(dict(data))
            self._stamp(collection, doc_id)

    def update_if(
        self,
        collection: str,
        doc_id: str,
        updates: Mapping[str, Any],
        *,
        expect: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self._called("update_if")
            coll = self._coll(collection)
            current = coll.get(doc_id)
            if current is None:
                raise Missing(f"{collection}/{doc_id} not found", self.service)
            bad = first_mismatch(current, expect or {})
            if bad is not None:
                raise Rejected(f"{collection}/{doc_id}: {bad} changed", self.service, path=bad)
            coll[doc_id] = apply_updates(current, updates)
            self._stamp(collection, doc_id)
            return copy.deepcopy(coll[doc_id])

    def update_if_unchanged(self, collection: str, doc_id: str, updates: Mapping[str, Any], *, version: str) -> str:
        with self._lock:
            self._called("update_if_unchanged")
            coll = self._coll(collection)
            current = coll.get(doc_id)
            if current is None or _fake_version(self._versions[(collection, doc_id)]) != version:
                raise Rejected(f"{collection}/{doc_id} changed since {version}", self.service, path="update_time")
            coll[doc_id] = apply_updates(current, updates)
            return self._stamp(collection, doc_id)

    def delete(self, collection: str, doc_id: str) -> None:
        with self._lock:
            self._called("delete")
            self._coll(collection).pop(doc_id, None)
            self._versions.pop((collection, doc_id), None)

    def query(
        self, collection: str, *, where: list[tuple[str, str, Any]], limit: int = 100
    ) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            self._called("query")
            filters = []
            for field_path, op, value in where:
                name = normalize_operator(op)
                if name is None:
                    raise Rejected(f"unsupported operator {op!r}", self.service)
                filters.append((field_path, name, value))
            out: list[tuple[str, dict[str, Any]]] = []
            for doc_id in sorted(self._coll(collection)):  # Firestore's default order: document id
                doc = self._coll(collection)[doc_id]
                if all(_matches(doc, f, op, v) for f, op, v in filters):
                    out.append((doc_id, copy.deepcopy(doc)))
                    if len(out) >= limit:
                        break
            return out

    def ping(self) -> None:
        with self._lock:
            self._called("ping")


# --- Blobs -----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredBlob:
    data: bytes
    content_type: str


class FakeBlobs(_Switchable):
    """``Blobs`` in memory.  ``signed_url`` returns a recognisable
    ``https://fake-storage.invalid/...`` URL; ``get_signed`` resolves it back
    (and honours the expiry against the clock) so tests can follow a link."""

    service = "storage"
    URL_BASE = "https://fake-storage.invalid"

    def __init__(self, clock: Clock | None = None, *, buckets: list[str] | None = None) -> None:
        super().__init__()
        self.clock: Clock = clock or ManualClock()
        self.buckets: set[str] | None = set(buckets) if buckets is not None else None
        self._data: dict[tuple[str, str], StoredBlob] = {}

    def _bucket_ok(self, bucket: str) -> None:
        if self.buckets is not None and bucket not in self.buckets:
            raise Missing(f"bucket {bucket} not found", self.service)

    def put(self, bucket: str, name: str, data: bytes, *, content_type: str) -> None:
        with self._lock:
            self._check()
            self._bucket_ok(bucket)
            self._data[(bucket, name)] = StoredBlob(bytes(data), content_type)

    def get(self, bucket: str, name: str) -> bytes:
        with self._lock:
            self._check()
            self._bucket_ok(bucket)
            blob = self._data.get((bucket, name))
            if blob is None:
                raise Missing(f"gs://{bucket}/{name} not found", self.service)
            return blob.data

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
        with self._lock:
            self._check()
            self._bucket_ok(bucket)
            expires = int((self.clock.now() + timedelta(seconds=expires_s)).timestamp())
            extra = "".join(
                f"&{key}={quote(value, safe='')}"
                for key, value in (("download", download_name), ("type", response_type))
                if value is not None
            )
            return f"{self.URL_BASE}/{bucket}/{name}?method={method}&expires={expires}{extra}"

    def ping(self, bucket: str) -> None:
        with self._lock:
            self._check()
            self._bucket_ok(bucket)

    # test helpers (not part of the port)
    def stored(self, bucket: str, name: str) -> StoredBlob | None:
        return self._data.get((bucket, name))

    def get_signed(self, url: str) -> bytes:
        """Follow a URL from ``signed_url``: the bytes, or ``Rejected`` when expired."""
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(url)
        bucket, _, name = parts.path.lstrip("/").partition("/")
        expires = int(parse_qs(parts.query)["expires"][0])
        if self.clock.now().timestamp() > expires:
            raise Rejected("signed URL expired", self.service)
        return self.get(bucket, name)


# --- TaskQueue -----------------------------------------------------------------


class FakeTaskQueue(_Switchable):
    """``TaskQueue`` that records every created ``TaskRequest`` (``.tasks``),
    de-duplicating by name like Cloud Tasks: a reused name is ``AlreadyExists``
    (names stay reserved; call ``forget`` to model the reservation expiring)."""

    service = "cloud_tasks"

    def __init__(self, project: str = "fake-project", location: str = "local") -> None:
        super().__init__()
        self.project = project
        self.location = location
        self.tasks: list[TaskRequest] = []
        self.names: list[str] = []  # full names, parallel to ``tasks``
        self._reserved: set[str] = set()

    def full_name(self, queue: str, name: str) -> str:
        return f"projects/{self.project}/locations/{self.location}/queues/{queue}/tasks/{name}"

    def enqueue(self, task: TaskRequest) -> str:
        with self._lock:
            self._check()
            full = self.full_name(task.queue, task_id(task.name) if task.name else uuid.uuid4().hex)
            if full in self._reserved:
                raise AlreadyExists(f"task {full} exists", self.service, name=full)
            self._reserved.add(full)
            self.tasks.append(task)
            self.names.append(full)
            return full

    # test helpers (not part of the port)
    def in_queue(self, queue: str) -> list[TaskRequest]:
        with self._lock:
            return [t for t in self.tasks if t.queue == queue]

    def take(self) -> list[TaskRequest]:
        """Every recorded task, clearing the record (names stay reserved)."""
        with self._lock:
            out, self.tasks, self.names = self.tasks, [], []
            return out

    def forget(self, full_name: str) -> None:
        with self._lock:
            self._reserved.discard(full_name)


__all__ = [
    "DEFAULT_EPOCH",
    "FakeBlobs",
    "FakeDocuments",
    "FakeKeyValue",
    "FakeTaskQueue",
    "FixedClock",
    "ManualClock",
    "StoredBlob",
]
