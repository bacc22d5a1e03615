"""payment_reconcile (Cloud Tasks worker) and the maintenance sweeps.

Each reconcile run checks one order with PhonePe, applies the answer and
queues the next step of the ladder until the order is final or expired.  The
sweep re-queues open orders nobody has checked for a while (a lost chain, a
queue that was down) and sends due outbox mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib import ops_events
from lib.domain.payment_records import OPEN_STATES
from lib.domain.payments import LADDER_PHASES
from lib.errors import AdapterError, BadRequest
from lib.services.payments.autopay import order_status
from lib.services.payments.deps import PROVIDER, PaymentDeps
from lib.services.payments.outbox import OUTBOX_LEASE_S, deliver_email, send_claimed
from lib.services.payments.scheduling import MAX_UNKNOWN_ORDER_STEPS, schedule_reconcile
from lib.services.payments.settlement import apply_gateway_status

# The sweep re-queues an open order not checked for this long.
SWEEP_STALE_AFTER_S = 300
# Orders re-queued per sweep run; the rest wait for the next run (oldest check first).
SWEEP_BATCH = 200
# Emails sent per sweep run.
OUTBOX_BATCH = 50
# Ladder position a swept order restarts at: the end of the phases, i.e. the once-a-minute tail.
SWEEP_ELAPSED_S = LADDER_PHASES[-1][0]
# Step number of a swept order's first task (names the task; any number past the pay chain's).
SWEEP_STEP = 1000


@dataclass(frozen=True)
class ReconcileCommand:
    """One ladder step; ``elapsed_s`` is the ladder position this run stands at (seconds after pay
    in ladder time; None for a task queued before it was carried: then wall time since creation)."""

    merchant_order_id: str
    step: int = 0
    chain: str = "pay"
    elapsed_s: float | None = None


def parse_reconcile(body: dict[str, Any]) -> ReconcileCommand:
    mid, step, chain = body.get("merchant_order_id"), body.get("step", 0), body.get("chain", "pay")
    elapsed = body.get("elapsed_s")
    if not isinstance(mid, str) or not mid or not isinstance(step, int) or step < 0 or not isinstance(chain, str):
        raise BadRequest("merchant_order_id (string) and step (int >= 0) are required.", code="bad_task")
    if elapsed is not None and (isinstance(elapsed, bool) or not isinstance(elapsed, int | float) or elapsed < 0):
        raise BadRequest("elapsed_s must be a number >= 0.", code="bad_task")
    return ReconcileCommand(mid, step, chain, None if elapsed is None else float(elapsed))


def reconcile_order(cmd: ReconcileCommand, *, deps: PaymentDeps) -> dict[str, Any]:
    """One ladder step.  A database outage raises (the queue retries the task);
    a PhonePe outage just moves on to the next step."""
    mid = cmd.merchant_order_id
    order = deps.repo.get_order(mid)
    elapsed = cmd.elapsed_s
    if elapsed is None:
        elapsed = (deps.clock.now() - order.created_at).total_seconds() if order is not None else 0.0
    if order is None:
        if cmd.step < MAX_UNKNOWN_ORDER_STEPS:
            schedule_reconcile(deps, mid, step=cmd.step + 1, chain=cmd.chain, elapsed_s=elapsed)
            return {"merchant_order_id": mid, "state": None, "outcome": "order_unknown", "next_step": cmd.step + 1}
        deps.log.error("reconciliation gave up on an order that never appeared", extra={"merchant_order_id": mid})
        return {"merchant_order_id": mid, "state": None, "outcome": "order_unknown", "next_step": None}
    if order.state not in OPEN_STATES:
        deps.repo.finish_order_events(PROVIDER, mid, outcome=f"final:{order.state}")
        return {"merchant_order_id": mid, "state": order.state, "outcome": "final", "next_step": None}
    try:
        status = order_status(deps, order)
    except AdapterError as exc:
        if not exc.retryable:
            raise
        deps.log.warning("status check failed; next ladder step", extra={"merchant_order_id": mid, "error": str(exc)})
        schedule_reconcile(deps, mid, step=cmd.step + 1, chain=cmd.chain, elapsed_s=elapsed, expire_at=order.expires_at)
        return {
            "merchant_order_id": mid,
            "state": order.state,
            "outcome": "gateway_unavailable",
            "next_step": cmd.step + 1,
        }
    applied = apply_gateway_status(deps, order, status)
    if applied.outbox_id:
        deliver_email(deps, applied.outbox_id)
    current = applied.order or order
    state = current.state
    if state in OPEN_STATES:
        schedule_reconcile(
            deps,
            mid,
            step=cmd.step + 1,
            chain=cmd.chain,
            elapsed_s=elapsed,
            expire_at=status.expire_at or current.expires_at,
        )
        return {"merchant_order_id": mid, "state": state, "outcome": applied.outcome, "next_step": cmd.step + 1}
    deps.repo.finish_order_events(PROVIDER, mid, outcome=f"reconciled:{applied.outcome}")
    return {"merchant_order_id": mid, "state": state, "outcome": applied.outcome, "next_step": None}


def sweep_stale_orders(*, deps: PaymentDeps, older_than_s: int = SWEEP_STALE_AFTER_S) -> dict[str, Any]:
    """Queue a reconciliation for every open order nobody checked recently."""
    stale = deps.repo.stale_open_orders(older_than_s=older_than_s, limit=SWEEP_BATCH)
    minute = deps.clock.now().strftime("%Y%m%d%H%M")
    queued = sum(
        1
        for o in stale
        if schedule_reconcile(
            deps, o.merchant_order_id, step=SWEEP_STEP, chain=f"sweep{minute}", elapsed_s=SWEEP_ELAPSED_S, delay_s=0
        )
    )
    return {"stale": len(stale), "queued": queued}


def relay_outbox(*, deps: PaymentDeps, limit: int = OUTBOX_BATCH) -> dict[str, Any]:
    """Send due outbox mail; each failure backs off on its own row."""
    rows = deps.repo.claim_due_emails(limit=limit, lease_s=OUTBOX_LEASE_S)
    sent = sum(1 for row in rows if send_claimed(deps, row))
    result: dict[str, Any] = {"claimed": len(rows), "sent": sent, "failed": len(rows) - sent}
    # What is still waiting after this run: the outbox-backlog alert's log-based metric reads this line.
    backlog = deps.repo.outbox_backlog()
    deps.log.info(
        "outbox sweep finished",
        extra={"event": ops_events.OUTBOX_BACKLOG, "pending": backlog.pending, "oldest_age_s": backlog.oldest_age_s},
    )
    return {**result, "pending": backlog.pending, "oldest_age_s": round(backlog.oldest_age_s, 3)}
