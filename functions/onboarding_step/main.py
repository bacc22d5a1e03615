"""onboarding_step: the 23-step onboarding session: catalogue, start/resume, read, save, AI request.

Every decision lives in ``lib.services.onboarding``.  A
session of a workspace the caller is not a member of answers 404, as an
unknown one does.  Starting needs a confirmed payment or the free plan:
otherwise 402 ``subscription_inactive``.
"""

from __future__ import annotations

import functools
from typing import Any

from lib import bootstrap
from lib.contract.common import NoBody
from lib.contract.onboarding import (
    AiQueued,
    SaveStepRequest,
    Session,
    SessionStarted,
    StartSessionRequest,
    StepCatalogue,
    StepSaved,
)
from lib.domain.steps import TOTAL_STEPS
from lib.http import RequestContext, Router
from lib.services import onboarding
from lib.services.onboarding import MAX_SAVE_BODY, OnboardingDeps

# A step number in a path: 1..23, bounded by the rule itself (published as the parameter's bounds).
STEP = f"<int(min=1, max={TOTAL_STEPS}):number>"

router = Router("onboarding_step", wiring=bootstrap.onboarding)


@router.route("/steps", methods=["GET"], auth="user", rate="read", responses={200: StepCatalogue})
def list_steps(ctx: RequestContext[OnboardingDeps]) -> StepCatalogue:
    """The step catalogue with each step's JSON Schema."""
    return _catalogue()


@functools.cache
def _catalogue() -> StepCatalogue:
    """The catalogue is fixed for a deployment: copied and validated once per instance, on first use
    (about 1 ms a request otherwise), never at import."""
    return StepCatalogue.model_validate(onboarding.step_catalogue())


@router.route(
    "/sessions",
    methods=["POST"],
    auth="user",
    rate="write",
    body=StartSessionRequest,
    responses={201: SessionStarted, 200: SessionStarted},
    problems=["workspace_not_found", "subscription_inactive", "drafts_unavailable"],
)
def start_session(ctx: RequestContext[OnboardingDeps]) -> tuple[SessionStarted, int]:
    """Start a session (201), or return the active one / resume an abandoned one (200)."""
    body = ctx.json()
    requested = body.get("workspace_id")
    workspace_id = ctx.workspace_id(requested if requested is not None else None)
    result = onboarding.start_session(workspace_id, ctx.user_id, deps=ctx.app)
    payload: dict[str, Any] = {**result.session, "resumed": result.resumed}
    return SessionStarted.model_validate(payload), 201 if result.created else 200


@router.route(
    "/sessions/<session_id>",
    methods=["GET"],
    auth="user",
    rate="read",
    responses={200: Session},
    problems=["session_not_found", "session_expired", "drafts_unavailable"],
)
def get_session(ctx: RequestContext[OnboardingDeps], session_id: str) -> Session:
    """Progress and every step's status, data and AI state."""
    return Session.model_validate(onboarding.get_session(session_id, ctx.is_member, deps=ctx.app))


# rate="read": autosave must keep working while Redis is down, and only
# the "read" class fails open; its budget (120/min) still bounds a runaway client.
@router.route(
    f"/sessions/<session_id>/steps/{STEP}",
    methods=["PUT"],
    auth="user",
    rate="read",
    max_body=MAX_SAVE_BODY,
    body=SaveStepRequest,
    responses={200: StepSaved},
    problems=[
        "subscription_inactive",
        "session_not_found",
        "step_not_found",
        "session_not_active",
        "session_expired",
        "version_conflict",
        "step_invalid",
        "step_incomplete",
        "step_too_large",
        "session_too_large",
        "drafts_unavailable",
    ],
)
def save_step(ctx: RequestContext[OnboardingDeps], session_id: str, number: int) -> StepSaved:
    """Save a step as draft or complete (optimistic concurrency on ``version``)."""
    return StepSaved.model_validate(onboarding.save_step(session_id, number, ctx.json(), ctx.is_member, deps=ctx.app))


@router.route(
    f"/sessions/<session_id>/steps/{STEP}/ai",
    methods=["POST"],
    auth="user",
    rate="expensive",
    body=NoBody,
    responses={202: AiQueued},
    problems=[
        "subscription_inactive",
        "plan_limit_reached",
        "session_not_found",
        "step_not_found",
        "session_not_active",
        "session_expired",
        "no_ai_task",
        "drafts_unavailable",
        "tasks_unavailable",
    ],
)
def request_ai(ctx: RequestContext[OnboardingDeps], session_id: str, number: int) -> tuple[AiQueued, int]:
    """Queue an AI suggestion for a step (202; the in-flight one when already queued)."""
    return AiQueued.model_validate(
        onboarding.request_ai(session_id, number, ctx.is_member, ctx.request_id, deps=ctx.app)
    ), 202


main = router.entry_point()
