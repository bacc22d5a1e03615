"""The local Cloud Tasks dispatcher delivering over real HTTP to a receiver.

Backoffs and delays run under ``time_scale`` so a retry ladder of seconds
takes tens of milliseconds; the assertions check the ladder's shape.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client

from devtools.local.dispatcher import LocalTaskDispatcher, RetryConfig
from devtools.local.services import free_port
from lib.adapters.local_tasks import LocalTasksClient
from lib.errors import AlreadyExists, Missing, Rejected, Unavailable
from lib.ports import TaskQueue, TaskRequest
from lib.testing.receiver import RecordingReceiver

SCALE = 0.05  # 1 s of queue backoff = 50 ms here
FAST = RetryConfig(max_attempts=4, min_backoff_s=1, max_backoff_s=10)


def tokens(audience: str) -> str:
    return f"token-for:{audience}"


@pytest.fixture
def dispatcher() -> Iterator[LocalTaskDispatcher]:
    d = LocalTaskDispatcher({"fast": FAST}, token_source=tokens, time_scale=SCALE).start()
    yield d
    d.stop()


def test_2xx_acks_once(dispatcher: LocalTaskDispatcher) -> None:
    with RecordingReceiver([204]) as receiver:
        task = dispatcher.create("fast", f"{receiver.url}/work", {"n": 1})
        dispatcher.drain(5)
        time.sleep(3 * FAST.min_backoff_s * SCALE)  # a redelivery would have happened by now
        assert len(receiver.requests) == 1
    finished = dispatcher.task(task.name)
    assert finished is not None
    assert (finished.state, finished.attempts, finished.last_status) == ("succeeded", 1, 204)
    assert dispatcher.failed == []


def test_500_is_retried_with_growing_backoff_and_retry_count(dispatcher: LocalTaskDispatcher) -> None:
    with RecordingReceiver([500, 500, 500, 200]) as receiver:
        dispatcher.create("fast", receiver.url, {"n": 1})
        got = receiver.wait_for(4)
        dispatcher.drain(5)
    assert [r.headers["X-Cloudtasks-Taskretrycount"] for r in got] == ["0", "1", "2", "3"]
    assert [r.headers["X-Cloudtasks-Taskexecutioncount"] for r in got] == ["0", "1", "2", "3"]
    assert "X-Cloudtasks-Taskpreviousresponse" not in got[0].headers
    assert got[1].headers["X-Cloudtasks-Taskpreviousresponse"] == "500"
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    expected = [FAST.backoff_s(n) * SCALE for n in range(3)]  # 50, 100, 200 ms
    for gap, want in zip(gaps, expected, strict=True):
        assert gap >= want * 0.9, (gaps, expected)
    # the lower bounds alone prove growth: a flat 50 ms ladder fails the third
    assert dispatcher.finished[-1].state == "succeeded"


def test_gives_up_after_max_attempts_and_records_the_failure(dispatcher: LocalTaskDispatcher) -> None:
    with RecordingReceiver([503]) as receiver:
        task = dispatcher.create("fast", receiver.url, {"n": 1})
        dispatcher.drain(5)
        time.sleep(FAST.backoff_s(4) * SCALE)
        assert len(receiver.requests) == FAST.max_attempts
    assert [t.name for t in dispatcher.failed] == [task.name]
    failed = dispatcher.failed[0]
    assert (failed.attempts, failed.responses, failed.last_status) == (4, 4, 503)


def test_connection_errors_count_as_attempts_without_executions() -> None:
    config = RetryConfig(max_attempts=2, min_backoff_s=0.1, max_backoff_s=0.1)
    with LocalTaskDispatcher({"q": config}, time_scale=SCALE) as d:
        d.create("q", f"http://127.0.0.1:{free_port()}/nobody-home", {})
        d.drain(5)
    (failed,) = d.failed
    assert (failed.attempts, failed.responses, failed.last_status) == (2, 0, None)
    assert failed.last_error is not None
    assert "Connect" in failed.last_error


def test_headers_and_body(dispatcher: LocalTaskDispatcher) -> None:
    with RecordingReceiver() as receiver:
        before = time.time()
        task = dispatcher.create(
            "fast",
            f"{receiver.url}/bcm_rebuild/run",
            {"workspace_id": "w1", "n": [1, 2]},
            name="rebuild:w1",
            headers={"X-Request-Id": "req-1"},
            audience="https://functions.example",
        )
        (req,) = receiver.wait_for(1)
        dispatcher.drain(5)
    assert req.method == "POST"
    assert req.path == "/bcm_rebuild/run"
    assert json.loads(req.body) == {"workspace_id": "w1", "n": [1, 2]}
    h = req.headers
    assert h["Content-Type"] == "application/json"
    assert h["Authorization"] == "Bearer token-for:https://functions.example"
    assert h["X-Cloudtasks-Queuename"] == "fast"
    assert h["X-Cloudtasks-Taskname"] == task.name.rsplit("/", 1)[-1]
    assert task.name.startswith("projects/local/locations/local/queues/fast/tasks/rebuild_w1-")
    assert before - 1 <= float(h["X-Cloudtasks-Tasketa"]) <= time.time()
    assert h["X-Request-Id"] == "req-1"


def test_audience_defaults_to_the_task_url(dispatcher: LocalTaskDispatcher) -> None:
    with RecordingReceiver() as receiver:
        url = f"{receiver.url}/x"
        dispatcher.create("fast", url, {})
        (req,) = receiver.wait_for(1)
    assert req.headers["Authorization"] == f"Bearer token-for:{url}"


def test_name_dedup_while_pending_and_after_completion() -> None:
    with LocalTaskDispatcher({"q": FAST}, time_scale=SCALE, name_reservation_s=0.3) as d, RecordingReceiver() as r:
        first = d.create("q", r.url, {}, name="once", delay_s=2)  # pending for 100 ms
        with pytest.raises(AlreadyExists) as err:
            d.create("q", r.url, {}, name="once")
        assert err.value.details["name"] == first.name
        d.drain(5)
        with pytest.raises(AlreadyExists):
            d.create("q", r.url, {}, name="once")  # finished, still reserved
        time.sleep(0.35)
        again = d.create("q", r.url, {}, name="once")  # reservation over
        assert again.name == first.name
        d.drain(5)
        assert len(r.requests) == 2
        # an unknown queue answers Missing (Cloud Tasks: NOT_FOUND)
        with pytest.raises(Missing):
            d.create("other", r.url, {}, name="once")


def test_delay_postpones_delivery(dispatcher: LocalTaskDispatcher) -> None:
    with RecordingReceiver() as receiver:
        start = time.monotonic()
        dispatcher.create("fast", receiver.url, {}, delay_s=4)  # 200 ms scaled
        assert len(dispatcher.pending()) == 1
        (req,) = receiver.wait_for(1)
        dispatcher.drain(5)
    assert req.at - start >= 4 * SCALE * 0.9


def test_unknown_queue_uses_the_default_config_when_given() -> None:
    with (
        LocalTaskDispatcher({}, default_retry=FAST, time_scale=SCALE) as d,
        RecordingReceiver([500, 200]) as r,
    ):
        d.create("anything", r.url, {})
        r.wait_for(2)
        d.drain(5)
    assert d.finished[0].attempts == 2


def test_pending_tasks_and_reservations_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "tasks.json"
    with RecordingReceiver() as receiver:
        first = LocalTaskDispatcher({"q": FAST}, time_scale=SCALE, state_path=state)
        first.create("q", receiver.url, {"keep": True}, name="survivor")
        first.stop()  # never started: the task is only in the file
        assert receiver.requests == []
        assert json.loads(state.read_text())["tasks"][0]["payload"] == {"keep": True}

        second = LocalTaskDispatcher({"q": FAST}, time_scale=SCALE, state_path=state)
        assert [t.name.rsplit("/", 1)[-1] for t in second.pending()] == ["survivor"]
        with pytest.raises(AlreadyExists):
            second.create("q", receiver.url, {}, name="survivor")
        with second:
            (req,) = receiver.wait_for(1)
            second.drain(5)
        assert json.loads(req.body) == {"keep": True}

        third = LocalTaskDispatcher({"q": FAST}, state_path=state)
        assert third.pending() == []
        with pytest.raises(AlreadyExists):  # finished, still reserved across the restart
            third.create("q", receiver.url, {}, name="survivor")


def test_unreadable_state_file_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / "tasks.json"
    state.write_text("{not json")
    d = LocalTaskDispatcher({"q": FAST}, state_path=state)
    assert d.pending() == []


def test_wait_idle_times_out_while_work_remains() -> None:
    d = LocalTaskDispatcher({"q": FAST})  # not started: nothing is delivered
    d.create("q", "http://127.0.0.1:1/", {})
    assert d.wait_idle(0.05) is False
    with pytest.raises(TimeoutError):
        d.drain(0.05)


# --- the WSGI app and the HTTP client ---------------------------------------------------


def test_wsgi_app_create_conflict_errors_and_index() -> None:
    d = LocalTaskDispatcher({"q": FAST})
    client = Client(d.wsgi_app())
    created = client.post("/queues/q/tasks", json={"url": "http://x/y", "payload": {"a": 1}, "name": "n1"})
    assert created.status_code == 201
    assert created.json is not None
    assert created.json["name"] == "projects/local/locations/local/queues/q/tasks/n1"
    dup = client.post("/queues/q/tasks", json={"url": "http://x/y", "payload": {}, "name": "n1"})
    assert dup.status_code == 409
    assert dup.json == {"code": "already_exists", "name": "projects/local/locations/local/queues/q/tasks/n1"}
    assert client.post("/queues/nope/tasks", json={"url": "http://x", "payload": {}}).status_code == 404
    assert client.post("/queues/q/tasks", json={"payload": {}}).status_code == 400
    assert client.post("/queues/q/tasks", data="junk", content_type="application/json").status_code == 400
    bad_delay = client.post("/queues/q/tasks", json={"url": "http://x", "payload": {}, "delay_s": "soon"})
    assert bad_delay.status_code == 400
    assert client.get("/nowhere").status_code == 404
    assert client.get("/queues/q/tasks").status_code == 405
    index = client.get("/")
    assert index.status_code == 200
    assert index.json is not None
    assert index.json["queues"]["q"]["pending"] == 1
    assert index.json["queues"]["q"]["max_attempts"] == FAST.max_attempts
    assert [t["name"] for t in index.json["tasks"]] == ["projects/local/locations/local/queues/q/tasks/n1"]
    assert index.json["tasks"][0]["state"] == "pending"


@pytest.fixture
def served() -> Iterator[tuple[LocalTaskDispatcher, str]]:
    d = LocalTaskDispatcher({"q": FAST}, token_source=tokens, time_scale=SCALE).start()
    server = make_server("127.0.0.1", 0, d.wsgi_app(), threaded=True)
    import threading

    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield d, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    d.stop()


def test_local_tasks_client_over_http(served: tuple[LocalTaskDispatcher, str]) -> None:
    d, base = served
    client = LocalTasksClient(base, audience="aud-1")
    assert isinstance(client, TaskQueue)
    with RecordingReceiver() as receiver:
        name = client.enqueue(TaskRequest(queue="q", url=receiver.url, payload={"x": 1}, name="t-1"))
        assert name == "projects/local/locations/local/queues/q/tasks/t-1"
        with pytest.raises(AlreadyExists):
            client.enqueue(TaskRequest(queue="q", url=receiver.url, payload={}, name="t-1"))
        with pytest.raises(Missing):
            client.enqueue(TaskRequest(queue="nope", url=receiver.url, payload={}))
        (req,) = receiver.wait_for(1)
        d.drain(5)
    assert json.loads(req.body) == {"x": 1}
    assert req.headers["Authorization"] == "Bearer token-for:aud-1"


def test_local_tasks_client_translates_transport_and_server_errors() -> None:
    task = TaskRequest(queue="q", url="http://x", payload={})
    with pytest.raises(Unavailable):
        LocalTasksClient(f"http://127.0.0.1:{free_port()}").enqueue(task)
    with RecordingReceiver([500]) as broken, pytest.raises(Unavailable):
        LocalTasksClient(broken.url).enqueue(task)
    with RecordingReceiver([400]) as picky, pytest.raises(Rejected):
        LocalTasksClient(picky.url).enqueue(task)


def test_dispatcher_is_a_task_queue_in_process(dispatcher: LocalTaskDispatcher) -> None:
    assert isinstance(dispatcher, TaskQueue)
    with RecordingReceiver() as receiver:
        name = dispatcher.enqueue(TaskRequest(queue="fast", url=receiver.url, payload={"y": 2}, delay_s=0))
        receiver.wait_for(1)
        dispatcher.drain(5)
    assert dispatcher.task(name.rsplit("/", 1)[-1]) is not None
    assert dispatcher.task("never-seen") is None
