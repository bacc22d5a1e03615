"""Scheduling the reconciliation ladder: one named Cloud Task per step, so a repeat is a no-op."""

from __future__ import annotations

from datetime import datetime

from lib.domain.payments import next_check_delay
from lib.ports import TaskRequest
from lib.services.payments.deps import PaymentDeps, schedule

# An order whose row is not (yet) visible is retried this many ladder steps, then given up (logged).
MAX_UNKNOWN_ORDER_STEPS = 12
# A last check after the ladder said "stop" while the order is still open (it then settles as expired).
FINAL_CHECK_DELAY_S = 1.0


def until_expiry_s(expire_at: datetime | None, now: datetime) -> float | None:
    """Seconds until ``expire_at`` (negative once passed; None when unknown), for the ladder."""
    return None if expire_at is None else (expire_at - now).total_seconds()


def schedule_reconcile(
    deps: PaymentDeps,
    merchant_order_id: str,
    *,
    step: int,
    chain: str,
    elapsed_s: float = 0.0,
    expire_at: datetime | None = None,
    delay_s: float | None = None,
) -> bool:
    """Queue one reconciliation step (named, so a repeat is a no-op); False when the queue is down
    (the maintenance sweep picks up every open order it has not heard about).

    ``elapsed_s`` is where the order stands on PhonePe's ladder (seconds after pay, counted in
    ladder time, not wall time); the delay is ``next_check_delay`` unless ``delay_s`` is given.
    The task carries the ladder position it will run at, so each run knows the next delay."""
    if delay_s is None:
        delay_s = next_check_delay(elapsed_s, until_expiry_s=until_expiry_s(expire_at, deps.clock.now()))
        if delay_s is None:
            delay_s = FINAL_CHECK_DELAY_S
    task = TaskRequest(
        queue=deps.config.queue,
        url=deps.config.reconcile_url,
        payload={
            "merchant_order_id": merchant_order_id,
            "step": step,
            "chain": chain,
            "elapsed_s": round(elapsed_s + delay_s, 3),
        },
        name=f"reconcile-{merchant_order_id}-{chain}-{step}",
        delay_s=delay_s,
    )
    return schedule(deps, task, "reconciliation not scheduled", merchant_order_id=merchant_order_id)
