"""finalize: aggregate the 23 steps into the business context and the BCM.

``POST /{session_id}`` (``Idempotency-Key`` optional) -> ``200 {business_context,
manifest: {version, checksum, token_count}, onboarding_status}``; incomplete
steps -> 422 listing each; a session of a workspace the caller is not a member
of -> 404; finalizing again returns the same result.  Every decision lives in
``lib.services.bcm.finalize``.
"""

from __future__ import annotations

from lib import bootstrap
from lib.contract.bcm import Finalized
from lib.contract.common import NoBody
from lib.http import RequestContext, Router
from lib.services.bcm.deps import BcmDeps
from lib.services.bcm.finalize import finalize_session

router = Router("finalize", wiring=bootstrap.bcm)


@router.route(
    "/<session_id>",
    methods=["POST"],
    auth="user",
    rate="write",
    idempotent=True,
    body=NoBody,
    responses={200: Finalized},
    problems=["subscription_inactive", "session_not_found", "session_not_active", "steps_incomplete"],
)
def finalize(ctx: RequestContext[BcmDeps], session_id: str) -> Finalized:
    """Validate, reduce, persist, mark completed."""
    return Finalized.model_validate(finalize_session(session_id, ctx.is_member, deps=ctx.app))


main = router.entry_point()
