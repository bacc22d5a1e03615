"""One contract per port, run against the fake AND the real adapter.

A fake that drifts from the real thing fails here, so unit tests built on the
fakes keep meaning something.  Each harness gives the two implementations the
same handles: a fresh namespace, a way to let time pass (the fake's clock or
a real sleep) and a way to follow what was produced (a signed URL, a
delivered task).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from devtools.local.dispatcher import LocalTaskDispatcher, RetryConfig
from devtools.local.services import ServiceSet
from lib.adapters.firestore import FirestoreDocuments
from lib.adapters.local_tasks import LocalTasksClient
from lib.adapters.redis import RedisKeyValue
from lib.adapters.storage import GcsBlobs
from lib.errors import AlreadyExists, Missing, Rejected
from lib.ports import Blobs, Documents, KeyValue, TaskQueue, TaskRequest
from lib.testing.fakes import FakeBlobs, FakeDocuments, FakeKeyValue, FakeTaskQueue, ManualClock
from lib.testing.receiver import RecordingReceiver

REAL = pytest.mark.services
BUCKET = "bcm-exports-test"  # created by tests/conftest.py

# --- KeyValue ---------------------------------------------------------------------------------


@dataclass
class KV:
    store: KeyValue
    prefix: str
    let_time_pass: Callable[[float], None]

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"


@pytest.fixture(params=["fake", pytest.param("redis", marks=REAL)])
def kv(request: pytest.FixtureRequest) -> Iterator[KV]:
    prefix = f"contract:{uuid.uuid4().hex}"
    if request.param == "fake":
        clock = ManualClock()
        yield KV(FakeKeyValue(clock), prefix, clock.advance)
        return
    services: ServiceSet = request.getfixturevalue("services")
    real = RedisKeyValue.from_url(services.env["REDIS_URL"], timeout_ms=300)
    yield KV(real, prefix, time.sleep)
    keys = list(real.client.scan_iter(f"{prefix}:*"))
    if keys:
        real.delete(*[k.decode() for k in keys])
    real.close()


def test_kv_get_set_mget_delete(kv: KV) -> None:
    s, a, b = kv.store, kv.key("a"), kv.key("b")
    assert isinstance(s, KeyValue)
    s.ping()
    assert s.get(a) is None
    s.set(a, b"\x00bytes\xff")
    assert s.get(a) == b"\x00bytes\xff"
    s.set(a, b"replaced")
    assert s.mget([a, b]) == [b"replaced", None]
    assert s.mget([]) == []
    assert s.delete(a, b) == 1
    assert s.delete(a) == 0
    assert s.delete() == 0
    assert s.get(a) is None


def test_kv_ttl_expiry_and_expire(kv: KV) -> None:
    s, short, long_, plain = kv.store, kv.key("short"), kv.key("long"), kv.key("plain")
    s.set(short, b"1", ttl_s=1)
    s.set(long_, b"2", ttl_s=100)
    s.set(plain, b"3")
    assert s.expire(plain, 1) is True
    assert s.expire(kv.key("absent"), 1) is False
    kv.let_time_pass(1.2)
    assert s.mget([short, long_, plain]) == [None, b"2", None]
    s.set(long_, b"4")  # a plain set drops the TTL, as Redis SET does
    kv.let_time_pass(0.01)
    assert s.get(long_) == b"4"
    with pytest.raises(Rejected):
        s.set(short, b"x", ttl_s=0)


def test_kv_set_if_absent(kv: KV) -> None:
    s, lock = kv.store, kv.key("lock")
    assert s.set_if_absent(lock, b"owner-1", ttl_s=1) is True
    assert s.set_if_absent(lock, b"owner-2", ttl_s=1) is False
    assert s.get(lock) == b"owner-1"
    kv.let_time_pass(1.2)
    assert s.set_if_absent(lock, b"owner-3", ttl_s=30) is True
    assert s.get(lock) == b"owner-3"


# --- Documents ----------------------------------------------------------------------------------


@dataclass
class Docs:
    store: Documents
    coll: str


@pytest.fixture(params=["fake", pytest.param("firestore", marks=REAL)])
def docs(request: pytest.FixtureRequest) -> Docs:
    coll = f"contract-{uuid.uuid4().hex}"
    if request.param == "fake":
        return Docs(FakeDocuments(), coll)
    host: str = request.getfixturevalue("firestore_host")
    return Docs(FirestoreDocuments("bcm-test", emulator_host=host), coll)


def test_docs_create_get_set_delete(docs: Docs) -> None:
    s, c = docs.store, docs.coll
    assert isinstance(s, Documents)
    s.ping()
    assert s.get(c, "d1") is None
    body = {"state": "draft", "n": 1, "ratio": 0.5, "ok": True, "none": None, "tags": ["a", "b"], "m": {"k": "v"}}
    s.create(c, "d1", body)
    assert s.get(c, "d1") == body
    with pytest.raises(AlreadyExists):
        s.create(c, "d1", {"other": 1})
    s.set(c, "d1", {"m": {"k2": "v2"}}, merge=True)
    assert s.get(c, "d1") == {**body, "m": {"k": "v", "k2": "v2"}}
    s.set(c, "d1", {"only": 1})
    assert s.get(c, "d1") == {"only": 1}
    s.delete(c, "d1")
    assert s.get(c, "d1") is None
    s.delete(c, "d1")  # deleting what is absent is fine


def test_docs_update_if(docs: Docs) -> None:
    s, c = docs.store, docs.coll
    s.create(c, "sess", {"version": 1, "steps": {"s01": {"status": "draft"}}})
    new = s.update_if(c, "sess", {"version": 2, "steps.s01.status": "complete"}, expect={"version": 1})
    assert new == {"version": 2, "steps": {"s01": {"status": "complete"}}}
    assert s.get(c, "sess") == new
    with pytest.raises(Rejected) as err:
        s.update_if(c, "sess", {"version": 3}, expect={"steps.s01.status": "complete", "version": 1})
    assert err.value.details == {"path": "version"}
    assert s.get(c, "sess") == new  # nothing written on a mismatch
    with pytest.raises(Missing):
        s.update_if(c, "absent", {"version": 1})
    assert s.update_if(c, "sess", {"steps.s02": {"status": "draft"}})["steps"]["s02"] == {"status": "draft"}


def test_docs_versions_and_update_if_unchanged(docs: Docs) -> None:
    s, c = docs.store, docs.coll
    assert s.get_with_version(c, "v") is None
    s.create(c, "v", {"n": 1, "steps": {}})
    found = s.get_with_version(c, "v")
    assert found is not None
    doc, v1 = found
    assert doc == {"n": 1, "steps": {}}
    assert s.get_with_version(c, "v") == (doc, v1)  # reading does not move the version

    v2 = s.update_if_unchanged(c, "v", {"n": 2, "steps.s01.status": "draft"}, version=v1)
    assert v2 != v1
    assert s.get_with_version(c, "v") == ({"n": 2, "steps": {"s01": {"status": "draft"}}}, v2)

    with pytest.raises(Rejected) as err:  # someone wrote since v1: nothing is written
        s.update_if_unchanged(c, "v", {"n": 99}, version=v1)
    assert err.value.details == {"path": "update_time"}
    assert s.get(c, "v") == {"n": 2, "steps": {"s01": {"status": "draft"}}}

    s.set(c, "v", {"n": 3}, merge=True)  # every kind of write moves the version
    after_set = s.get_with_version(c, "v")
    assert after_set is not None
    assert after_set[1] not in (v1, v2)
    with pytest.raises(Rejected):
        s.update_if_unchanged(c, "v", {"n": 4}, version=v2)
    s.update_if(c, "v", {"n": 4}, expect={"n": 3})
    with pytest.raises(Rejected):
        s.update_if_unchanged(c, "v", {"n": 5}, version=after_set[1])

    latest = s.get_with_version(c, "v")
    assert latest is not None
    s.delete(c, "v")
    with pytest.raises(Rejected):  # deleted since: the same "read again" answer
        s.update_if_unchanged(c, "v", {"n": 6}, version=latest[1])
    assert s.get(c, "v") is None


def test_docs_update_if_unchanged_lets_exactly_one_of_two_racers_win(docs: Docs) -> None:
    s, c = docs.store, docs.coll
    s.create(c, "race", {"steps": {}})
    found = s.get_with_version(c, "race")
    assert found is not None
    outcomes = []
    for writer in ("a", "b"):  # both read the same version, then write in turn
        try:
            s.update_if_unchanged(c, "race", {f"steps.{writer}": True}, version=found[1])
            outcomes.append(writer)
        except Rejected:
            outcomes.append("rejected")
    assert outcomes == ["a", "rejected"]
    assert s.get(c, "race") == {"steps": {"a": True}}


def test_docs_query(docs: Docs) -> None:
    s, c = docs.store, docs.coll
    s.set(c, "b", {"status": "active", "age": 5})
    s.set(c, "a", {"status": "active", "age": 50})
    s.set(c, "c", {"status": "done", "age": 70})
    s.set(c, "d", {"status": "active"})
    assert [i for i, _ in s.query(c, where=[("status", "==", "active")])] == ["a", "b", "d"]
    found = s.query(c, where=[("status", "==", "active"), ("age", ">", 10)])
    assert found == [("a", {"status": "active", "age": 50})]
    assert len(s.query(c, where=[("status", "==", "active")], limit=2)) == 2
    assert s.query(c, where=[("status", "in", ["gone"])]) == []


# --- Blobs ------------------------------------------------------------------------------------------


@dataclass
class BlobsHarness:
    store: Blobs
    follow: Callable[[str], bytes]


@pytest.fixture(params=["fake", pytest.param("storage", marks=REAL)])
def blobs(request: pytest.FixtureRequest) -> BlobsHarness:
    if request.param == "fake":
        fake = FakeBlobs(buckets=[BUCKET])
        return BlobsHarness(fake, fake.get_signed)
    services: ServiceSet = request.getfixturevalue("services")

    def fetch(url: str) -> bytes:
        response = httpx.get(url)
        response.raise_for_status()
        return response.content

    return BlobsHarness(GcsBlobs("bcm-test", emulator_host=services.env["STORAGE_EMULATOR_HOST"]), fetch)


def test_blobs_put_get_signed_url(blobs: BlobsHarness) -> None:
    s = blobs.store
    assert isinstance(s, Blobs)
    s.ping(BUCKET)
    name = f"contract/{uuid.uuid4().hex}/export.json"
    payload = json.dumps({"bcm": {"v": 1}}).encode()
    s.put(BUCKET, name, payload, content_type="application/json")
    assert s.get(BUCKET, name) == payload
    s.put(BUCKET, name, b"v2", content_type="application/json")
    assert s.get(BUCKET, name) == b"v2"
    assert blobs.follow(s.signed_url(BUCKET, name, expires_s=300)) == b"v2"
    with pytest.raises(Missing):
        s.get(BUCKET, f"contract/{uuid.uuid4().hex}/absent")
    with pytest.raises(Missing):
        s.ping("no-such-bucket-anywhere")


# --- TaskQueue ----------------------------------------------------------------------------------------


@dataclass
class Tasks:
    queue: TaskQueue
    url: str
    delivered: Callable[[], list[Any]]  # payloads that reached (or would reach) the worker


FAST = RetryConfig(max_attempts=3, min_backoff_s=0.1, max_backoff_s=0.1)


@pytest.fixture(params=["fake", "local-dispatcher"])
def tasks(request: pytest.FixtureRequest) -> Iterator[Tasks]:
    if request.param == "fake":
        fake = FakeTaskQueue()
        yield Tasks(fake, "http://worker.invalid/run", lambda: [dict(t.payload) for t in fake.tasks])
        return
    dispatcher = LocalTaskDispatcher({"q": FAST}, token_source=lambda aud: "t", time_scale=0.1).start()
    server = make_server("127.0.0.1", 0, dispatcher.wsgi_app(), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    with RecordingReceiver() as receiver:

        def delivered() -> list[Any]:
            dispatcher.drain(5)
            return [json.loads(r.body) for r in receiver.requests]

        yield Tasks(LocalTasksClient(f"http://127.0.0.1:{server.server_port}"), f"{receiver.url}/run", delivered)
    server.shutdown()
    server.server_close()
    dispatcher.stop()


def test_tasks_enqueue_and_dedup(tasks: Tasks) -> None:
    q = tasks.queue
    assert isinstance(q, TaskQueue)
    name = q.enqueue(TaskRequest(queue="q", url=tasks.url, payload={"n": 1}, name="rebuild-w1"))
    assert name.startswith("projects/")
    assert name.endswith("/queues/q/tasks/rebuild-w1")
    with pytest.raises(AlreadyExists):
        q.enqueue(TaskRequest(queue="q", url=tasks.url, payload={"n": 2}, name="rebuild-w1"))
    first = q.enqueue(TaskRequest(queue="q", url=tasks.url, payload={"n": 3}))
    second = q.enqueue(TaskRequest(queue="q", url=tasks.url, payload={"n": 4}))
    assert first != second
    assert sorted(p["n"] for p in tasks.delivered()) == [1, 3, 4]
    with pytest.raises(AlreadyExists):  # still reserved after it ran
        q.enqueue(TaskRequest(queue="q", url=tasks.url, payload={"n": 5}, name="rebuild-w1"))


def test_tasks_names_are_sanitised_the_same_way(tasks: Tasks) -> None:
    name = tasks.queue.enqueue(TaskRequest(queue="q", url=tasks.url, payload={}, name="order:42/check#1"))
    task_id = name.rsplit("/", 1)[-1]
    assert task_id.startswith("order_42_check_1-")
    assert all(ch.isalnum() or ch in "-_" for ch in task_id)
