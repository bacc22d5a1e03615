"""The BCM's records: the rows its services and repositories pass (manifests, business contexts,
rebuild jobs) and what finalize writes.  Frozen values; no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from lib.domain.bcm.versions import VersionChange

JobStatus = Literal["queued", "running", "succeeded", "failed", "skipped"]
OPEN_JOB_STATUSES: frozenset[str] = frozenset({"queued", "running"})
TERMINAL_JOB_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "skipped"})


@dataclass(frozen=True)
class StoredManifest:
    """One ``bcm_manifests`` row: a version of a workspace's manifest."""

    workspace_id: str
    version: str
    checksum: str
    token_count: int
    manifest: dict[str, Any]
    source: str
    change: str
    created_at: datetime
    business_context_id: str | None = None

    def summary(self) -> dict[str, Any]:
        """What finalize answers about the manifest."""
        return {"version": self.version, "checksum": self.checksum, "token_count": self.token_count}


@dataclass(frozen=True)
class StoredContext:
    """One ``business_contexts`` row."""

    id: str
    workspace_id: str
    session_id: str | None
    document: dict[str, Any]
    checksum: str
    created_at: datetime


@dataclass(frozen=True)
class Job:
    """One ``bcm_jobs`` row (a rebuild request and its outcome)."""

    id: str
    workspace_id: str
    status: str
    source_checksum: str
    reason: str | None
    error: str | None
    result_version: str | None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def brief(self) -> dict[str, Any]:
        return {"job_id": self.id, "status": self.status}


@dataclass(frozen=True)
class NewManifest:
    """A manifest to store as a new version."""

    version: VersionChange
    checksum: str
    token_count: int
    manifest: Mapping[str, Any]
    source: str


@dataclass(frozen=True)
class FinalizeWrite:
    """Everything finalize stores in its one transaction."""

    session_id: str
    workspace_id: str
    user_id: str
    schema_version: str
    document: Mapping[str, Any]
    document_checksum: str
    checksum: str
    token_count: int
    manifest: Mapping[str, Any]
    steps_total: int


@dataclass(frozen=True)
class Finalized:
    """A finalized session's result: the business_context and the manifest it produced."""

    context: StoredContext
    manifest: StoredManifest
    onboarding_status: str
    created: bool = field(default=False, compare=False)


# Decides the version of a new manifest given the workspace's current one (None: no new row).
VersionDecider = Callable[[StoredManifest | None], VersionChange | None]


__all__ = [
    "OPEN_JOB_STATUSES",
    "TERMINAL_JOB_STATUSES",
    "FinalizeWrite",
    "Finalized",
    "Job",
    "JobStatus",
    "NewManifest",
    "StoredContext",
    "StoredManifest",
    "VersionDecider",
]
