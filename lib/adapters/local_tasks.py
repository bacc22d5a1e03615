"""``TaskQueue`` over HTTP to the dev server's local Cloud Tasks dispatcher (``TASKS_MODE=local``).

The dispatcher itself (queues, retries, delivery) is developer tooling in
``devtools/local/dispatcher.py`` and never ships; this client is the production
side of that conversation, the counterpart of ``cloud_tasks.CloudTasksQueue``:
the container picks one of the two by ``TasksMode``, so deployed code imports
nothing from ``devtools``.  The dispatcher's app answers ``POST
/queues/<queue>/tasks`` with 201 (created), 409 (the name is taken or still
reserved) or 404 (no such queue); those map onto the port's errors.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

import httpx

from lib.errors import AlreadyExists, Missing, Rejected, Unavailable
from lib.ports import TaskRequest

SERVICE = "local_tasks"


class LocalTasksClient:
    """``lib.ports.TaskQueue`` over HTTP to a ``LocalTaskDispatcher``'s app."""

    # Creating a local task is instant; a slow answer means the dev server is stuck.
    TIMEOUT_S = 3.0

    def __init__(self, base_url: str, *, audience: str | None = None, http: httpx.Client | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._audience = audience
        self._http = http
        self._lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            with self._lock:
                if self._http is None:
                    self._http = httpx.Client(timeout=self.TIMEOUT_S)
        return self._http

    def enqueue(self, task: TaskRequest) -> str:
        body = {
            "url": task.url,
            "payload": dict(task.payload),
            "name": task.name,
            "delay_s": task.delay_s,
            "headers": dict(task.headers),
            "audience": self._audience,
        }
        try:
            response = self.http.post(
                f"{self._base}/queues/{task.queue}/tasks",
                content=json.dumps(body, default=str).encode(),
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}", SERVICE) from exc
        answer: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            answer = response.json()
        if response.status_code == 201:
            return str(answer["name"])
        if response.status_code == 409:
            raise AlreadyExists(f"task {answer.get('name') or task.name} exists", SERVICE, name=answer.get("name"))
        if response.status_code == 404:
            raise Missing(f"queue {task.queue} not found", SERVICE, queue=task.queue)
        if response.status_code >= 500:
            raise Unavailable(f"HTTP {response.status_code}", SERVICE)
        raise Rejected(f"HTTP {response.status_code}: {answer or response.text[:200]}", SERVICE)
