"""finalize, context (manifest, rebuild, history, export, guardrails, recommendations) and bcm_rebuild."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, RootModel, WithJsonSchema

from lib.contract.common import Closed, FreeObject, Request, Timestamp, example
from lib.domain.bcm.versions import Change

# The business_context document: its JSON Schema is ``schemas/business_context.v2.schema.json``
# (components/schemas/BusinessContext in the OpenAPI document), checked by the domain when built.
BusinessContextDocument = Annotated[
    dict[str, Any], WithJsonSchema({"allOf": [{"$ref": "#/components/schemas/BusinessContext"}]})
]
# The manifest: the reducer's output (docs/domain.md), sections by name.
ManifestDocument = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": True,
            "description": "The manifest: foundation, icps, messaging, competitive, market, goals, channels, meta"
            " (the reducer's output; sections may be dropped to fit the token budget, see `meta.dropped`).",
        }
    ),
]
JobStatus = Literal["queued", "running", "succeeded", "failed", "skipped", "unknown"]
WORKSPACE = "7d9f3c2a-1b4e-4c8d-9a6f-2e5b8c1d0f3a"
EXPORT_LINK_EXAMPLE: dict[str, Any] = {
    "url": "https://storage.googleapis.com/bcm-exports/m.json?X-Goog-Signature=abc",
    "expires_at": "2026-12-05T19:50:00+00:00",
    "format": "json",
    "version": "1.0.0",
    "filename": "bcm-acme-v1.0.0.json",
}
MANIFEST_EXAMPLE = {"foundation": {"company": "Acme", "category": "Analytics"}, "meta": {"token_count": 812}}


class ManifestSummary(Closed):
    model_config = example({"version": "1.0.0", "checksum": "sha256:9f2c...", "token_count": 812})

    version: str
    checksum: str
    token_count: int


class Finalized(Closed):
    model_config = example(
        {
            "business_context": {"company_profile": {"name": "Acme"}},
            "manifest": {"version": "1.0.0", "checksum": "sha256:9f2c...", "token_count": 812},
            "onboarding_status": "completed",
        }
    )

    business_context: BusinessContextDocument
    manifest: ManifestSummary
    onboarding_status: Literal["completed"]


class Freshness(Closed):
    model_config = example({"age_seconds": 42, "stale": False})

    age_seconds: int
    stale: bool


class Job(Closed):
    """A rebuild job."""

    model_config = example({"job_id": "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "status": "queued"})

    job_id: str
    status: JobStatus


class Manifest(Closed):
    """The current manifest version with where it was served from and how fresh it is."""

    model_config = example(
        {
            "workspace_id": WORKSPACE,
            "version": "1.0.0",
            "checksum": "sha256:9f2c...",
            "token_count": 812,
            "manifest": MANIFEST_EXAMPLE,
            "created_at": "2026-12-05T19:35:00+00:00",
            "served_from": "tier1",
            "freshness": {"age_seconds": 42, "stale": False},
            "rebuild": None,
        }
    )

    workspace_id: str
    version: str
    checksum: str
    token_count: int
    manifest: ManifestDocument
    created_at: Timestamp
    served_from: Literal["tier0", "tier1", "tier2", "origin"]
    freshness: Freshness
    rebuild: Job | None


class RebuildRequest(Request):
    model_config = example({"reason": "new pricing page"})

    workspace_id: str | None = Field(None, description="A workspace the caller is a member of; omitted: their own.")
    reason: str | None = Field(None, max_length=500)


class ManifestVersion(Closed):
    model_config = example(
        {
            "version": "1.0.0",
            "checksum": "sha256:9f2c...",
            "created_at": "2026-12-05T19:35:00+00:00",
            "source": "onboarding",
            "change": "initial",
        }
    )

    version: str
    checksum: str
    created_at: Timestamp
    source: str
    change: Change


class VersionHistory(Closed):
    model_config = example({"workspace_id": WORKSPACE, "versions": []})

    workspace_id: str
    versions: list[ManifestVersion] = Field(description="Newest first.")


class ExportLink(Closed):
    model_config = example(EXPORT_LINK_EXAMPLE)

    url: str
    expires_at: Timestamp
    format: Literal["json", "markdown"]
    version: str
    filename: str


class ExportedDocument(Closed):
    """``inline=true&format=json``: the exported document itself, as a download."""

    model_config = example(
        {
            "workspace_id": WORKSPACE,
            "version": "1.0.0",
            "checksum": "sha256:9f2c...",
            "token_count": 812,
            "created_at": "2026-12-05T19:35:00+00:00",
            "manifest": MANIFEST_EXAMPLE,
        }
    )

    workspace_id: str
    version: str
    checksum: str
    token_count: int
    created_at: Timestamp
    manifest: ManifestDocument


class GuardrailsRequest(Request):
    model_config = example({"text": "We guarantee 10x growth."})

    workspace_id: str | None = Field(None, description="A workspace the caller is a member of; omitted: their own.")
    text: str


class Violation(Closed):
    model_config = example({"rule": "no guarantees", "excerpt": "We guarantee 10x growth."})

    rule: str
    excerpt: str


class GuardrailsResult(Closed):
    model_config = example({"ok": True, "violations": [], "manifest_version": "1.0.0"})

    ok: bool
    violations: list[Violation]
    manifest_version: str


class RecommendedIcp(Closed):
    model_config = example({"name": "Ops lead", "role": "Head of Ops", "pains": ["manual reports"], "goals": []})

    name: str | None
    role: str | None
    pains: list[Any]
    goals: list[Any]


class RecommendedChannel(Closed):
    model_config = example({"name": "LinkedIn", "priority": "primary"})

    name: Any
    priority: Any


class RecommendedMessaging(Closed):
    model_config = example(
        {
            "one_liner": "Reports that write themselves.",
            "value_prop": "Hours back every week",
            "positioning": "For ops teams",
            "tone": ["plain"],
            "dos": ["show numbers"],
        }
    )

    one_liner: str | None
    value_prop: str | None
    positioning: str | None
    tone: Any
    dos: list[Any]


class Focus(Closed):
    model_config = example({"short_term_goals": ["100 signups"], "triggers": ["new quarter"]})

    short_term_goals: list[Any]
    triggers: list[Any]


class Creative(Closed):
    model_config = example({"headline": "Reports that write themselves", "subheads": [], "soundbites": [], "donts": []})

    headline: str | None
    subheads: list[Any]
    soundbites: list[Any]
    donts: list[Any]


class Measure(Closed):
    model_config = example({"kpis": [{"name": "signups", "target": "100"}], "market": {"tam": "$1B"}})

    kpis: list[Any]
    market: FreeObject


class Recommendations(Closed):
    """``focus`` for a move, ``creative`` for a campaign, ``measure`` for analytics."""

    model_config = example(
        {
            "for": "move",
            "manifest_version": "1.0.0",
            "checksum": "sha256:9f2c...",
            "icp": {"name": "Ops lead", "role": "Head of Ops", "pains": [], "goals": []},
            "channels": [{"name": "LinkedIn", "priority": "primary"}],
            "avoid_channels": [],
            "messaging": {"one_liner": None, "value_prop": None, "positioning": None, "tone": [], "dos": []},
            "focus": {"short_term_goals": [], "triggers": []},
        }
    )

    for_: Literal["move", "campaign", "analytics"] = Field(alias="for")
    manifest_version: str
    checksum: str
    icp: RecommendedIcp
    channels: list[RecommendedChannel]
    avoid_channels: list[Any]
    messaging: RecommendedMessaging
    focus: Focus | None = None
    creative: Creative | None = None
    measure: Measure | None = None


class RebuildTask(Request):
    model_config = example(
        {"job_id": "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "workspace_id": "5f0c6a1e-2b7d-4c1f-9e3a-8b6d2c4e6f80"}
    )

    job_id: str = Field(min_length=1)
    workspace_id: str | None = None


class RebuildOutcome(Closed):
    """The job's outcome (200), or a retry asked of Cloud Tasks (503)."""

    model_config = example(
        {"job_id": "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "status": "succeeded", "version": "1.1.0"}
    )

    job_id: str
    status: JobStatus
    version: str | None
    error: str | None = None


class Export(RootModel[ExportLink | ExportedDocument]):
    """A signed URL to the export, or (``inline=true&format=json``) the document itself."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXPORT_LINK_EXAMPLE]})
