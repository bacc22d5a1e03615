"""enqueue_once: a named task is created once; a second call reports it existed; other errors propagate."""

from __future__ import annotations

import pytest

from lib.errors import Unavailable
from lib.ports import TaskRequest
from lib.tasks import enqueue_once
from lib.testing.fakes import FakeTaskQueue


def _task(name: str | None = "job-1") -> TaskRequest:
    return TaskRequest(queue="q", url="https://example.test/worker", payload={"a": 1}, name=name)


def test_first_call_creates_and_second_reports_existing() -> None:
    queue = FakeTaskQueue()
    assert enqueue_once(queue, _task()) is True
    assert enqueue_once(queue, _task()) is False
    assert len(queue.tasks) == 1


def test_unreachable_queue_propagates() -> None:
    queue = FakeTaskQueue()
    queue.down = True
    with pytest.raises(Unavailable):
        enqueue_once(queue, _task())


def test_an_unnamed_task_is_refused() -> None:
    with pytest.raises(ValueError, match="named task"):
        enqueue_once(FakeTaskQueue(), _task(None))
