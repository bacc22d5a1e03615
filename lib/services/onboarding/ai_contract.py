"""The contract between ``POST /sessions/{id}/steps/{n}/ai`` and the ``onboarding_ai`` worker.

The endpoint (``lib.services.onboarding.request_ai``) writes the step's ``ai`` state as
``queued`` in the session document, then enqueues one Cloud Task on
``settings.tasks_queue_ai`` to ``<functions_base_url>/onboarding_ai/`` whose JSON
body is an ``AiTaskPayload``.  The task's name is ``ai_task_name(...)``: the
session, the step and the step's request counter, so a task is created once per
request and a second request while one is queued or running returns that one.

The worker reads the document (``steps.sNN.data`` of the earlier steps) and
records progress with ``lib.services.onboarding.record_ai(...)``, which updates the
durable document and the hot cache together and ignores a superseded task
(``task_id`` no longer the step's).  ``ai`` fields, under ``steps.sNN.ai``:

    status       idle | queued | running | succeeded | failed
    attempts     int: attempts made so far
    suggestion   the model's validated proposal (same shape as the step's data) or null
    error        why the last attempt failed, or null
    model        model id that produced the suggestion, or null
    finished_at  ISO-8601 time the task ended (succeeded or failed), or null
    task_id      the task name of the current request
    requests     the request counter (internal; part of the task name)
    requested_at ISO-8601 time of the current request
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

AiStatus = Literal["idle", "queued", "running", "succeeded", "failed"]
IDLE: AiStatus = "idle"
QUEUED: AiStatus = "queued"
RUNNING: AiStatus = "running"
SUCCEEDED: AiStatus = "succeeded"
FAILED: AiStatus = "failed"
# A request while the step's task is in one of these returns that task instead of a new one.
IN_FLIGHT: frozenset[str] = frozenset({QUEUED, RUNNING})
# The fields ``GET /sessions/{id}`` shows of a step's AI state (the rest is bookkeeping).
PUBLIC_AI_FIELDS = ("status", "attempts", "suggestion", "error", "model", "finished_at")
# The worker's path under the functions base URL.
WORKER_PATH = "/onboarding_ai/"


class AiTaskPayload(TypedDict):
    """The Cloud Task body the ``onboarding_ai`` worker receives."""

    session_id: str
    workspace_id: str
    step: int  # 1-23, a step with an ai_task
    request_id: str  # the HTTP request that asked for it (log correlation)
    task_id: NotRequired[str]  # the task name; the worker ignores a task that is no longer the step's


def ai_task_name(session_id: str, step: int, request_counter: int) -> str:
    """The task name (Cloud Tasks de-dup key) of one AI request."""
    return f"onboarding-ai-{session_id}-s{step:02d}-r{request_counter}"


def idle_ai() -> dict[str, Any]:
    """A step's AI state before anything was asked."""
    return {"status": IDLE, "attempts": 0, "suggestion": None, "error": None, "model": None, "finished_at": None}


def queued_ai(task_id: str, requests: int, requested_at: str) -> dict[str, Any]:
    """The AI state the endpoint writes when it enqueues a task."""
    return {
        **idle_ai(),
        "status": QUEUED,
        "task_id": task_id,
        "requests": requests,
        "requested_at": requested_at,
    }
