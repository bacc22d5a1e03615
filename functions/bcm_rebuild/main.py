"""bcm_rebuild: rebuild one workspace's BCM from its stored business_context (Cloud Tasks).

``POST /`` ``{job_id, workspace_id}`` with a Google OIDC token.  2xx
acknowledges (done, nothing changed, a duplicate, or failed for good on the
last attempt); 503 asks Cloud Tasks to retry.  Decisions live in
``lib.services.bcm.rebuild``.
"""

from __future__ import annotations

from lib import bootstrap
from lib.contract.bcm import RebuildOutcome, RebuildTask
from lib.errors import FieldError, Unprocessable
from lib.http import RequestContext, ResponseLike, Router
from lib.services.bcm.deps import BcmDeps
from lib.services.bcm.rebuild import run_rebuild

router = Router("bcm_rebuild", wiring=bootstrap.bcm)


@router.route(
    "/",
    methods=["POST"],
    auth="internal",
    rate=None,
    body=RebuildTask,
    responses={200: RebuildOutcome, 503: RebuildOutcome},
)
def rebuild(ctx: RequestContext[BcmDeps]) -> ResponseLike:
    """One rebuild job; de-duplicated by task name, idempotent on the job's status."""
    job_id = ctx.json().get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise Unprocessable("job_id is required.", errors=[FieldError("job_id", "is required")])
    outcome = run_rebuild(job_id, attempt=ctx.task_retry_count, deps=ctx.app)
    body = RebuildOutcome.model_validate(outcome.body())
    if outcome.retry:
        return body, 503, {"Retry-After": "1"}
    return body


main = router.entry_point()
