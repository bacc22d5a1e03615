"""The session document: its shape in the durable store and the cache, and the API views.

One document per session (Firestore collection ``onboarding_drafts``, id = the
session id)::

    {session_id, workspace_id, user_id, created_at, updated_at, expires_at,
     steps: {"s01": {status, data, version, updated_at, errors, ai}, ...}}

Steps never saved are absent (status ``empty``, version 0).  Step keys are
``s01``..``s23`` so every Firestore field path is a plain identifier.
``updated_at`` strictly increases with each write (it doubles as the document's
revision); ``expires_at`` = last write + 30 days is the field Firestore's TTL
policy deletes on.  Timestamps are ISO-8601 UTC strings here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from lib.domain.onboarding import SessionRow
from lib.domain.steps import STEPS, TOTAL_STEPS, progress
from lib.services.onboarding.ai_contract import PUBLIC_AI_FIELDS, idle_ai

DRAFTS_COLLECTION = "onboarding_drafts"
TTL_FIELD = "expires_at"  # Firestore TTL policy field on onboarding_drafts (infra: terraform)
# Firestore's TTL policy removes a draft this long after its last write (docs/domain.md).
DRAFT_TTL = timedelta(days=30)
EMPTY, DRAFT, COMPLETE = "empty", "draft", "complete"
# Two writes in the same microsecond still get distinct, ordered revisions.
REVISION_TICK = timedelta(microseconds=1)


def iso(at: datetime) -> str:
    """The one timestamp format of the document (UTC, microseconds)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def step_key(number: int) -> str:
    return f"s{number:02d}"


def step_path(number: int, field: str | None = None) -> str:
    """The dotted path of a step (or one of its fields) in the document."""
    base = f"steps.{step_key(number)}"
    return f"{base}.{field}" if field else base


def new_document(session_id: str, workspace_id: str, user_id: str, now: datetime) -> dict[str, Any]:
    stamp = iso(now)
    return {
        "session_id": session_id,
        "workspace_id": workspace_id,
        "user_id": user_id,
        "created_at": stamp,
        "updated_at": stamp,
        TTL_FIELD: iso(now + DRAFT_TTL),
        "steps": {},
    }


def next_revision(doc: Mapping[str, Any], now: datetime) -> datetime:
    """The ``updated_at`` of the next write: now, but always after the current one."""
    current = parse_iso(str(doc["updated_at"]))
    return max(now, current + REVISION_TICK)


def step_entry(doc: Mapping[str, Any], number: int) -> dict[str, Any]:
    steps = doc.get("steps") or {}
    entry = steps.get(step_key(number))
    return dict(entry) if isinstance(entry, Mapping) else {}


def step_version(doc: Mapping[str, Any], number: int) -> int:
    return int(step_entry(doc, number).get("version") or 0)


def statuses(doc: Mapping[str, Any]) -> list[str]:
    return [str(step_entry(doc, n).get("status") or EMPTY) for n in range(1, TOTAL_STEPS + 1)]


def progress_view(doc: Mapping[str, Any], last_saved_at: str | None) -> dict[str, Any]:
    """``{complete, total, percent}`` plus every step's status (in order) and the last save."""
    per_step = statuses(doc)
    return {**progress(per_step), "statuses": per_step, "last_saved_at": last_saved_at}


def ai_view(entry: Mapping[str, Any]) -> dict[str, Any]:
    ai = {**idle_ai(), **dict(entry.get("ai") or {})}
    return {name: ai.get(name) for name in PUBLIC_AI_FIELDS}


def step_view(doc: Mapping[str, Any], number: int) -> dict[str, Any]:
    definition = STEPS[number - 1]
    entry = step_entry(doc, number)
    return {
        "number": number,
        "slug": definition.slug,
        "title": definition.title,
        "status": entry.get("status") or EMPTY,
        "data": entry.get("data"),
        "version": int(entry.get("version") or 0),
        "updated_at": entry.get("updated_at"),
        "errors": list(entry.get("errors") or []),
        "ai": ai_view(entry),
    }


def last_saved(doc: Mapping[str, Any]) -> str | None:
    """The newest step save in the document (AI bookkeeping is not a save)."""
    stamps = [str(e["updated_at"]) for e in (doc.get("steps") or {}).values() if e.get("updated_at")]
    return max(stamps, key=parse_iso) if stamps else None


def session_view(row: SessionRow, doc: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /sessions/{id}``: status from Postgres (finalize and the sweep move it), the rest from the document."""
    saved = last_saved(doc)
    return {
        "session_id": row.id,
        "workspace_id": row.workspace_id,
        "status": row.status,
        "progress": progress_view(doc, saved),
        "steps": [step_view(doc, n) for n in range(1, TOTAL_STEPS + 1)],
        "created_at": doc.get("created_at"),
        "updated_at": doc.get("updated_at"),
        "last_saved_at": saved,
        "expires_at": doc.get(TTL_FIELD),
    }
