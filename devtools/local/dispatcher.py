"""A local stand-in for Cloud Tasks with its delivery semantics.

Workers written for Cloud Tasks rely on a few behaviours, reproduced here so
they are exercised locally with the same code: an HTTP POST of the task's
body with an OIDC bearer token and the ``X-CloudTasks-*`` headers; 2xx acks,
anything else (or no answer) is retried with the queue's backoff
(``min_backoff`` doubled ``max_doublings`` times, then growing linearly, capped
at ``max_backoff``) until ``max_attempts``, after which the task is dropped and
recorded as failed; a task name stays reserved for a while after the task
finished (Cloud Tasks: about an hour), so re-creating it answers
already-exists; ``schedule_time`` delays.

``LocalTaskDispatcher`` runs the queues on background threads (optionally
persisting pending tasks to a JSON file so restarts lose nothing) and exposes
a WSGI app (``POST /queues/<queue>/tasks``, ``GET /``) that the dev server
mounts at ``/_dev/tasks``.  ``lib.adapters.local_tasks.LocalTasksClient`` is
the ``TaskQueue`` adapter that talks to that app over HTTP, as the real adapter
talks to Cloud Tasks.
``time_scale`` shrinks backoffs and delays so tests run retries in
milliseconds.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from lib.adapters.task_names import function_audience, task_id
from lib.errors import AlreadyExists, Missing
from lib.ports import TaskRequest
from lib.queues import AI, BCM, OUTBOX, PAYMENTS, RetryConfig

log = logging.getLogger(__name__)

SERVICE = "local_tasks"


# The queues' configs come from lib/queues.json, the file Terraform creates the real queues from.
AI_RETRY = AI.retry
BCM_RETRY = BCM.retry
PAYMENTS_RETRY = PAYMENTS.retry
OUTBOX_RETRY = OUTBOX.retry

# Cloud Tasks keeps a finished task's name reserved for about an hour.
NAME_RESERVATION_S = 3600.0
# How long one delivery may take before it counts as a failed attempt
# (the AI worker's own limit is 30 s).
DISPATCH_DEADLINE_S = 60.0
# Finished tasks kept for the ``GET /`` view.
HISTORY_SIZE = 200
DEFAULT_WORKERS = 4


def standard_queues(*, ai: str, bcm: str, payments: str, outbox: str) -> dict[str, RetryConfig]:
    """The four queues under their configured names (``Settings.tasks_queue_*``)."""
    return {ai: AI_RETRY, bcm: BCM_RETRY, payments: PAYMENTS_RETRY, outbox: OUTBOX_RETRY}


TokenSource = Callable[[str], str]


@dataclass
class LocalTask:
    """One task and its delivery record (what ``GET /`` shows)."""

    queue: str
    name: str  # full name: projects/.../queues/<q>/tasks/<id>
    url: str
    payload: Any
    headers: dict[str, str]
    audience: str
    eta: float  # epoch seconds of the next attempt
    created: float
    attempts: int = 0  # dispatches so far (X-CloudTasks-TaskRetryCount of the next one)
    responses: int = 0  # dispatches that got an HTTP answer (…TaskExecutionCount)
    last_status: int | None = None
    last_error: str | None = None
    state: str = "pending"  # pending | running | succeeded | failed

    def view(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("payload")
        return out


@dataclass
class _State:
    tasks: dict[str, LocalTask] = field(default_factory=dict)  # pending and running, by full name
    reserved: dict[str, float] = field(default_factory=dict)  # full name -> reserved until (epoch s)
    history: deque[LocalTask] = field(default_factory=lambda: deque(maxlen=HISTORY_SIZE))


class LocalTaskDispatcher:
    """Cloud Tasks semantics on local threads; see the module docstring."""

    def __init__(
        self,
        queues: Mapping[str, RetryConfig],
        *,
        token_source: TokenSource | None = None,
        default_retry: RetryConfig | None = None,
        time_scale: float = 1.0,
        state_path: Path | str | None = None,
        project: str = "local",
        location: str = "local",
        workers: int = DEFAULT_WORKERS,
        dispatch_deadline_s: float = DISPATCH_DEADLINE_S,
        name_reservation_s: float = NAME_RESERVATION_S,
        http: httpx.Client | None = None,
    ) -> None:
        self.queues = dict(queues)
        self._token_source = token_source
        self._default_retry = default_retry
        self.time_scale = time_scale
        self._state_path = Path(state_path) if state_path else None
        self._prefix = f"projects/{project}/locations/{location}/queues"
        self._workers = workers
        self._name_reservation_s = name_reservation_s
        self._http = http or httpx.Client(timeout=dispatch_deadline_s)
        self._cond = threading.Condition()
        self._state = _State()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._stopping = False
        self._load()

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> LocalTaskDispatcher:
        with self._cond:
            if self._thread is not None:
                return self
            self._stopping = False
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="local-tasks")
            self._thread = threading.Thread(target=self._loop, name="local-tasks-scheduler", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop scheduling, let in-flight deliveries finish, persist what is pending."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, pool = self._thread, self._pool
            self._thread = self._pool = None
        if thread is not None:
            thread.join(timeout)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # not-yet-started deliveries stay pending
        with self._cond:
            for task in self._state.tasks.values():
                task.state = "pending"
            self._persist()

    def __enter__(self) -> LocalTaskDispatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- creating tasks ----------------------------------------------------------------
    def retry_config(self, queue: str) -> RetryConfig:
        config = self.queues.get(queue, self._default_retry)
        if config is None:
            raise Missing(f"queue {queue} not found", SERVICE, queue=queue)
        return config

    def create(
        self,
        queue: str,
        url: str,
        payload: Any,
        *,
        name: str | None = None,
        delay_s: float = 0.0,
        headers: Mapping[str, str] | None = None,
        audience: str | None = None,
    ) -> LocalTask:
        """Add a task; ``AlreadyExists`` when its name is taken or still reserved."""
        self.retry_config(queue)
        full = f"{self._prefix}/{queue}/tasks/{task_id(name) if name else uuid.uuid4().hex}"
        now = time.time()
        with self._cond:
            self._expire_reservations(now)
            if full in self._state.tasks or full in self._state.reserved:
                raise AlreadyExists(f"task {full} exists", SERVICE, name=full)
            task = LocalTask(
                queue=queue,
                name=full,
                url=url,
                payload=payload,
                headers=dict(headers or {}),
                audience=audience or function_audience(url),
                eta=now + max(0.0, delay_s) * self.time_scale,
                created=now,
            )
            self._state.tasks[full] = task
            if name:
                self._state.reserved[full] = float("inf")  # until it finishes (+ the reservation)
            self._persist()
            self._cond.notify_all()
            return task

    def enqueue(self, task: TaskRequest) -> str:
        """``TaskQueue`` in-process (no HTTP hop)."""
        created = self.create(
            task.queue, task.url, dict(task.payload), name=task.name, delay_s=task.delay_s, headers=task.headers
        )
        return created.name

    # --- observing ----------------------------------------------------------------------
    def task(self, name: str) -> LocalTask | None:
        """A task by full name or id: pending, running or recently finished."""
        with self._cond:
            for t in [*self._state.tasks.values(), *reversed(self._state.history)]:
                if name in (t.name, t.name.rsplit("/", 1)[-1]):
                    return t
            return None

    @property
    def finished(self) -> list[LocalTask]:
        with self._cond:
            return list(self._state.history)

    @property
    def failed(self) -> list[LocalTask]:
        return [t for t in self.finished if t.state == "failed"]

    def pending(self) -> list[LocalTask]:
        with self._cond:
            return sorted(self._state.tasks.values(), key=lambda t: t.eta)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no task is pending or running; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._state.tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def drain(self, timeout: float = 10.0) -> None:
        """``wait_idle`` that raises ``TimeoutError`` (for tests)."""
        if not self.wait_idle(timeout):
            raise TimeoutError(f"tasks still pending after {timeout}s: {[t.name for t in self.pending()]}")

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            pending = sorted(self._state.tasks.values(), key=lambda t: t.eta)
            return {
                "queues": {
                    q: {**asdict(c), "pending": sum(1 for t in pending if t.queue == q)} for q, c in self.queues.items()
                },
                "tasks": [t.view() for t in pending],
                "finished": [t.view() for t in reversed(self._state.history)],
            }

    # --- scheduling and delivery -----------------------------------------------------------
    def _loop(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.time()
                due = [t for t in self._state.tasks.values() if t.state == "pending" and t.eta <= now]
                for task in sorted(due, key=lambda t: t.eta):
                    task.state = "running"
                    assert self._pool is not None
                    self._pool.submit(self._deliver, task)
                waiting = [t.eta for t in self._state.tasks.values() if t.state == "pending"]
                self._cond.wait(max(0.0, min(waiting) - now) if waiting else None)

    def _deliver(self, task: LocalTask) -> None:
        status: int | None = None
        error: str | None = None
        try:
            response = self._http.post(task.url, content=self._body(task), headers=self._headers(task))
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a token source failing must not kill the worker thread
            log.exception("local task %s could not be sent", task.name)
            error = f"{type(exc).__name__}: {exc}"
        self._record(task, status, error)

    @staticmethod
    def _body(task: LocalTask) -> bytes:
        return json.dumps(task.payload, separators=(",", ":"), default=str).encode()

    def _headers(self, task: LocalTask) -> dict[str, str]:
        headers = {
            **task.headers,
            "Content-Type": "application/json",
            "User-Agent": "Google-Cloud-Tasks",
            "X-CloudTasks-QueueName": task.queue,
            "X-CloudTasks-TaskName": task.name.rsplit("/", 1)[-1],
            "X-CloudTasks-TaskRetryCount": str(task.attempts),
            "X-CloudTasks-TaskExecutionCount": str(task.responses),
            "X-CloudTasks-TaskETA": f"{task.eta:.6f}",
        }
        if task.last_status is not None:
            headers["X-CloudTasks-TaskPreviousResponse"] = str(task.last_status)
        if self._token_source is not None:
            headers["Authorization"] = f"Bearer {self._token_source(task.audience)}"
        return headers

    def _record(self, task: LocalTask, status: int | None, error: str | None) -> None:
        config = self.queues.get(task.queue, self._default_retry)
        now = time.time()
        with self._cond:
            task.attempts += 1
            task.last_status, task.last_error = status, error
            if status is not None:
                task.responses += 1
            if status is not None and 200 <= status < 300:
                self._finish(task, "succeeded", now)
            elif config is None or config.gives_up_after(task.attempts):
                log.warning("local task %s failed after %d attempts (%s)", task.name, task.attempts, status or error)
                self._finish(task, "failed", now)
            else:
                task.eta = now + config.backoff_s(task.attempts - 1) * self.time_scale
                task.state = "pending"
            self._persist()
            self._cond.notify_all()

    def _finish(self, task: LocalTask, state: str, now: float) -> None:
        task.state = state
        self._state.tasks.pop(task.name, None)
        self._state.history.append(task)
        if task.name in self._state.reserved:
            self._state.reserved[task.name] = now + self._name_reservation_s

    def _expire_reservations(self, now: float) -> None:
        for name in [n for n, until in self._state.reserved.items() if until <= now]:
            del self._state.reserved[name]

    # --- persistence ---------------------------------------------------------------------------
    def _persist(self) -> None:
        if self._state_path is None:
            return
        data = {
            "tasks": [asdict(t) for t in self._state.tasks.values()],
            "reserved": {n: u for n, u in self._state.reserved.items() if u != float("inf")},
        }
        tmp = self._state_path.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, default=str))
        os.replace(tmp, self._state_path)

    def _load(self) -> None:
        if self._state_path is None or not self._state_path.exists():
            return
        try:
            data = json.loads(self._state_path.read_text())
            tasks = [LocalTask(**{**t, "state": "pending"}) for t in data.get("tasks", [])]
        except (ValueError, TypeError) as exc:
            log.warning("ignoring unreadable task state %s: %s", self._state_path, exc)
            return
        now = time.time()
        self._state.reserved = {n: float(u) for n, u in data.get("reserved", {}).items() if float(u) > now}
        for task in tasks:
            self._state.tasks[task.name] = task
            self._state.reserved.setdefault(task.name, float("inf"))

    # --- the WSGI app ------------------------------------------------------------------------------
    def wsgi_app(self) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
        """``POST /queues/<queue>/tasks`` and ``GET /``, for ``/_dev/tasks``."""
        return _TasksApp(self)


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


class _TasksApp:
    _urls = Map(
        [
            Rule("/", endpoint="index", methods=["GET"]),
            Rule("/queues/<queue>/tasks", endpoint="create", methods=["POST"]),
        ],
        strict_slashes=False,
    )

    def __init__(self, dispatcher: LocalTaskDispatcher) -> None:
        self.dispatcher = dispatcher

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, args = self._urls.bind_to_environ(environ).match()
            response = self.index() if endpoint == "index" else self.create(request, args["queue"])
        except NotFound:
            response = _json({"code": "not_found"}, 404)
        except HTTPException as exc:
            response = _json({"code": (exc.name or "error").lower().replace(" ", "_")}, exc.code or 400)
        return response(environ, start_response)

    def index(self) -> Response:
        return _json(self.dispatcher.snapshot(), 200)

    def create(self, request: Request, queue: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("url"), str) or "payload" not in body:
            return _json({"code": "bad_request", "detail": "need a JSON object with url and payload"}, 400)
        try:
            delay_s = float(body.get("delay_s") or 0)
            headers = {str(k): str(v) for k, v in dict(body.get("headers") or {}).items()}
        except (TypeError, ValueError):
            return _json({"code": "bad_request", "detail": "delay_s must be a number, headers an object"}, 400)
        try:
            task = self.dispatcher.create(
                queue,
                body["url"],
                body["payload"],
                name=body.get("name") or None,
                delay_s=delay_s,
                headers=headers,
                audience=body.get("audience") or None,
            )
        except AlreadyExists as exc:
            return _json({"code": "already_exists", "name": exc.details.get("name")}, 409)
        except Missing:
            return _json({"code": "queue_not_found", "queue": queue}, 404)
        return _json({"name": task.name}, 201)
