"""The fakes' own behaviour beyond the shared contract cases: clocks, the
outage switch, test helpers and the dotted-path helpers they rely on."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from lib.adapters.dotted import apply_updates, deep_merge, first_mismatch, get_path, has_path
from lib.errors import AlreadyExists, Missing, Rejected, Unavailable
from lib.ports import Blobs, Documents, KeyValue, TaskQueue, TaskRequest
from lib.testing.fakes import (
    DEFAULT_EPOCH,
    FakeBlobs,
    FakeDocuments,
    FakeKeyValue,
    FakeTaskQueue,
    FixedClock,
    ManualClock,
)


def test_fakes_satisfy_the_ports() -> None:
    assert isinstance(FakeKeyValue(), KeyValue)
    assert isinstance(FakeDocuments(), Documents)
    assert isinstance(FakeBlobs(), Blobs)
    assert isinstance(FakeTaskQueue(), TaskQueue)


def test_clocks() -> None:
    assert FixedClock().now() == DEFAULT_EPOCH
    clock = ManualClock()
    assert clock.advance(90) == DEFAULT_EPOCH + timedelta(seconds=90)
    clock.set(DEFAULT_EPOCH)
    assert clock.now() == DEFAULT_EPOCH
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2025, 1, 1))


def test_key_value_ttl_follows_the_clock() -> None:
    clock = ManualClock()
    kv = FakeKeyValue(clock)
    kv.set("a", b"1", ttl_s=10)
    kv.set("b", b"2")
    assert kv.ttl("a") == 10
    assert kv.ttl("b") is None
    assert kv.ttl("nope") is None
    clock.advance(9.9)
    assert kv.mget(["a", "b", "c"]) == [b"1", b"2", None]
    clock.advance(0.1)
    assert kv.get("a") is None
    assert kv.keys() == ["b"]
    assert kv.expire("b", 5) is True
    clock.advance(5)
    assert kv.get("b") is None
    assert kv.expire("b", 5) is False
    with pytest.raises(Rejected):
        kv.set("c", b"3", ttl_s=0)


def test_key_value_set_if_absent_after_expiry() -> None:
    clock = ManualClock()
    kv = FakeKeyValue(clock)
    assert kv.set_if_absent("lock", b"x", ttl_s=30) is True
    assert kv.set_if_absent("lock", b"y", ttl_s=30) is False
    clock.advance(30)
    assert kv.set_if_absent("lock", b"z", ttl_s=30) is True
    assert kv.get("lock") == b"z"


@pytest.mark.parametrize(
    "call",
    [
        lambda kv: kv.get("k"),
        lambda kv: kv.mget(["k"]),
        lambda kv: kv.set("k", b"v"),
        lambda kv: kv.set_if_absent("k", b"v", ttl_s=1),
        lambda kv: kv.delete("k"),
        lambda kv: kv.expire("k", 1),
        lambda kv: kv.ping(),
    ],
)
def test_key_value_down_raises_unavailable(call: object) -> None:
    kv = FakeKeyValue()
    kv.down = True
    with pytest.raises(Unavailable) as err:
        call(kv)  # type: ignore[operator]
    assert err.value.retryable is True
    assert err.value.service == "redis"


def test_documents_down_and_back() -> None:
    docs = FakeDocuments()
    docs.set("c", "1", {"a": 1})
    docs.down = True
    for call in (
        lambda: docs.get("c", "1"),
        lambda: docs.set("c", "1", {}),
        lambda: docs.create("c", "2", {}),
        lambda: docs.update_if("c", "1", {"a": 2}),
        lambda: docs.delete("c", "1"),
        lambda: docs.query("c", where=[]),
        docs.ping,
    ):
        with pytest.raises(Unavailable):
            call()
    docs.down = False
    assert docs.get("c", "1") == {"a": 1}


def test_documents_return_copies() -> None:
    docs = FakeDocuments()
    data = {"nested": {"x": [1]}}
    docs.set("c", "1", data)
    data["nested"]["x"].append(2)
    got = docs.get("c", "1")
    assert got == {"nested": {"x": [1]}}
    assert got is not None
    got["nested"]["x"].append(3)
    assert docs.get("c", "1") == {"nested": {"x": [1]}}


def test_documents_query_operators() -> None:
    docs = FakeDocuments()
    docs.set("c", "b", {"n": 2, "tags": ["x"], "s": "b"})
    docs.set("c", "a", {"n": 1, "tags": ["y"], "s": "a"})
    docs.set("c", "c", {"s": "c"})
    ids = lambda where, limit=100: [i for i, _ in docs.query("c", where=where, limit=limit)]  # noqa: E731
    assert ids([("n", ">=", 1)]) == ["a", "b"]
    assert ids([("n", "<", 2)]) == ["a"]
    assert ids([("n", "<=", 2), ("n", ">", 1)]) == ["b"]
    assert ids([("n", "!=", 1)]) == ["b"]
    assert ids([("n", "in", [1, 2])]) == ["a", "b"]
    assert ids([("n", "not-in", [1])]) == ["b"]
    assert ids([("tags", "array_contains", "x")]) == ["b"]
    assert ids([("tags", "array-contains-any", ["x", "y"])]) == ["a", "b"]
    assert ids([("n", ">", "text")]) == []  # cross-type range never matches
    assert ids([("s", ">=", "a")], limit=2) == ["a", "b"]
    with pytest.raises(Rejected):
        docs.query("c", where=[("n", "~", 1)])


def test_blobs_signed_url_round_trip_and_expiry() -> None:
    clock = ManualClock()
    blobs = FakeBlobs(clock, buckets=["exports"])
    blobs.put("exports", "a/b.json", b"{}", content_type="application/json")
    stored = blobs.stored("exports", "a/b.json")
    assert stored is not None
    assert stored.content_type == "application/json"
    url = blobs.signed_url("exports", "a/b.json", expires_s=60)
    assert url.startswith(FakeBlobs.URL_BASE)
    assert blobs.get_signed(url) == b"{}"
    clock.advance(61)
    with pytest.raises(Rejected):
        blobs.get_signed(url)
    with pytest.raises(Missing):
        blobs.ping("other")
    with pytest.raises(Missing):
        blobs.put("other", "x", b"", content_type="text/plain")
    blobs.down = True
    with pytest.raises(Unavailable):
        blobs.get("exports", "a/b.json")


def test_task_queue_records_and_dedups() -> None:
    q = FakeTaskQueue(project="p", location="l")
    first = q.enqueue(TaskRequest(queue="bcm", url="http://x/y", payload={"a": 1}, name="ws-1"))
    assert first == "projects/p/locations/l/queues/bcm/tasks/ws-1"
    with pytest.raises(AlreadyExists) as err:
        q.enqueue(TaskRequest(queue="bcm", url="http://x/y", payload={}, name="ws-1"))
    assert err.value.details["name"] == first
    # the same name on another queue is another task
    q.enqueue(TaskRequest(queue="ai", url="http://x/z", payload={}, name="ws-1"))
    unnamed = q.enqueue(TaskRequest(queue="ai", url="http://x/z", payload={}))
    assert unnamed.startswith("projects/p/locations/l/queues/ai/tasks/")
    assert [t.queue for t in q.in_queue("ai")] == ["ai", "ai"]
    assert len(q.take()) == 3
    assert q.tasks == []
    with pytest.raises(AlreadyExists):
        q.enqueue(TaskRequest(queue="bcm", url="http://x/y", payload={}, name="ws-1"))
    q.forget(first)
    assert q.enqueue(TaskRequest(queue="bcm", url="http://x/y", payload={}, name="ws-1")) == first
    q.down = True
    with pytest.raises(Unavailable):
        q.enqueue(TaskRequest(queue="bcm", url="http://x/y", payload={}))


def test_dotted_helpers() -> None:
    doc = {"a": {"b": 1}, "c": None}
    assert get_path(doc, "a.b") == 1
    assert get_path(doc, "a.x", "d") == "d"
    assert get_path(doc, "a.b.c") is None
    assert has_path(doc, "c") is True
    assert has_path(doc, "z") is False
    assert apply_updates(doc, {"a.b": 2, "x.y.z": 3, "c.d": 4}) == {"a": {"b": 2}, "x": {"y": {"z": 3}}, "c": {"d": 4}}
    assert doc == {"a": {"b": 1}, "c": None}  # untouched
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"c": 3}, "d": {"e": 1}}) == {
        "a": {"b": 1, "c": 3},
        "d": {"e": 1},
    }
    assert first_mismatch(doc, {"a.b": 1, "c": None, "missing": None}) is None
    assert first_mismatch(doc, {"a.b": 1, "c": 1}) == "c"
