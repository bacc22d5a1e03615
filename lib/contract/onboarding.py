"""onboarding_step (catalogue, sessions, steps, AI requests) and the onboarding_ai worker."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, RootModel

from lib.contract.common import Closed, FieldErrorOut, FreeObject, Request, Timestamp, example
from lib.domain.onboarding import SessionStatus

StepStatus = Literal["empty", "draft", "complete"]
AiStatus = Literal["idle", "queued", "running", "succeeded", "failed"]
STATUSES_EXAMPLE = ["complete"] + ["empty"] * 22
PROGRESS_EXAMPLE = {
    "complete": 1,
    "total": 23,
    "percent": 4,
    "statuses": STATUSES_EXAMPLE,
    "last_saved_at": "2026-12-05T19:35:00+00:00",
}
AI_EXAMPLE = {"status": "idle", "attempts": 0, "suggestion": None, "error": None, "model": None, "finished_at": None}
STEP_EXAMPLE = {
    "number": 1,
    "slug": "company_profile",
    "title": "Company profile",
    "status": "complete",
    "data": {"name": "Acme", "industry": "SaaS", "stage": "seed"},
    "version": 1,
    "updated_at": "2026-12-05T19:35:00+00:00",
    "errors": [],
    "ai": AI_EXAMPLE,
}
SESSION_EXAMPLE = {
    "session_id": "0b7c1e2d-3f4a-4b5c-8d6e-7f8091a2b3c4",
    "workspace_id": "7d9f3c2a-1b4e-4c8d-9a6f-2e5b8c1d0f3a",
    "status": "active",
    "progress": PROGRESS_EXAMPLE,
    "steps": [STEP_EXAMPLE],
    "created_at": "2026-12-05T19:30:00+00:00",
    "updated_at": "2026-12-05T19:35:00+00:00",
    "last_saved_at": "2026-12-05T19:35:00+00:00",
    "expires_at": "2027-01-04T19:35:00+00:00",
}


class StepCatalogueEntry(Closed):
    model_config = example(
        {
            "number": 1,
            "slug": "company_profile",
            "title": "Company profile",
            "ai_task": None,
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        }
    )

    number: int = Field(ge=1, le=23)
    slug: str
    title: str
    ai_task: str | None
    schema_: FreeObject = Field(alias="schema", description="The step's JSON Schema (2020-12).")


class StepCatalogue(RootModel[list[StepCatalogueEntry]]):
    """The 23 steps, in order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                [
                    {
                        "number": 1,
                        "slug": "company_profile",
                        "title": "Company profile",
                        "ai_task": None,
                        "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
                    }
                ]
            ]
        }
    )


class Progress(Closed):
    model_config = example(PROGRESS_EXAMPLE)

    complete: int
    total: int
    percent: int
    statuses: list[StepStatus] = Field(description="Each step's status, step 1 first.")
    last_saved_at: Timestamp | None


class StepAi(Closed):
    """A step's AI suggestion state."""

    model_config = example(AI_EXAMPLE)

    status: AiStatus
    attempts: int
    suggestion: FreeObject | None
    error: str | None
    model: str | None
    finished_at: Timestamp | None


class Step(Closed):
    model_config = example(STEP_EXAMPLE)

    number: int = Field(ge=1, le=23)
    slug: str
    title: str
    status: StepStatus
    data: FreeObject | None = Field(description="The step's fields, per its schema (`GET /onboarding_step/steps`).")
    version: int
    updated_at: Timestamp | None
    errors: list[FieldErrorOut]
    ai: StepAi


class Session(Closed):
    model_config = example(SESSION_EXAMPLE)

    session_id: str
    workspace_id: str
    status: SessionStatus
    progress: Progress
    steps: list[Step]
    created_at: Timestamp | None
    updated_at: Timestamp | None
    last_saved_at: Timestamp | None
    expires_at: Timestamp | None


class SessionStarted(Session):
    """A new session (201), the active one, or an abandoned one resumed (200, ``resumed: true``)."""

    model_config = example({**SESSION_EXAMPLE, "resumed": False})

    resumed: bool


class StepSaved(Closed):
    model_config = example(
        {"step": STEP_EXAMPLE, "progress": PROGRESS_EXAMPLE, "saved_at": "2026-12-05T19:35:00+00:00"}
    )

    step: Step
    progress: Progress
    saved_at: Timestamp


class AiQueued(Closed):
    model_config = example({"status": "queued", "task_id": "ai-0b7c1e2d-01-1", "step": 1})

    status: AiStatus
    task_id: str | None
    step: int


class StartSessionRequest(Request):
    model_config = example({})

    workspace_id: str | None = Field(None, description="A workspace the caller is a member of; omitted: their own.")


class SaveStepRequest(Request):
    model_config = example({"data": {"name": "Acme"}, "draft": True, "version": 0})

    data: FreeObject = Field(description="The step's fields, per the step's schema.")
    draft: bool = Field(False, description="Check types and limits only, not completeness.")
    version: int | None = Field(None, description="The version read; a stale one is 409.")


class AiTaskRequest(Request):
    model_config = example(
        {
            "session_id": "0b7c1e2d-3f4a-4b5c-8d6e-7f8091a2b3c4",
            "workspace_id": "5f0c6a1e-2b7d-4c1f-9e3a-8b6d2c4e6f80",
            "step": 1,
            "request_id": "5f0c6a1e2b7d4c1f9e3a8b6d",
            "task_id": "ai-1",
        }
    )

    session_id: str
    workspace_id: str | None = None
    step: int
    request_id: str | None = Field(None, description="The request that asked for the suggestion (for the logs).")
    task_id: str | None = None


class AiOutcome(Closed):
    """One attempt's outcome: 200 done (succeeded, failed for good, skipped), 503 retry."""

    model_config = example({"result": "succeeded", "attempt": 1, "model": "gemini-2.5-flash"})

    result: Literal["succeeded", "failed", "skipped", "retry"]
    attempt: int
    detail: str | None = None
    model: str | None = None
