"""Sending outbox emails: claim a row, send it, mark it sent or back off (the relay retries)."""

from __future__ import annotations

import contextlib

from lib.domain.payment_records import OutboxEmail
from lib.errors import AdapterError
from lib.ports import TaskRequest
from lib.services.payments.deps import PaymentDeps, schedule
from lib.services.payments.emails import message_for

# How long a claimed email is reserved for its sender before another relay may take it.
OUTBOX_LEASE_S = 120
# Attempts before an email is marked failed for good.
OUTBOX_MAX_ATTEMPTS = 8
# First retry after 60 s, doubling, at most an hour.
OUTBOX_BACKOFF_BASE_S = 60
OUTBOX_BACKOFF_MAX_S = 3600


def outbox_backoff(attempts: int) -> int:
    return int(min(OUTBOX_BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), OUTBOX_BACKOFF_MAX_S))


def deliver_email(deps: PaymentDeps, outbox_id: str) -> bool:
    """Send one just-committed outbox email now (the sweep retries whatever fails here)."""
    try:
        row = deps.repo.claim_email(outbox_id, lease_s=OUTBOX_LEASE_S)
    except AdapterError as exc:
        deps.log.warning("outbox claim failed; left for the sweep", extra={"outbox_id": outbox_id, "error": str(exc)})
        return False
    return send_claimed(deps, row) if row is not None else False


def schedule_outbox_relay(deps: PaymentDeps, outbox_id: str, *, attempt: int, delay_s: float) -> bool:
    """Run the outbox relay when this email is due again (sooner than the 15-minute sweep).

    Named per outbox row and attempt, so a repeat is a no-op; False when the queue is down
    (the maintenance sweep still finds the row)."""
    task = TaskRequest(
        queue=deps.config.outbox_queue,
        url=deps.config.outbox_relay_url,
        payload={"outbox_id": outbox_id},
        name=f"outbox-{outbox_id}-{attempt}",
        delay_s=delay_s,
    )
    return schedule(deps, task, "outbox relay not scheduled; the sweep will send it")


def send_claimed(deps: PaymentDeps, row: OutboxEmail) -> bool:
    """Send a claimed outbox row; mark it sent, or back off / give up."""
    try:
        deps.mailer.send(message_for(row))
    except AdapterError as exc:
        give_up = not exc.retryable or row.attempts >= OUTBOX_MAX_ATTEMPTS
        retry_in = None if give_up else outbox_backoff(row.attempts)
        (deps.log.error if give_up else deps.log.warning)(
            "email not sent", extra={"outbox_id": row.id, "attempts": row.attempts, "error": str(exc)}
        )
        with contextlib.suppress(AdapterError):  # if this fails too, the lease runs out and the sweep retries
            deps.repo.mark_email_failed(row.id, error=str(exc), retry_in_s=retry_in)
        if retry_in is not None:
            schedule_outbox_relay(deps, row.id, attempt=row.attempts, delay_s=retry_in)
        return False
    try:
        deps.repo.mark_email_sent(row.id)
    except AdapterError as exc:
        # Sent but not marked: the retry carries the same idempotency key, so no second email.
        deps.log.warning("email sent but not marked", extra={"outbox_id": row.id, "error": str(exc)})
    return True
