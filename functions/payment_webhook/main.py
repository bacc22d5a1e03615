"""payment_webhook: PhonePe's callback: record once, confirm with PhonePe, apply the state machine.

The Authorization header (PhonePe's sha256 of user:pass) is checked by the
service on the raw body before anything is parsed or recorded.
"""

from __future__ import annotations

from lib import bootstrap
from lib.contract.payments import PhonePeEvent, WebhookReceived
from lib.http import RequestContext, Router
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.webhook import WebhookCommand, apply_webhook

router = Router("payment_webhook", wiring=bootstrap.payments)


@router.route(
    "/",
    methods=["POST"],
    auth="none",
    rate=None,
    body=PhonePeEvent,
    responses={200: WebhookReceived},
    problems=["webhook_unauthorized", "webhook_malformed", "webhook_retry_later"],
)
def receive(ctx: RequestContext[PaymentDeps]) -> WebhookReceived:
    """200 {received: true} (also for duplicates); 401 bad header; 400 malformed; 503 retry later."""
    command = WebhookCommand(ctx.raw_body, ctx.request.headers.get("Authorization"))
    return WebhookReceived.model_validate(apply_webhook(command, deps=ctx.app))


main = router.entry_point()
