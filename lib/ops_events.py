"""Names of the log events the alerts count.

Each is logged as the ``event`` field of one structured line; Cloud Logging
turns it into ``jsonPayload.event`` and the log-based metrics in
``infra/terraform/monitoring.tf`` filter on exactly these strings (a test
holds the two together).  Renaming one silently breaks an alert, so every
name lives here, once.
"""

from __future__ import annotations

# A payment PhonePe reports COMPLETED after we failed or expired the order: money taken, nothing granted.
PAYMENT_NEEDS_REVIEW = "payment.needs_review"
# PhonePe's amount or owner differs from our order: not granted, a person must look.
PAYMENT_MISMATCH = "payment.mismatch"
# An AI suggestion failed its last attempt (the user sees "failed" and can ask again).
AI_SUGGESTION_FAILED = "ai.suggestion_failed"
# A BCM rebuild failed for good (the previous version keeps serving).
BCM_REBUILD_FAILED = "bcm.rebuild_failed"
# A webhook whose event is neither a checkout order's nor a refund's (e.g. pg.order.completed, or an
# attempt failure): acknowledged and kept, but nothing acts on it.  A dashboard set to the wrong webhook
# product sends only these, and then no order would ever settle by webhook.
WEBHOOK_UNKNOWN_EVENT = "payment.webhook_unknown_event"
# PhonePe refused or failed a refund an operator asked for: the customer is still owed the money.
REFUND_FAILED = "payment.refund_failed"
# A refund still not final after its week-long ladder.
REFUND_STUCK = "payment.refund_stuck"
# An AutoPay debit PhonePe reported FAILED (the customer renews by hand): alerted above a rate.
REDEMPTION_FAILED = "payment.redemption_failed"
# An AutoPay debit still not final an hour after it was asked for.
REDEMPTION_STUCK = "payment.redemption_stuck"
# Logged by every outbox sweep: how many emails are waiting and how old the oldest is.
OUTBOX_BACKLOG = "outbox.backlog"

ALL = frozenset(
    {
        PAYMENT_NEEDS_REVIEW,
        PAYMENT_MISMATCH,
        WEBHOOK_UNKNOWN_EVENT,
        AI_SUGGESTION_FAILED,
        BCM_REBUILD_FAILED,
        OUTBOX_BACKLOG,
        REFUND_FAILED,
        REFUND_STUCK,
        REDEMPTION_FAILED,
        REDEMPTION_STUCK,
    }
)
