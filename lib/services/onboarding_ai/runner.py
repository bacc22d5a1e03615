"""Run one attempt of one step's AI task (the ``onboarding_ai`` worker's use case).

Cloud Tasks delivers the task up to ``MAX_ATTEMPTS`` times (the AI queue's
``max_attempts``); the worker answers 2xx to acknowledge and non-2xx to be
retried.  So each attempt:

1. reads the session through onboarding's ``read_document``; a
   missing, expired or no longer active session, a superseded task or one that
   already finished is acknowledged without work (retrying cannot help);
2. records ``ai.status = running`` and ``attempts = n`` (n from
   ``X-CloudTasks-TaskRetryCount`` + 1);
3. builds the prompt (the task's prompt file and the earlier steps' data), calls
   the model with the step's reduced schema and ``timeout_s``, and validates
   the answer with ``validate_step(..., draft=True)``: invalid output is a
   failed attempt like a timeout;
4. on success records ``succeeded`` with the normalized suggestion (200); on a
   failure before the last attempt records the error and answers 503 (retry);
   on the last attempt, or a failure retrying cannot fix (the model refused the
   request), records ``failed`` with the reason and answers 200 (acknowledged).

Suggestions live only in ``ai.suggestion``: the step's ``data`` is never written here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lib import ops_events
from lib.domain.onboarding import ACTIVE
from lib.domain.steps import STEPS, step_by_number, validate_step
from lib.errors import AdapterError, AppError, NotFound, ServiceUnavailable, Unavailable, Unprocessable
from lib.services import onboarding
from lib.services.onboarding import ai_contract as ai
from lib.services.onboarding import document as d
from lib.services.onboarding.errors import Gone
from lib.services.onboarding_ai.deps import SuggestionDeps
from lib.services.onboarding_ai.ports import InvalidOutput
from lib.services.onboarding_ai.prompts import build_prompt
from lib.services.onboarding_ai.schema import response_schema

log = logging.getLogger(__name__)

# Errors are shown to the user next to the step: keep them a readable size.
MAX_ERROR_CHARS = 500

ACK, RETRY = 200, 503


@dataclass(frozen=True)
class Outcome:
    """What one delivery did: the HTTP status for Cloud Tasks and a short, loggable body."""

    status_code: int
    result: str  # succeeded | retry | failed | skipped
    detail: str = ""
    attempt: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result, "attempt": self.attempt}
        if self.detail:
            out["detail"] = self.detail
        return {**out, **self.extra}


@dataclass(frozen=True)
class _Task:
    """The delivery being worked on."""

    session_id: str
    number: int
    task_id: str
    attempt: int


class _AttemptFailed(Exception):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason[:MAX_ERROR_CHARS]
        self.retryable = retryable


def run_suggestion(payload: Mapping[str, Any], *, retry_count: int, deps: SuggestionDeps) -> Outcome:
    """Run one delivery of one step's AI task; see the module docstring."""
    attempt = max(0, retry_count) + 1
    unusable = unusable_payload(payload, retry_count=retry_count)
    if unusable is not None:
        return unusable
    session_id, number = str(payload["session_id"]), int(payload["step"])
    try:
        row, doc = onboarding.read_document(session_id, deps=deps.onboarding)
    except (NotFound, Gone) as exc:
        return _skip(f"session {exc.code}", attempt, payload)
    except (ServiceUnavailable, AdapterError) as exc:
        return _retry_later(f"session store unavailable: {exc}", attempt, payload)
    if row.status != ACTIVE:
        return _skip(f"session is {row.status}", attempt, payload)
    state = dict(d.step_entry(doc, number).get("ai") or {})
    task_id = str(payload.get("task_id") or state.get("task_id") or "")
    if not task_id or state.get("task_id") != task_id:
        return _skip("superseded by a newer request", attempt, payload)
    if state.get("status") not in ai.IN_FLIGHT:
        return _skip(f"already {state.get('status')}", attempt, payload)
    task = _Task(session_id, number, task_id, attempt)
    if _is_stale(state, deps=deps):
        return _finish_failed(task, "the request expired before it ran", deps=deps)
    try:
        if not onboarding.record_ai(
            session_id, number, task_id, {"status": ai.RUNNING, "attempts": attempt}, deps=deps.onboarding
        ):
            return _skip("superseded by a newer request", attempt, payload)
    except AppError as exc:
        return _retry_later(f"session store unavailable: {exc.detail}", attempt, payload)
    try:
        suggestion, model_name = _suggest(number, doc, deps=deps)
    except _AttemptFailed as failed:
        return _after_failure(task, failed, deps=deps)
    return _record(
        task,
        {
            "status": ai.SUCCEEDED,
            "attempts": attempt,
            "suggestion": suggestion,
            "model": model_name,
            "error": None,
            "finished_at": d.iso(deps.clock.now()),
        },
        Outcome(ACK, "succeeded", attempt=attempt, extra={"model": model_name}),
        deps=deps,
    )


# --- one model call ------------------------------------------------------------------


def _suggest(number: int, doc: Mapping[str, Any], *, deps: SuggestionDeps) -> tuple[dict[str, Any], str]:
    step = step_by_number(number)
    steps_data = {n: d.step_entry(doc, n).get("data") for n in (*step.ai_inputs, number)}
    prompt = build_prompt(step, steps_data)
    try:
        output, model_name = deps.model.generate_json(
            prompt, response_schema=response_schema(step), timeout_s=deps.timeout_s
        )
    except InvalidOutput as exc:
        raise _AttemptFailed(f"invalid output: {exc.message}", retryable=True) from exc
    except Unavailable as exc:
        raise _AttemptFailed(f"model unavailable: {exc.message}", retryable=True) from exc
    except AdapterError as exc:
        raise _AttemptFailed(f"model refused the request: {exc.message}", retryable=exc.retryable) from exc
    try:
        result = validate_step(number, output, draft=True)
    except Unprocessable as exc:
        where = "; ".join(f"{e.path} {e.message}" for e in exc.errors[:3])
        raise _AttemptFailed(f"invalid output: {where or exc.detail}", retryable=True) from exc
    return result.data, model_name


# --- outcomes ---------------------------------------------------------------------------


def _after_failure(task: _Task, failed: _AttemptFailed, *, deps: SuggestionDeps) -> Outcome:
    if failed.retryable and task.attempt < deps.max_attempts:
        log.warning(
            "onboarding_ai.attempt_failed",
            extra={
                "session_id": task.session_id,
                "step": task.number,
                "attempt": task.attempt,
                "error": failed.reason,
            },
        )
        return _record(
            task,
            {"status": ai.QUEUED, "attempts": task.attempt, "error": failed.reason},
            Outcome(RETRY, "retry", failed.reason, task.attempt),
            deps=deps,
        )
    return _finish_failed(task, failed.reason, deps=deps)


def _finish_failed(task: _Task, reason: str, *, deps: SuggestionDeps) -> Outcome:
    log.error(
        "onboarding_ai.failed",
        extra={
            "event": ops_events.AI_SUGGESTION_FAILED,
            "session_id": task.session_id,
            "step": task.number,
            "attempt": task.attempt,
            "error": reason,
        },
    )
    attempt = task.attempt
    return _record(
        task,
        {
            "status": ai.FAILED,
            "attempts": attempt,
            "suggestion": None,
            "model": None,
            "error": reason,
            "finished_at": d.iso(deps.clock.now()),
        },
        Outcome(ACK, "failed", reason, attempt),
        deps=deps,
    )


def _record(task: _Task, fields: dict[str, Any], outcome: Outcome, *, deps: SuggestionDeps) -> Outcome:
    where = {"session_id": task.session_id}
    try:
        if not onboarding.record_ai(task.session_id, task.number, task.task_id, fields, deps=deps.onboarding):
            return _skip("superseded by a newer request", task.attempt, where)
    except AppError as exc:
        # Nothing durable was written: have Cloud Tasks deliver again (the attempt repeats).
        return _retry_later(f"session store unavailable: {exc.detail}", task.attempt, where)
    return outcome


def _is_stale(state: Mapping[str, Any], *, deps: SuggestionDeps) -> bool:
    requested = state.get("requested_at")
    if not isinstance(requested, str):
        return False
    try:
        return deps.clock.now() - d.parse_iso(requested) > deps.poison_after
    except ValueError:
        return False


def _skip(reason: str, attempt: int, payload: Mapping[str, Any]) -> Outcome:
    log.info(
        "onboarding_ai.acknowledged_without_work",
        extra={"reason": reason, "attempt": attempt, "session_id": payload.get("session_id")},
    )
    return Outcome(ACK, "skipped", reason, attempt)


def _retry_later(reason: str, attempt: int, payload: Mapping[str, Any]) -> Outcome:
    log.warning(
        "onboarding_ai.retry_later",
        extra={"reason": reason, "attempt": attempt, "session_id": payload.get("session_id")},
    )
    return Outcome(RETRY, "retry", reason[:MAX_ERROR_CHARS], attempt)


def unusable_payload(payload: Mapping[str, Any], *, retry_count: int = 0) -> Outcome | None:
    """An acknowledgement for a payload no attempt can use (a retry sends the same bytes); None if usable."""
    session_id = payload.get("session_id")
    number = payload.get("step")
    reason = None
    if not isinstance(session_id, str) or not session_id:
        reason = "payload without a session_id"
    elif isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(STEPS):
        reason = "payload without a valid step"
    elif STEPS[number - 1].ai_task is None:
        reason = f"step {number} has no AI task"
    if reason is None:
        return None
    return _skip(reason, max(0, retry_count) + 1, payload)
