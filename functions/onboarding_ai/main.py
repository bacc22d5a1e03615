"""onboarding_ai: run one AI suggestion task with a 30 s limit (Cloud Tasks, OIDC).

Cloud Tasks acknowledges on 2xx and retries on anything else, up to the AI
queue's 3 attempts; ``X-CloudTasks-TaskRetryCount`` says which attempt this is.
The use case (``lib.services.onboarding_ai.run_suggestion``) decides: 200 for
done, failed for good, or nothing to do; 503 for "try again".
"""

from __future__ import annotations

from lib import bootstrap
from lib.contract.onboarding import AiOutcome, AiTaskRequest
from lib.http import RequestContext, Router
from lib.services.onboarding_ai import SuggestionDeps, run_suggestion, unusable_payload

router = Router("onboarding_ai", wiring=bootstrap.onboarding_ai)


@router.route(
    "/",
    methods=["POST"],
    auth="internal",
    rate=None,
    body=AiTaskRequest,
    responses={200: AiOutcome, 503: AiOutcome},
)
def run_task(ctx: RequestContext[SuggestionDeps]) -> tuple[AiOutcome, int]:
    """One attempt of one step's AI task."""
    payload = ctx.json()
    # A payload no attempt can use is acknowledged before any dependency is built.
    outcome = unusable_payload(payload, retry_count=ctx.task_retry_count) or run_suggestion(
        payload, retry_count=ctx.task_retry_count, deps=ctx.app
    )
    ctx.log.info(
        "onboarding_ai.outcome",
        extra={"result": outcome.result, "attempt": outcome.attempt, "detail": outcome.detail},
    )
    return AiOutcome.model_validate(outcome.body()), outcome.status_code


main = router.entry_point()
