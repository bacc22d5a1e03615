"""FirestoreDocuments against the Firestore emulator: the transaction in
``update_if`` under contention, nested paths, and an unreachable emulator
(every call, the transaction's own RPCs included, gives up within its budget)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from devtools.local.services import free_port
from lib.adapters.firestore import FirestoreDocuments
from lib.errors import Rejected, Unavailable


@pytest.fixture
def docs(firestore_host: str) -> FirestoreDocuments:
    return FirestoreDocuments("bcm-test", emulator_host=firestore_host)


@pytest.mark.services
def test_concurrent_update_if_lets_exactly_one_writer_win(docs: FirestoreDocuments) -> None:
    coll = f"race-{uuid.uuid4().hex}"
    docs.create(coll, "s1", {"version": 1, "steps": {}})
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        try:
            docs.update_if(coll, "s1", {"version": 2, f"steps.w{i}": True}, expect={"version": 1})
            result = "won"
        except Rejected as exc:
            result = f"lost at {exc.details.get('path')}"
        except Unavailable:  # contention past the transaction's attempts
            result = "contended"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes.count("won") == 1, outcomes
    assert set(outcomes) <= {"won", "lost at version", "contended"}, outcomes
    final = docs.get(coll, "s1")
    assert final is not None
    assert final["version"] == 2
    assert len(final["steps"]) == 1


@pytest.mark.services
def test_merge_set_and_nested_paths(docs: FirestoreDocuments) -> None:
    coll = f"nested-{uuid.uuid4().hex}"
    docs.set(coll, "d", {"a": {"x": 1, "y": 2}, "b": 1})
    docs.set(coll, "d", {"a": {"y": 3}}, merge=True)
    assert docs.get(coll, "d") == {"a": {"x": 1, "y": 3}, "b": 1}
    new = docs.update_if(coll, "d", {"a.z.deep": "v"}, expect={"a.x": 1, "missing.path": None})
    assert new == {"a": {"x": 1, "y": 3, "z": {"deep": "v"}}, "b": 1}
    assert docs.get(coll, "d") == new


def test_explicit_emulator_host_wins_and_unreachable_is_unavailable() -> None:
    docs = FirestoreDocuments("bcm-test", emulator_host=f"127.0.0.1:{free_port()}", timeout_s=0.5, retry_budget_s=1)
    start = time.monotonic()
    with pytest.raises(Unavailable):
        docs.get("c", "d")
    assert time.monotonic() - start < 5


SOME_VERSION = "2026-01-01T00:00:00.000001Z"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda d: d.update_if("c", "d", {"a": 1}, expect={"a": 0}), id="update_if"),
        pytest.param(lambda d: d.update_if_unchanged("c", "d", {"a": 1}, version=SOME_VERSION), id="if_unchanged"),
        pytest.param(lambda d: d.get_with_version("c", "d"), id="get_with_version"),
    ],
)
def test_unreachable_emulator_every_call_is_unavailable_within_its_budget(call: Any) -> None:
    """The transaction's BeginTransaction used the SDK's one-minute default retry and then
    surfaced as a bare ValueError; now it is ``Unavailable`` within the adapter's budget."""
    docs = FirestoreDocuments("bcm-test", emulator_host=f"127.0.0.1:{free_port()}", timeout_s=0.5, retry_budget_s=1)
    start = time.monotonic()
    with pytest.raises(Unavailable) as err:
        call(docs)
    assert time.monotonic() - start < 5
    assert err.value.retryable


@pytest.mark.services
def test_update_if_unchanged_keeps_nanosecond_versions(docs: FirestoreDocuments) -> None:
    """The version is the server's update_time to the nanosecond: a chain of one-RPC writes,
    each on the version the previous one returned, never trips its own precondition."""
    coll = f"chain-{uuid.uuid4().hex}"
    docs.create(coll, "d", {"n": 0})
    found = docs.get_with_version(coll, "d")
    assert found is not None
    version = found[1]
    for n in range(1, 6):
        version = docs.update_if_unchanged(coll, "d", {"n": n}, version=version)
    assert docs.get_with_version(coll, "d") == ({"n": 5}, version)
    with pytest.raises(Rejected):
        docs.update_if_unchanged(coll, "d", {"n": 6}, version="not a timestamp")
