"""billing: the plan, its next charge, the transactions with receipts and refunds; cancel, resume, change."""

from __future__ import annotations

from pydantic import Field

from lib.contract.common import Closed, Request, Timestamp, example
from lib.contract.payments import BillingPeriodName, PaymentStateName
from lib.domain.payment_records import OrderKind
from lib.domain.refunds import RefundState
from lib.domain.subscriptions import SubscriptionStatus

SUBSCRIPTION_EXAMPLE = {
    "plan": "starter",
    "billing_period": "monthly",
    "status": "active",
    "current_period_start": "2026-12-05T19:35:00+00:00",
    "current_period_end": "2027-01-05T19:35:00+00:00",
    "grace_ends_at": None,
    "cancel_at_period_end": False,
    "credit_paise": 0,
    "next_charge_at": "2027-01-05T19:35:00+00:00",
    "next_charge_paise": 49900,
    "scheduled_change": None,
    "autopay": None,
}
REFUND_EXAMPLE = {
    "merchant_refund_id": "rf_01J9Z8K3M4N5P6Q7R8S9T0V1W2",
    "merchant_order_id": "ord_01J9Z8K3M4N5P6Q7R8S9T0V1W2",
    "amount_paise": 49900,
    "state": "COMPLETED",
    "reason": "goodwill",
    "phonepe_refund_id": "OMR2612051935",
    "error_code": None,
    "completed_at": "2026-12-05T19:40:00+00:00",
    "created_at": "2026-12-05T19:35:00+00:00",
}


class ScheduledChange(Closed):
    model_config = example({"plan": "starter", "billing_period": "annual", "at": "2027-01-05T19:35:00+00:00"})

    plan: str
    billing_period: BillingPeriodName
    at: Timestamp | None


class AutoPayMandate(Closed):
    model_config = example(
        {
            "merchant_subscription_id": "sub_01J9Z8K3M4",
            "state": "ACTIVE",
            "on": True,
            "max_amount_paise": 49900,
            "billing_period": "monthly",
        }
    )

    merchant_subscription_id: str
    state: str
    on: bool
    max_amount_paise: int
    billing_period: BillingPeriodName


class Subscription(Closed):
    """The subscription as the billing page shows it (``status`` as the rules say it is now)."""

    model_config = example(SUBSCRIPTION_EXAMPLE)

    plan: str
    billing_period: BillingPeriodName
    status: SubscriptionStatus
    current_period_start: Timestamp
    current_period_end: Timestamp | None
    grace_ends_at: Timestamp | None
    cancel_at_period_end: bool
    credit_paise: int
    next_charge_at: Timestamp | None
    next_charge_paise: int | None
    scheduled_change: ScheduledChange | None
    autopay: AutoPayMandate | None


class Refund(Closed):
    model_config = example(REFUND_EXAMPLE)

    merchant_refund_id: str
    merchant_order_id: str
    amount_paise: int
    state: RefundState
    reason: str
    phonepe_refund_id: str | None
    error_code: str | None
    completed_at: Timestamp | None
    created_at: Timestamp


class Transaction(Closed):
    model_config = example(
        {
            "merchant_order_id": "ord_01J9Z8K3M4N5P6Q7R8S9T0V1W2",
            "kind": "checkout",
            "plan": "starter",
            "billing_period": "monthly",
            "amount_paise": 49900,
            "credit_paise": 0,
            "currency": "INR",
            "state": "COMPLETED",
            "period_start": "2026-12-05T19:35:00+00:00",
            "period_end": "2027-01-05T19:35:00+00:00",
            "created_at": "2026-12-05T19:35:00+00:00",
            "completed_at": "2026-12-05T19:36:00+00:00",
            "receipt_number": "R/2026-27/000123",
            "refunds": [],
        }
    )

    merchant_order_id: str
    kind: OrderKind
    plan: str
    billing_period: BillingPeriodName
    amount_paise: int
    credit_paise: int
    currency: str
    state: PaymentStateName
    period_start: Timestamp | None
    period_end: Timestamp | None
    created_at: Timestamp
    completed_at: Timestamp | None
    receipt_number: str | None
    refunds: list[Refund]


class BillingOverview(Closed):
    model_config = example(
        {
            "workspace_id": "7d9f3c2a-1b4e-4c8d-9a6f-2e5b8c1d0f3a",
            "subscription": SUBSCRIPTION_EXAMPLE,
            "transactions": [],
        }
    )

    workspace_id: str
    subscription: Subscription | None
    transactions: list[Transaction] = Field(description="The newest 50, newest first.")


class SubscriptionView(Closed):
    """What cancel, resume and change answer: the subscription after the change."""

    model_config = example({"subscription": SUBSCRIPTION_EXAMPLE})

    subscription: Subscription | None


class ReceiptLink(Closed):
    model_config = example(
        {
            "number": "R/2026-27/000123",
            "url": "https://storage.googleapis.com/bcm-receipts/r.pdf?X-Goog-Signature=abc",
            "expires_in_s": 900,
        }
    )

    number: str
    url: str
    expires_in_s: int


class WorkspaceRequest(Request):
    model_config = example({})

    workspace_id: str | None = Field(None, description="A workspace the caller is a member of; omitted: their own.")


class ChangeRequest(WorkspaceRequest):
    model_config = example({"plan": "starter", "billing_period": "annual"})

    plan: str
    billing_period: BillingPeriodName
