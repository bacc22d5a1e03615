"""The Cloud Tasks adapter's request, checked against a hand-written client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc

from lib.adapters.cloud_tasks import MAX_TASK_ID, CloudTasksQueue, task_id
from lib.errors import AdapterError, AlreadyExists, Missing, Rejected, Unavailable
from lib.ports import TaskQueue, TaskRequest
from lib.testing.fakes import DEFAULT_EPOCH, FixedClock


@dataclass
class Created:
    name: str


@dataclass
class FakeTasksClient:
    """Records ``create_task`` calls; raises ``error`` when primed."""

    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def create_task(self, *, parent: str, task: Any, timeout: float) -> Created:
        self.calls.append({"parent": parent, "task": task, "timeout": timeout})
        if self.error is not None:
            raise self.error
        return Created(task.name or f"{parent}/tasks/1234")


def make_queue(client: FakeTasksClient, audience: str | None = None) -> CloudTasksQueue:
    return CloudTasksQueue(
        "proj",
        "asia-south1",
        invoker_email="invoker@proj.iam.gserviceaccount.com",
        audience=audience,
        client=client,
        clock=FixedClock(),
    )


def test_builds_an_http_post_with_json_oidc_name_and_schedule() -> None:
    client = FakeTasksClient()
    queue = make_queue(client, audience="https://fn.example")
    assert isinstance(queue, TaskQueue)
    name = queue.enqueue(
        TaskRequest(
            queue="bcm-rebuild",
            url="https://fn.example/bcm_rebuild",
            payload={"workspace_id": "w1", "version": 3},
            name="ws-w1-v3",
            delay_s=90,
            headers={"X-Request-Id": "r1"},
        )
    )
    (call,) = client.calls
    parent = "projects/proj/locations/asia-south1/queues/bcm-rebuild"
    assert call["parent"] == parent
    assert call["timeout"] > 0
    task = call["task"]
    assert name == task.name == f"{parent}/tasks/ws-w1-v3"
    req = task.http_request
    assert req.url == "https://fn.example/bcm_rebuild"
    assert req.http_method.name == "POST"
    assert dict(req.headers) == {"X-Request-Id": "r1", "Content-Type": "application/json"}
    assert json.loads(req.body) == {"workspace_id": "w1", "version": 3}
    assert req.oidc_token.service_account_email == "invoker@proj.iam.gserviceaccount.com"
    assert req.oidc_token.audience == "https://fn.example"
    assert task.schedule_time == DEFAULT_EPOCH + timedelta(seconds=90)


def test_unnamed_immediate_task_has_no_name_or_schedule_and_audience_is_the_url() -> None:
    client = FakeTasksClient()
    name = make_queue(client).enqueue(TaskRequest(queue="q", url="https://fn.example/ai", payload={}))
    task = client.calls[0]["task"]
    assert task.name == ""
    assert not task.schedule_time  # unset
    assert task.http_request.oidc_token.audience == "https://fn.example/ai"
    assert name == "projects/proj/locations/asia-south1/queues/q/tasks/1234"


def test_task_ids_are_valid_and_distinct() -> None:
    assert task_id("order-123_retry") == "order-123_retry"
    a, b = task_id("a.b"), task_id("a_b")
    assert a != b
    assert a.startswith("a_b-")
    assert b == "a_b"
    long = task_id("x" * 2000)
    assert len(long) == MAX_TASK_ID
    assert task_id("x" * 2000) == long
    assert task_id("x" * 2000) != task_id("x" * 1999)
    assert task_id("") != ""
    for tid in (a, long, task_id("ünï/códe:1")):
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in tid)


@pytest.mark.parametrize(
    ("vendor", "ours"),
    [
        (gexc.AlreadyExists("dup"), AlreadyExists),
        (gexc.NotFound("no queue"), Missing),
        (gexc.ServiceUnavailable("down"), Unavailable),
        (gexc.DeadlineExceeded("slow"), Unavailable),
        (gexc.FailedPrecondition("paused"), Unavailable),
        (gexc.PermissionDenied("no"), Rejected),
        (gexc.InvalidArgument("bad"), Rejected),
        (auth_exc.TransportError("metadata"), Unavailable),
        (auth_exc.RefreshError("revoked"), Rejected),
    ],
)
def test_vendor_errors_are_translated(vendor: Exception, ours: type[AdapterError]) -> None:
    queue = make_queue(FakeTasksClient(error=vendor))
    with pytest.raises(ours) as err:
        queue.enqueue(TaskRequest(queue="q", url="https://x", payload={}, name="n"))
    assert err.value.__cause__ is vendor
    assert err.value.service == "cloud_tasks"


def test_no_client_is_built_until_first_use() -> None:
    queue = CloudTasksQueue("p", "l", invoker_email="e@x")
    assert not queue._client.built  # building needs credentials: only on first enqueue
