"""POST .../ai over fakes: one task per request, de-dup while in flight, the payload contract."""

from __future__ import annotations

import pytest

from lib.errors import ServiceUnavailable, Unprocessable
from lib.services import onboarding
from lib.services.onboarding.ai_contract import ai_task_name
from tests.unit.services.onboarding.onboarding_support import AI_QUEUE, BASE_URL, Rig


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_step_without_an_ai_task_is_422(rig: Rig) -> None:
    sid = rig.start()
    with pytest.raises(Unprocessable) as err:
        onboarding.request_ai(sid, 1, rig.mine, "req-1", deps=rig.deps)
    assert err.value.code == "no_ai_task"
    assert rig.tasks.tasks == []


def test_request_queues_one_task_with_the_contract_payload(rig: Rig) -> None:
    sid = rig.start()
    out = onboarding.request_ai(sid, 2, rig.mine, "req-1", deps=rig.deps)
    name = ai_task_name(sid, 2, 1)
    assert out == {"status": "queued", "task_id": name, "step": 2}
    [task] = rig.tasks.tasks
    assert task.queue == AI_QUEUE
    assert task.url == f"{BASE_URL}/onboarding_ai/"
    assert task.name == name
    assert dict(task.payload) == {
        "session_id": sid,
        "workspace_id": rig.workspace,
        "step": 2,
        "request_id": "req-1",
        "task_id": name,
    }
    step = rig.read(sid)["steps"][1]
    assert step["ai"] == {
        "status": "queued",
        "attempts": 0,
        "suggestion": None,
        "error": None,
        "model": None,
        "finished_at": None,
    }
    assert step["status"] == "empty"
    assert step["version"] == 0


def test_a_second_request_while_queued_or_running_returns_the_same_task(rig: Rig) -> None:
    sid = rig.start()
    first = onboarding.request_ai(sid, 6, rig.mine, "a", deps=rig.deps)
    assert onboarding.request_ai(sid, 6, rig.mine, "b", deps=rig.deps) == first
    assert onboarding.record_ai(sid, 6, first["task_id"], {"status": "running", "attempts": 1}, deps=rig.deps)
    again = onboarding.request_ai(sid, 6, rig.mine, "c", deps=rig.deps)
    assert again["task_id"] == first["task_id"]
    assert again["status"] == "running"
    assert len(rig.tasks.tasks) == 1


def test_after_the_task_finished_a_new_request_is_a_new_task(rig: Rig) -> None:
    sid = rig.start()
    first = onboarding.request_ai(sid, 6, rig.mine, "a", deps=rig.deps)
    suggestion = {"pricing_model": "recurring", "core_deliverable": "Monthly GST reconciliation"}
    assert onboarding.record_ai(
        sid,
        6,
        first["task_id"],
        {"status": "succeeded", "attempts": 1, "suggestion": suggestion, "model": "m"},
        deps=rig.deps,
    )
    step = rig.read(sid)["steps"][5]
    assert step["ai"]["suggestion"] == suggestion
    assert step["data"] is None
    second = onboarding.request_ai(sid, 6, rig.mine, "b", deps=rig.deps)
    assert second["task_id"] == ai_task_name(sid, 6, 2)
    assert not onboarding.record_ai(sid, 6, first["task_id"], {"status": "failed"}, deps=rig.deps)  # superseded
    assert len(rig.tasks.tasks) == 2


def test_suggestion_does_not_touch_the_saved_step(rig: Rig) -> None:
    sid = rig.start()
    rig.save(sid, 6, {"pricing_model": "hybrid"}, draft=True)
    task = onboarding.request_ai(sid, 6, rig.mine, "a", deps=rig.deps)["task_id"]
    onboarding.record_ai(sid, 6, task, {"status": "succeeded", "suggestion": {"pricing_model": "usage"}}, deps=rig.deps)
    step = rig.read(sid)["steps"][5]
    assert step["data"] == {"pricing_model": "hybrid"}
    assert step["version"] == 1
    assert rig.save(sid, 6, {"pricing_model": "usage"}, draft=True, version=1)["step"]["ai"]["status"] == "succeeded"


def test_queue_down_is_503_and_the_step_is_not_left_queued(rig: Rig) -> None:
    sid = rig.start()
    rig.tasks.down = True
    with pytest.raises(ServiceUnavailable) as err:
        onboarding.request_ai(sid, 2, rig.mine, "a", deps=rig.deps)
    assert err.value.code == "tasks_unavailable"
    assert rig.read(sid)["steps"][1]["ai"]["status"] == "idle"
    rig.tasks.down = False
    out = onboarding.request_ai(sid, 2, rig.mine, "b", deps=rig.deps)
    assert out["status"] == "queued"
    assert out["task_id"] == ai_task_name(sid, 2, 2)


def test_record_ai_refuses_unknown_fields(rig: Rig) -> None:
    sid = rig.start()
    with pytest.raises(ValueError, match="unknown ai fields"):
        onboarding.record_ai(sid, 2, "t", {"data": {}}, deps=rig.deps)
