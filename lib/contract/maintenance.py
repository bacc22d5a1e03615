"""maintenance: the Cloud Scheduler jobs' summaries and the operator's refund."""

from __future__ import annotations

from pydantic import Field

from lib.contract.billing import REFUND_EXAMPLE, Refund
from lib.contract.common import Closed, Request, example


class SessionsExpired(Closed):
    model_config = example({"examined": 3, "abandoned": 1})

    examined: int
    abandoned: int


class OutboxSwept(Closed):
    model_config = example({"claimed": 2, "sent": 2, "failed": 0, "pending": 0, "oldest_age_s": 0.0})

    claimed: int
    sent: int
    failed: int
    pending: int = Field(description="Emails still waiting after this run.")
    oldest_age_s: float


class PaymentsRequeued(Closed):
    model_config = example({"stale": 1, "queued": 1, "refunds_requeued": 0})

    stale: int
    queued: int
    refunds_requeued: int


class SubscriptionsSwept(Closed):
    model_config = example({"examined": 4, "moved": 2, "emails": 2, "more": False})

    examined: int
    moved: int
    emails: int
    more: bool


class AutoPayRun(Closed):
    model_config = example({"notified": 1, "redeemed": 0, "skipped": 0, "turned_off": 0, "stuck": 0})

    notified: int
    redeemed: int
    skipped: int
    turned_off: int
    stuck: int


class RefundRequestBody(Request):
    model_config = example(
        {
            "merchant_order_id": "ord_01J9Z8K3M4N5P6Q7R8S9T0V1W2",
            "merchant_refund_id": "rf_01J9Z8K3M4N5P6Q7R8S9T0V1W2",
            "reason": "goodwill",
        }
    )

    merchant_order_id: str
    merchant_refund_id: str
    reason: str
    amount_paise: int | None = Field(None, description="Absent: all that is left to refund.")


class RefundOutcome(Closed):
    model_config = example({"refund": REFUND_EXAMPLE, "created": True})

    refund: Refund
    created: bool = Field(description="false: the same request again, answered with the refund it made.")
