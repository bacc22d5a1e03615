"""``TaskQueue`` on Cloud Tasks (google-cloud-tasks).

Each task is an HTTP POST of a JSON body to a worker function, with an OIDC
token minted by Cloud Tasks as ``invoker_email`` (the worker verifies it).
A named task is de-duplicated by Cloud Tasks itself: creating the same name
again (even ~1 h after it ran) is ``AlreadyExists``, which callers treat as
"already scheduled".  Retries and backoff are the queue's config (Terraform),
not this module's.  The client is built on first use.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from lib.adapters.google_errors import google_errors
from lib.adapters.lazy import Lazy
from lib.adapters.task_names import MAX_TASK_ID, function_audience, task_id
from lib.ports import Clock, TaskRequest

__all__ = ["MAX_TASK_ID", "CloudTasksQueue", "task_id"]

SERVICE = "cloud_tasks"
# Creating a task is one small RPC; past this the caller should retry later.
CALL_TIMEOUT_S = 10.0


class CloudTasksQueue:
    """``lib.ports.TaskQueue`` over Cloud Tasks HTTP tasks with OIDC tokens."""

    def __init__(
        self,
        project: str,
        location: str,
        *,
        invoker_email: str,
        audience: str | None = None,
        client: Any | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._project = project
        self._location = location
        self._invoker_email = invoker_email
        self._audience = audience
        self._client: Lazy[Any] = Lazy(self._build_client, client)
        self._clock = clock

    @property
    def client(self) -> Any:
        return self._client.get()

    @staticmethod
    def _build_client() -> Any:
        from google.cloud import tasks_v2

        with _translated():
            return tasks_v2.CloudTasksClient()

    def queue_path(self, queue: str) -> str:
        return f"projects/{self._project}/locations/{self._location}/queues/{queue}"

    def build_task(self, task: TaskRequest) -> Any:
        """The ``tasks_v2.Task`` for a request (public so tests can inspect it)."""
        from google.cloud import tasks_v2

        headers = {**task.headers, "Content-Type": "application/json"}
        http_request = tasks_v2.HttpRequest(
            http_method=tasks_v2.HttpMethod.POST,
            url=task.url,
            headers=headers,
            body=json.dumps(task.payload, separators=(",", ":"), default=str).encode(),
            oidc_token=tasks_v2.OidcToken(
                service_account_email=self._invoker_email,
                audience=self._audience or function_audience(task.url),
            ),
        )
        fields: dict[str, Any] = {"http_request": http_request}
        if task.name:
            fields["name"] = f"{self.queue_path(task.queue)}/tasks/{task_id(task.name)}"
        if task.delay_s > 0:
            now = self._clock.now() if self._clock else datetime.now(UTC)
            fields["schedule_time"] = now + timedelta(seconds=task.delay_s)  # proto-plus marshals to Timestamp
        return tasks_v2.Task(**fields)

    def enqueue(self, task: TaskRequest) -> str:
        proto = self.build_task(task)
        with _translated():
            created = self.client.create_task(parent=self.queue_path(task.queue), task=proto, timeout=CALL_TIMEOUT_S)
        return str(created.name)


def _translated() -> AbstractContextManager[None]:
    """Google client exceptions -> ``lib.errors``: the one table in ``lib.adapters.google_errors``."""
    return google_errors(SERVICE)
