"""Onboarding sessions: start or resume, read, save a step, request an AI suggestion.

Each use case is a function ``(arguments, *, deps: OnboardingDeps)``; the AI
worker records its results with ``record_ai`` and finalize reads and closes
drafts with ``read_document`` and ``close_draft``, so every write goes through
the same path.

Where things live (docs/domain.md, "Onboarding"): the Firestore document is the durable truth and
is written BEFORE a save is acknowledged; Redis holds a hot copy (7-day TTL,
refreshed on every write); the ``onboarding_sessions`` row mirrors status and
progress.  Reads go Redis first, then Firestore (refilling Redis).

A cached copy is trusted only when it is at least as new as the row's
``last_saved_at``, which every write advances (never backwards) to the
document's new ``updated_at``.  So a copy left behind while Redis was
unreachable, or written late by a slower instance, is never served: the
cache can be lost, stale or down without losing or hiding a save.

Every write is ONE Firestore ``update`` with the precondition "the document is
still at the ``update_time`` I built this write from" (``update_unchanged``).
The cache keeps that version next to its copy, so a save with a warm cache
reads nothing from Firestore.  The step ``version`` is checked on that copy; a
concurrent write anywhere in the document fails the precondition, and the save
re-reads the durable document (with its version) and decides again: a stale
client version answers 409 on the durable copy only, a write to another step
is retried on top of it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lib.domain.ids import canonical_uuid
from lib.domain.onboarding import ABANDONED, ACTIVE, FINALIZED, SessionEvent, SessionRow
from lib.domain.steps import MAX_STEP_BYTES, TOTAL_STEPS, catalogue, payload_size, step_by_number, validate_step
from lib.domain.subscriptions import PaidAction
from lib.errors import (
    AdapterError,
    AlreadyExists,
    FieldError,
    Missing,
    PayloadTooLarge,
    Rejected,
    Unavailable,
    Unprocessable,
)
from lib.ports import TaskRequest
from lib.services.onboarding import ai_contract as ai
from lib.services.onboarding import document as d
from lib.services.onboarding import errors as e
from lib.services.onboarding.abandon import abandon_stale_sessions
from lib.services.onboarding.deps import OnboardingDeps
from lib.services.onboarding.user_status import move_user
from lib.tasks import enqueue_once

log = logging.getLogger(__name__)

# A write re-reads and retries this many times when another write to the same
# session landed in between (autosaves of different steps racing each other).
COMMIT_ATTEMPTS = 5
# Firestore refuses documents over 1 MiB; stay under it with room for field names.
MAX_DOCUMENT_BYTES = 1_000_000
# A raw PUT body may be this large: a 256 KiB step pretty-printed or escaped, plus the envelope.
MAX_SAVE_BODY = 2 * MAX_STEP_BYTES

CanAccess = Callable[[str], bool]
# build(document, stamp) -> the dotted-path updates of one write, decided on that document.
Builder = Callable[[dict[str, Any], str], dict[str, Any]]


@dataclass(frozen=True)
class StartResult:
    session: dict[str, Any]
    created: bool
    resumed: bool = False


class _AlreadyQueued(Exception):
    def __init__(self, state: Mapping[str, Any]) -> None:
        super().__init__("already queued")
        self.state = dict(state)


class _Superseded(Exception):
    pass


class _StaleVersion(Exception):
    def __init__(self, sent: int, current: int) -> None:
        super().__init__("stale version")
        self.sent, self.current = sent, current


# --- catalogue ---------------------------------------------------------------------


def step_catalogue() -> list[dict[str, Any]]:
    return catalogue()


# --- start / resume -----------------------------------------------------------------


def start_session(workspace_id: str, user_id: str, *, deps: OnboardingDeps) -> StartResult:
    """The workspace's active session (200), a resumed abandoned one (200) or a new one (201)."""
    row = deps.repo.latest_for_workspace(workspace_id)
    if row is not None and row.status == ACTIVE:
        return StartResult(d.session_view(row, _load_or_repair(row, deps=deps)), created=False)
    deps.entitlements.check(workspace_id, PaidAction.ONBOARDING)
    if row is not None and row.status == ABANDONED:
        resumed = _resume(row, deps=deps)
        if resumed is not None:
            return resumed
    return _create(workspace_id, user_id, deps=deps)


def _create(workspace_id: str, user_id: str, *, deps: OnboardingDeps) -> StartResult:
    session_id = str(uuid.uuid4())
    doc = d.new_document(session_id, workspace_id, user_id, deps.clock.now())
    try:
        # The draft first: a row never points at a document that does not exist.
        deps.drafts.create(session_id, doc)
    except AdapterError as exc:
        raise e.drafts_unavailable() from exc
    try:
        row = deps.repo.create_active(session_id, workspace_id, user_id)
    except AlreadyExists:
        # Another request started one at the same moment: answer with that one.
        # (Our unused draft expires with its TTL.)
        winner = deps.repo.latest_for_workspace(workspace_id)
        if winner is None or winner.status != ACTIVE:
            raise
        return StartResult(d.session_view(winner, _load_or_repair(winner, deps=deps)), created=False)
    deps.cache.put(session_id, doc)
    return StartResult(d.session_view(row, doc), created=True)


def _resume(row: SessionRow, *, deps: OnboardingDeps) -> StartResult | None:
    try:
        doc = deps.drafts.get(row.id)
    except AdapterError as exc:
        raise e.drafts_unavailable() from exc
    if doc is None:
        return None  # the drafts expired (TTL): start afresh
    try:
        with deps.unit() as uow:
            active = uow.sessions.move_session(row.id, to=ACTIVE, only_from=ABANDONED)
            if active is None:
                return None
            move_user(uow.sessions, row.user_id, SessionEvent.RESUMED)
            uow.commit()
    except AlreadyExists:  # another session of the workspace is active
        return None
    # A write refreshes expires_at (and the cache): the resumed draft lives another 30 days.
    _, doc = _commit(active, lambda _doc, _stamp: {}, deps=deps)
    return StartResult(d.session_view(active, doc), created=False, resumed=True)


def _load_or_repair(row: SessionRow, *, deps: OnboardingDeps) -> dict[str, Any]:
    try:
        return _load(row, deps=deps)[0]
    except e.Gone:
        doc = d.new_document(row.id, row.workspace_id, row.user_id, deps.clock.now())
        try:
            deps.drafts.create(row.id, doc)
        except AlreadyExists:
            return _load(row, deps=deps)[0]
        except AdapterError as exc:
            raise e.drafts_unavailable() from exc
        deps.cache.put(row.id, doc)
        return doc


# --- read ----------------------------------------------------------------------------


def get_session(session_id: str, can_access: CanAccess, *, deps: OnboardingDeps) -> dict[str, Any]:
    row = _row(session_id, can_access, deps=deps)
    return d.session_view(row, _load(row, deps=deps)[0])


def read_document(session_id: str, *, deps: OnboardingDeps) -> tuple[SessionRow, dict[str, Any]]:
    """The row and the current document, no access check (internal callers: the AI worker, finalize)."""
    canonical = canonical_uuid(session_id)
    row = None if canonical is None else deps.repo.get(canonical)
    if row is None:
        raise e.session_not_found()
    return row, _load(row, deps=deps)[0]


def close_draft(session_id: str, finalized_at: datetime, *, deps: OnboardingDeps) -> None:
    """After finalize committed: stamp the Firestore draft ``status: finalized`` (the durable mark that
    it is closed; its TTL still removes it later) and drop the hot Redis copy.

    Best effort: Postgres already says the session is finalized, and every later read or write
    checks the row first, so an expired draft or a Firestore outage is logged, not raised.
    """
    stamp = finalized_at.astimezone(UTC).isoformat(timespec="microseconds")
    try:
        deps.drafts.update(session_id, {"status": FINALIZED, "finalized_at": stamp}, expect={})
    except AdapterError as exc:
        log.warning("onboarding.draft_close_failed", extra={"session_id": session_id, "error": str(exc)})
    deps.cache.drop(session_id)


# --- save a step ---------------------------------------------------------------------


def save_step(
    session_id: str, number: int, body: Mapping[str, Any], can_access: CanAccess, *, deps: OnboardingDeps
) -> dict[str, Any]:
    """Validate, write durably (atomic version check), mirror, cache; ``{step, progress, saved_at}``."""
    data, draft, version = _envelope(body)
    row = _row(session_id, can_access, deps=deps)
    step_by_number(number)  # 404 step_not_found before anything else
    if isinstance(data, dict):
        size = payload_size(data)
        if size > MAX_STEP_BYTES:
            raise PayloadTooLarge(
                f"The step data is {size} bytes as JSON; a step may be at most {MAX_STEP_BYTES} bytes.",
                code="step_too_large",
                errors=[FieldError("data", f"must be at most {MAX_STEP_BYTES} bytes as JSON")],
            )
    result = validate_step(number, data, draft=draft)
    if row.status != ACTIVE:
        raise e.not_active(row.status)
    deps.entitlements.check(row.workspace_id, PaidAction.ONBOARDING)
    status = d.COMPLETE if result.complete else d.DRAFT
    missing = [m.as_dict() for m in result.missing]

    def build(doc: dict[str, Any], stamp: str) -> dict[str, Any]:
        current = d.step_version(doc, number)
        if version is not None and version != current:
            raise _StaleVersion(version, current)
        _check_document_size(doc, number, result.data)
        return {
            d.step_path(number, "status"): status,
            d.step_path(number, "data"): result.data,
            d.step_path(number, "version"): current + 1,
            d.step_path(number, "updated_at"): stamp,
            d.step_path(number, "errors"): missing,
        }

    _, doc = _commit(row, build, step_save=True, deps=deps)
    saved_at = d.step_entry(doc, number)["updated_at"]
    return {
        "step": d.step_view(doc, number),
        "progress": d.progress_view(doc, d.last_saved(doc)),
        "saved_at": saved_at,
    }


# --- AI ----------------------------------------------------------------------------------


def request_ai(
    session_id: str, number: int, can_access: CanAccess, request_id: str, *, deps: OnboardingDeps
) -> dict[str, Any]:
    """Queue the step's AI task once: ``{status, task_id, step}`` (the in-flight one if any)."""
    row = _row(session_id, can_access, deps=deps)
    step = step_by_number(number)
    if step.ai_task is None:
        raise Unprocessable(
            f"Step {number} ({step.slug}) has no AI suggestion.",
            code="no_ai_task",
            errors=[FieldError("number", "this step has no AI task")],
        )
    if row.status != ACTIVE:
        raise e.not_active(row.status)
    deps.entitlements.check(row.workspace_id, PaidAction.ONBOARDING)
    previous: dict[str, Any] = {}

    def build(doc: dict[str, Any], stamp: str) -> dict[str, Any]:
        state = dict(d.step_entry(doc, number).get("ai") or {})
        if state.get("status") in ai.IN_FLIGHT:
            raise _AlreadyQueued(state)
        previous.clear()
        previous.update(state)
        requests = int(state.get("requests") or 0) + 1
        name = ai.ai_task_name(row.id, number, requests)
        return {d.step_path(number, "ai"): ai.queued_ai(name, requests, stamp)}

    try:
        _, doc = _commit(row, build, deps=deps)
    except _AlreadyQueued as queued:
        return {"status": queued.state["status"], "task_id": queued.state.get("task_id"), "step": number}
    task_id = str(d.step_entry(doc, number)["ai"]["task_id"])
    try:  # a new request uses one of the plan's daily suggestions (a repeat above used none)
        deps.entitlements.check(row.workspace_id, PaidAction.AI_SUGGESTION)
    except Exception:
        _undo_ai(row, number, task_id, previous, deps=deps)
        raise
    payload: ai.AiTaskPayload = {
        "session_id": row.id,
        "workspace_id": row.workspace_id,
        "step": number,
        "request_id": request_id,
        "task_id": task_id,
    }
    try:  # a task of this request's name exists already: that is the one
        enqueue_once(deps.tasks, TaskRequest(queue=deps.ai_queue, url=deps.ai_url, payload=payload, name=task_id))
    except AdapterError as exc:
        _undo_ai(row, number, task_id, previous, deps=deps)
        raise e.tasks_unavailable() from exc
    return {"status": ai.QUEUED, "task_id": task_id, "step": number}


def _undo_ai(row: SessionRow, number: int, task_id: str, previous: Mapping[str, Any], *, deps: OnboardingDeps) -> None:
    restored = {**ai.idle_ai(), **previous} if previous else ai.idle_ai()
    restored["requests"] = int(str(task_id).rsplit("-r", 1)[-1])

    def build(doc: dict[str, Any], _stamp: str) -> dict[str, Any]:
        if (d.step_entry(doc, number).get("ai") or {}).get("task_id") != task_id:
            raise _Superseded  # a newer request got in: leave it
        return {d.step_path(number, "ai"): restored}

    try:
        _commit(row, build, deps=deps)
    except _Superseded:
        pass
    except Exception:  # the 503 below matters more; the step shows queued until retried
        log.warning("onboarding.ai_undo_failed", extra={"session_id": row.id, "step": number})


def record_ai(session_id: str, number: int, task_id: str, fields: Mapping[str, Any], *, deps: OnboardingDeps) -> bool:
    """The AI worker's write: set ``ai.<field>`` for the step when ``task_id`` is still
    its current task.  False when the session is gone or a newer request superseded it."""
    unknown = set(fields) - set(ai.PUBLIC_AI_FIELDS)
    if unknown:
        raise ValueError(f"unknown ai fields: {sorted(unknown)}")
    row = deps.repo.get(session_id)
    if row is None:
        return False

    def build(doc: dict[str, Any], _stamp: str) -> dict[str, Any]:
        if (d.step_entry(doc, number).get("ai") or {}).get("task_id") != task_id:
            raise _Superseded
        return {d.step_path(number, f"ai.{name}"): value for name, value in fields.items()}

    try:
        _commit(row, build, deps=deps)
    except (_Superseded, e.Gone):
        return False
    return True


# --- maintenance -----------------------------------------------------------------------


def abandon_stale(*, deps: OnboardingDeps) -> dict[str, int]:
    """The scheduler's sweep: ``{examined, abandoned}``."""
    return abandon_stale_sessions(deps=deps).as_dict()


# --- internals -------------------------------------------------------------------------


def _row(session_id: str, can_access: CanAccess, *, deps: OnboardingDeps) -> SessionRow:
    """The session row when the caller may see it; 404 alike for unknown and foreign ones."""
    canonical = canonical_uuid(session_id)  # the one form passed on (``urn:uuid:...`` parses too)
    if canonical is None:
        raise e.session_not_found()
    row = deps.repo.get(canonical)
    if row is None or not can_access(row.workspace_id):
        raise e.session_not_found()
    return row


def _fresh_enough(doc: Mapping[str, Any], row: SessionRow) -> bool:
    if row.last_saved_at is None:
        return True
    try:
        return d.parse_iso(str(doc["updated_at"])) >= row.last_saved_at
    except (KeyError, ValueError):
        return False


def _load(row: SessionRow, *, deps: OnboardingDeps) -> tuple[dict[str, Any], str, str | None]:
    """(document, "cache" | "store", its store version if known): the cached copy when it
    is fresh, else Firestore (refilling the cache)."""
    cached = deps.cache.get_versioned(row.id)
    if cached is not None and _fresh_enough(cached[0], row):
        return cached[0], "cache", cached[1]
    try:
        found = deps.drafts.get_versioned(row.id)
    except Unavailable as exc:
        if cached is not None:  # the best copy there is; reads stay up while Firestore is down
            log.warning("onboarding.read_stale_cache", extra={"session_id": row.id})
            return cached[0], "cache", cached[1]
        raise e.drafts_unavailable() from exc
    except AdapterError as exc:
        raise e.drafts_unavailable() from exc
    if found is None:
        raise e.session_expired()
    deps.cache.put(row.id, *found)
    return found[0], "store", found[1]


def _reload(row: SessionRow, *, deps: OnboardingDeps) -> tuple[dict[str, Any], str, str]:
    """The durable document and its version (after a conflict, or to learn the version)."""
    try:
        found = deps.drafts.get_versioned(row.id)
    except AdapterError as exc:
        raise e.drafts_unavailable() from exc
    if found is None:
        raise e.session_expired()
    return found[0], "store", found[1]


def _commit(
    row: SessionRow, build: Builder, *, step_save: bool = False, deps: OnboardingDeps
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply ``build``'s updates in one conditional Firestore write, then mirror and cache.

    ``build(doc, stamp)`` decides the dotted updates on ``doc``; the write lands only if
    the stored document is still the one ``doc`` was read as (its version), else it is
    re-read and ``build`` runs again.  Returns (before, after).
    """
    doc, source, version = _load(row, deps=deps)
    if version is None:  # a copy cached without its version (just created): learn it
        doc, source, version = _reload(row, deps=deps)
    for _ in range(COMMIT_ATTEMPTS):
        revision = d.next_revision(doc, deps.clock.now())
        stamp = d.iso(revision)
        try:
            updates = build(doc, stamp)
        except _StaleVersion as stale:
            if source == "cache":  # decide a conflict on the durable copy only
                doc, source, version = _reload(row, deps=deps)
                continue
            raise e.version_conflict(stale.sent, stale.current) from None
        updates = {**updates, "updated_at": stamp, d.TTL_FIELD: d.iso(revision + d.DRAFT_TTL)}
        try:
            after, new_version = deps.drafts.update_unchanged(row.id, doc, updates, version=version)
        except Rejected:  # written (or deleted) since we read it: decide again on the durable copy
            doc, source, version = _reload(row, deps=deps)
            continue
        except Missing as exc:
            raise e.session_expired() from exc
        except AdapterError as exc:
            raise e.drafts_unavailable() from exc
        _mirror(row, doc, after, revision, step_save=step_save, deps=deps)
        deps.cache.put(row.id, after, new_version)
        return doc, after
    raise e.drafts_unavailable()


def _mirror(
    row: SessionRow,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    revision: datetime,
    *,
    step_save: bool,
    deps: OnboardingDeps,
) -> None:
    """Postgres follows the durable write; if it is down the save still stands (the
    document is the truth) and the next write catches the mirror up."""
    try:
        if not step_save:
            deps.repo.record_write(row.id, written_at=revision)
            return
        complete = int(d.progress_view(after, None)["complete"])
        percent = round(complete * 100 / TOTAL_STEPS, 2)
        if d.last_saved(before) is not None:  # every save but the first: one statement, no transaction
            deps.repo.record_write(row.id, written_at=revision, steps_complete=complete, percent=percent)
            return
        with deps.unit() as uow:  # the first save also moves its user to in_progress
            uow.sessions.record_write(row.id, written_at=revision, steps_complete=complete, percent=percent)
            move_user(uow.sessions, row.user_id, SessionEvent.FIRST_SAVE)
            uow.commit()
    except AdapterError as exc:
        log.warning("onboarding.mirror_failed", extra={"session_id": row.id, "error": str(exc)})


def _envelope(body: Mapping[str, Any]) -> tuple[Any, bool, int | None]:
    errors: list[FieldError] = []
    if "data" not in body:
        errors.append(FieldError("data", "is required"))
    draft = body.get("draft", False)
    if not isinstance(draft, bool):
        errors.append(FieldError("draft", "must be true or false"))
    version = body.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        errors.append(FieldError("version", "must be a whole number >= 0"))
    if errors:
        raise Unprocessable("The request body is invalid.", code="validation_failed", errors=errors)
    return body.get("data"), bool(draft), version


def _check_document_size(doc: Mapping[str, Any], number: int, data: Mapping[str, Any]) -> None:
    """Firestore's 1 MiB document limit, estimated as the JSON size with the step's data replaced."""
    old = d.step_entry(doc, number).get("data")
    size = payload_size(doc) - (payload_size(old) if old is not None else 0) + payload_size(data)
    if size > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(
            f"The session would hold {size} bytes; all steps together may hold at most {MAX_DOCUMENT_BYTES}.",
            code="session_too_large",
        )
