"""finalize: the 23 steps -> business_context -> the first manifest version, stored in one transaction.

Order: (1) a session already finalized answers its stored result (finalizing
twice returns the same thing); (2) gather the steps through the onboarding
store (Redis when fresh, else Firestore) and require all 23 complete (422
listing each missing one); (3) build, validate and reduce (pure, outside any
transaction); (4) ONE Postgres transaction, the session row locked first:
business_context, manifest 1.0.0 (``initial``, source ``onboarding``), the
session ``finalized``, the user ``completed``; (5) after the commit: fill the
cache tiers, mark the Firestore draft finalized and purge the hot session.

Two concurrent finalizes of one session: the second waits on the row lock,
then finds the session finalized and returns the first one's result (the
unique ``business_contexts.session_id`` is the backstop).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from lib.domain.bcm import canonical_json, next_version
from lib.domain.bcm.records import Finalized, FinalizeWrite, NewManifest, StoredManifest, VersionDecider
from lib.domain.context import BUSINESS_CONTEXT_VERSION, build_business_context, validate_business_context
from lib.domain.ids import canonical_uuid
from lib.domain.steps import STEPS, TOTAL_STEPS
from lib.domain.subscriptions import PaidAction
from lib.errors import AlreadyExists, Conflict, FieldError, NotFound, Rejected, Unprocessable
from lib.services.bcm.deps import BcmDeps
from lib.services.bcm.ports import BcmUnit

CanAccess = Callable[[str], bool]
COMPLETE = "complete"
# business_context fields that describe the build, not the business: left out of its checksum.
VOLATILE_CONTEXT_FIELDS = ("generated_at",)


def _not_found() -> NotFound:
    return NotFound("No such onboarding session.", code="session_not_found")


def context_checksum(document: Mapping[str, Any]) -> str:
    """SHA-256 of the business_context's canonical JSON without its timestamps (the rebuild source key)."""
    stable = {k: v for k, v in document.items() if k not in VOLATILE_CONTEXT_FIELDS}
    return hashlib.sha256(canonical_json(stable)).hexdigest()


def gather_steps(doc: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[FieldError]]:
    """The steps' data by slug, and one error per step that is not complete."""
    steps = doc.get("steps") if isinstance(doc.get("steps"), Mapping) else {}
    assert isinstance(steps, Mapping)
    data: dict[str, dict[str, Any]] = {}
    missing: list[FieldError] = []
    for step in STEPS:
        entry = steps.get(f"s{step.number:02d}")
        entry = entry if isinstance(entry, Mapping) else {}
        status = entry.get("status") or "empty"
        if status != COMPLETE or not isinstance(entry.get("data"), Mapping):
            missing.append(
                FieldError(f"steps.{step.number}", f"step {step.number} ({step.slug}) is {status}; complete it first")
            )
            continue
        data[step.slug] = dict(entry["data"])
    return data, missing


def result_view(done: Finalized) -> dict[str, Any]:
    return {
        "business_context": done.context.document,
        "manifest": done.manifest.summary(),
        "onboarding_status": done.onboarding_status,
    }


def finalize_session(session_id: str, can_access: CanAccess, *, deps: BcmDeps) -> dict[str, Any]:
    """``{business_context, manifest: {version, checksum, token_count}, onboarding_status}``."""
    canonical = canonical_uuid(session_id)
    if canonical is None:
        raise _not_found()
    session_id = canonical  # the one form passed on (``urn:uuid:...`` and braces parse too)
    done = deps.repo.finalized(session_id)
    if done is not None:
        if not can_access(done.context.workspace_id):
            raise _not_found()
        return result_view(done)
    if deps.sessions is None:
        raise RuntimeError("finalize needs the onboarding session store")
    found = deps.sessions.read(session_id)
    if found is None:
        raise _not_found()
    row, doc = found
    if not can_access(row.workspace_id):
        raise _not_found()
    if row.status not in {"active", "finalized"}:
        raise Conflict(f"The session is {row.status}; resume it before finalizing.", code="session_not_active")
    deps.entitlements.check(row.workspace_id, PaidAction.FINALIZE)
    steps, missing = gather_steps(doc)
    if missing:
        raise Unprocessable(
            f"{len(missing)} of {TOTAL_STEPS} steps are not complete.",
            code="steps_incomplete",
            errors=missing,
            extra={"missing_steps": [int(e.path.split(".")[1]) for e in missing]},
        )
    now = deps.clock.now()
    document = build_business_context(steps, session_id=session_id, workspace_id=row.workspace_id, generated_at=now)
    validate_business_context(document)
    reduced = deps.reduce(document, source="onboarding")

    def decide(current: StoredManifest | None) -> Any:
        if current is None:
            return next_version(None, None, reduced.manifest)
        return next_version(current.manifest, current.version, reduced.manifest)

    write = FinalizeWrite(
        session_id=session_id,
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        schema_version=BUSINESS_CONTEXT_VERSION,
        document=document,
        document_checksum=context_checksum(document),
        checksum=reduced.checksum,
        token_count=reduced.token_count,
        manifest=reduced.manifest,
        steps_total=TOTAL_STEPS,
    )
    try:
        done = store_finalized(write, decide, unit=deps.unit)
    except AlreadyExists:  # another finalize won between our check and our insert: its result is ours
        winner = deps.repo.finalized(session_id)
        if winner is None:
            raise
        return result_view(winner)
    except Rejected as exc:
        status = exc.details.get("status")
        raise Conflict(f"The session is {status}; it cannot be finalized.", code="session_not_active") from exc
    if done.created:
        deps.cache.fill(done.manifest)
        if deps.sessions is not None:
            deps.sessions.finished(session_id, now)
    return result_view(done)


def store_finalized(write: FinalizeWrite, decide: VersionDecider, *, unit: Callable[[], BcmUnit]) -> Finalized:
    """ONE unit of work, the session row locked first: the business_context, the manifest version
    ``decide`` picks (numbering serialised per workspace with the rebuild worker), the finalized
    session and the user's ``completed``.  A session already finalized returns its stored result
    (``created`` False); one that is not active raises ``Rejected`` (details ``status``)."""
    with unit() as uow:
        repo = uow.bcm
        session = repo.lock_session(write.session_id)
        if session is None:
            raise Rejected("no such onboarding session", "postgres", status=None)
        status, user_id = session
        if status == "finalized":
            done = repo.finalized(write.session_id)
            if done is not None:
                return done
        if status != "active":
            raise Rejected("the session is not active", "postgres", status=status)
        context = repo.add_context(write)
        repo.lock_versions(write.workspace_id)
        current = repo.current(write.workspace_id)
        change = decide(current)
        if change is None and current is not None:
            manifest = current
        else:
            assert change is not None
            new = NewManifest(change, write.checksum, write.token_count, write.manifest, "onboarding")
            manifest = repo.add_version(write.workspace_id, new, context_id=context.id)
        repo.close_session(write.session_id, write.steps_total)
        onboarding_status = repo.complete_onboarding(user_id)
        uow.commit()
    return Finalized(context, manifest, onboarding_status, created=True)
