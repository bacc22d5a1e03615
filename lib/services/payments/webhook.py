"""payment_webhook: PhonePe's callback, treated as a hint.

Order of work, each step for a reason:
1. the Authorization header is checked in constant time on the raw request,
   before the body is parsed (a forged call costs nothing and records nothing);
2. the event is recorded once in ``webhook_events`` (unique provider + key), so
   a duplicate already processed is answered 200 at once (the order row is read in the
   same round trip);
3. PhonePe's order-status API is asked (the header signs nothing), and only
   its answer moves the state machine (``apply_gateway_status``); a refund's
   event likewise asks the refund-status API (``refunds.settle_refund``), an
   AutoPay order's (setup, notification, redemption) the subscription order
   status, and a mandate's (cancelled, paused, unpaused, revoked) the
   subscription status (``autopay.refresh_mandate``).
An order whose row is not visible yet gets a reconciliation task, so the event
is not lost.  A database or PhonePe outage is a 503: PhonePe retries.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from lib import ops_events
from lib.domain.payment_records import WebhookEvent
from lib.domain.payments import ORDER_EVENTS, REFUND_EVENTS, parse_event, webhook_authorization_ok
from lib.domain.text import unstorable_path
from lib.errors import AdapterError, BadRequest, ServiceUnavailable, Unauthorized, Unstorable
from lib.services.payments.autopay import order_status, refresh_mandate
from lib.services.payments.autopay_ports import MANDATE_CALLBACKS, SUBSCRIPTION_CALLBACKS
from lib.services.payments.deps import PROVIDER, PaymentDeps
from lib.services.payments.outbox import deliver_email
from lib.services.payments.refunds import settle_refund
from lib.services.payments.scheduling import schedule_reconcile
from lib.services.payments.settlement import apply_gateway_status

# Delay before the reconciliation of an event whose order row is not visible yet.
UNKNOWN_ORDER_RECHECK_S = 5
# Raw bodies kept for inspection are cut to this many characters.
MAX_STORED_RAW = 16_384


@dataclass(frozen=True)
class WebhookCommand:
    raw_body: bytes
    authorization: str | None


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _parse(raw: bytes) -> tuple[str, dict[str, Any]] | None:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or unstorable_path(body) is not None:
        return None  # NUL or a lone surrogate: nothing PhonePe sends; kept as malformed, never retried
    event, payload = body.get("event"), body.get("payload")
    if not isinstance(event, str) or not event or not isinstance(payload, dict):
        return None
    return event, payload


def _event_key(event: str, payload: dict[str, Any], raw: bytes) -> str:
    mid, state = payload.get("merchantOrderId"), payload.get("state")
    refund = payload.get("merchantRefundId")
    if isinstance(mid, str) and isinstance(state, str):
        return f"{event}:{mid}:{state}"
    if isinstance(refund, str) and isinstance(state, str):
        return f"{event}:{refund}:{state}"
    msid = payload.get("merchantSubscriptionId")
    if isinstance(msid, str) and isinstance(state, str):
        return f"{event}:{msid}:{state}"
    return f"sha256:{_digest(raw)}"


def apply_webhook(cmd: WebhookCommand, *, deps: PaymentDeps) -> dict[str, Any]:
    cfg = deps.config
    if not webhook_authorization_ok(cmd.authorization, cfg.webhook_username, cfg.webhook_password):
        raise Unauthorized("Webhook authorization failed.", code="webhook_unauthorized")
    try:
        return _process(cmd.raw_body, deps)
    except Unstorable as exc:  # a retry would fail the same way: refuse it for good
        deps.log.warning("webhook body cannot be stored; refused", extra={"error": str(exc)})
        raise BadRequest("The webhook body cannot be stored.", code="webhook_malformed") from exc
    except AdapterError as exc:
        deps.log.warning("webhook not processed; asking PhonePe to retry", extra={"error": str(exc)})
        raise ServiceUnavailable("Try again later.", code="webhook_retry_later", headers={"Retry-After": "5"}) from exc


def _process(raw: bytes, deps: PaymentDeps) -> dict[str, Any]:
    # As text Postgres can store: invalid UTF-8 and NUL become U+FFFD (the digest keeps the exact bytes).
    raw_text = raw.decode("utf-8", "replace").replace("\x00", "\ufffd")[:MAX_STORED_RAW]
    parsed = _parse(raw)
    if parsed is None:
        key = f"sha256:{_digest(raw)}"
        deps.repo.record_webhook_event(WebhookEvent(PROVIDER, key, "malformed", None, None, raw_text, False))
        deps.repo.finish_webhook_event(PROVIDER, key, outcome="malformed")
        raise BadRequest("The webhook body is not a PhonePe event.", code="webhook_malformed")
    event, payload = parsed
    key = _event_key(event, payload, raw)
    mid = payload.get("merchantOrderId") if isinstance(payload.get("merchantOrderId"), str) else None
    recorded = deps.repo.record_webhook_event(WebhookEvent(PROVIDER, key, event, mid, payload, raw_text, True))
    if recorded.processed:
        return {"received": True, "duplicate": True}
    kind = parse_event(event)
    autopay_type = SUBSCRIPTION_CALLBACKS.get(event)
    if autopay_type in MANDATE_CALLBACKS:
        outcome = _mandate_event(deps, payload)
        deps.repo.finish_webhook_event(PROVIDER, key, outcome=outcome)
        return {"received": True}
    if kind is None and autopay_type is None:
        # Not a checkout order's nor a refund's: kept and acknowledged (PhonePe would retry otherwise),
        # but logged for the alert: a dashboard sending only these would settle no order by webhook.
        deps.log.warning(
            "webhook event of a kind nothing handles",
            extra={"event": ops_events.WEBHOOK_UNKNOWN_EVENT, "webhook_event": event},
        )
    if kind in REFUND_EVENTS:
        outcome = _refund_event(deps, payload)
        deps.repo.finish_webhook_event(PROVIDER, key, outcome=outcome)
        return {"received": True}
    if (kind not in ORDER_EVENTS and autopay_type is None) or mid is None:
        deps.repo.finish_webhook_event(PROVIDER, key, outcome="ignored")
        return {"received": True}
    bound = deps.log.bind(merchant_order_id=mid, event=event)
    order = recorded.order  # read with the ledger insert, in the same round trip
    if order is None:
        # Not visible yet (or not ours): the ledger has it and a status check is coming.
        schedule_reconcile(deps, mid, step=0, chain=f"wh{_digest(key.encode())[:12]}", delay_s=UNKNOWN_ORDER_RECHECK_S)
        bound.warning("webhook for an order not (yet) visible; reconciliation scheduled")
        return {"received": True}
    status = order_status(deps, order)
    applied = apply_gateway_status(deps, order, status)
    deps.repo.finish_webhook_event(PROVIDER, key, outcome=applied.outcome)
    if applied.outbox_id:
        deliver_email(deps, applied.outbox_id)
    return {"received": True}


def _refund_event(deps: PaymentDeps, payload: dict[str, Any]) -> str:
    """A ``PG_REFUND_*`` hint: the refund's state is asked of PhonePe and settled.  A refund we did
    not ask for (made on PhonePe's dashboard) is kept in the ledger and left alone."""
    rid = payload.get("merchantRefundId")
    if not isinstance(rid, str) or not rid:
        return "ignored"
    with deps.unit() as uow:
        known = uow.refunds.get_refund(rid)
    if known is None:
        deps.log.warning("refund webhook for a refund we did not ask for", extra={"merchant_refund_id": rid})
        return "ignored"
    return settle_refund(deps, rid, deps.gateway.refund_state(rid)).state.lower()


def _mandate_event(deps: PaymentDeps, payload: dict[str, Any]) -> str:
    """``SUBSCRIPTION_CANCELLED|PAUSED|UNPAUSED|REVOKED``: a hint; the mandate's state is asked of PhonePe."""
    msid = payload.get("merchantSubscriptionId")
    if not isinstance(msid, str) or not msid:
        return "ignored"
    with deps.unit() as uow:
        known = uow.mandates.get_mandate(msid)
    if known is None:
        deps.log.warning("mandate webhook for a mandate we do not know", extra={"merchant_subscription_id": msid})
        return "ignored"
    return refresh_mandate(deps, msid)
