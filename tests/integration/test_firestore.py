"""FirestoreDocuments against the Firestore emulator: the transaction in
``update_if`` under contention, nested paths, and an unreachable emulator."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from lib.adapters.firestore import FirestoreDocuments
from lib.errors import Rejected, Unavailable
from lib.local.services import free_port


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
