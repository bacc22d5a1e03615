"""initiate_payment, payment_status, payment_webhook and payment_reconcile."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from lib.contract.common import Closed, Request, Timestamp, example
from lib.domain.payments import BillingPeriod, PaymentState

PaymentStateName = PaymentState
PlanId = str
BillingPeriodName = BillingPeriod


class InitiatePaymentRequest(Request):
    model_config = example({"plan": "starter", "billing_period": "monthly"})

    plan: Literal["free", "starter", "growth"] = Field(description="The plan to buy; `enterprise` is 422.")
    billing_period: BillingPeriodName = BillingPeriod.MONTHLY
    autopay: bool = Field(False, description="Set up a UPI AutoPay mandate that pays later periods.")
    workspace_id: str | None = Field(None, description="A workspace the caller is a member of; omitted: their own.")


class Order(Closed):
    """A checkout: the order to pay at ``checkout_url``."""

    model_config = example(
        {
            "merchant_order_id": "ord_01J9Z8K3M4N5P6Q7R8S9T0V1W2",
            "checkout_url": "https://mercury-uat.phonepe.com/transact/uat_v2?token=abc",
            "amount": 49900,
            "credit": 0,
            "currency": "INR",
            "state": "PENDING",
            "plan": "starter",
            "billing_period": "monthly",
            "expires_at": "2026-12-05T19:50:00+00:00",
            "autopay": False,
        }
    )

    merchant_order_id: str
    checkout_url: str | None
    amount: int = Field(description="Paise to pay (the plan's price less `credit`).")
    credit: int = Field(description="Paise of the running plan's unused period taken off an upgrade.")
    currency: str
    state: PaymentStateName
    plan: PlanId
    billing_period: BillingPeriodName
    expires_at: Timestamp | None
    autopay: bool
    merchant_subscription_id: str | None = Field(None, description="The AutoPay mandate set up by this order.")


class OrderSubscription(Closed):
    """The subscription an order bought (or the free plan granted)."""

    model_config = example(
        {
            "plan": "starter",
            "billing_period": "monthly",
            "status": "active",
            "current_period_start": "2026-12-05T19:35:00+00:00",
            "current_period_end": "2027-01-05T19:35:00+00:00",
        }
    )

    plan: PlanId
    billing_period: BillingPeriodName
    status: str
    current_period_start: Timestamp
    current_period_end: Timestamp | None


class FreePlanGranted(Closed):
    """``plan: free``: no checkout, the subscription at once."""

    model_config = example(
        {
            "plan": "free",
            "state": "COMPLETED",
            "subscription": {
                "plan": "free",
                "billing_period": "monthly",
                "status": "active",
                "current_period_start": "2026-12-05T19:35:00+00:00",
                "current_period_end": None,
            },
        }
    )

    plan: PlanId
    state: Literal["COMPLETED"]
    subscription: OrderSubscription


class PaymentStatus(Closed):
    model_config = example(
        {
            "merchant_order_id": "ord_01J9Z8K3M4N5P6Q7R8S9T0V1W2",
            "state": "PENDING",
            "amount": 49900,
            "currency": "INR",
            "plan": "starter",
            "billing_period": "monthly",
            "subscription": None,
            "updated_at": "2026-12-05T19:35:00+00:00",
            "poll_after_ms": 2000,
        }
    )

    merchant_order_id: str
    state: PaymentStateName
    amount: int
    currency: str
    plan: PlanId
    billing_period: BillingPeriodName
    subscription: OrderSubscription | None
    updated_at: Timestamp
    poll_after_ms: int = Field(description="When to ask again; 0 once the state is final.")


class WebhookReceived(Closed):
    model_config = example({"received": True})

    received: Literal[True]
    duplicate: bool | None = Field(None, description="true: this event was received before (nothing applied again).")


class ReconcileRequest(Request):
    model_config = example({"merchant_order_id": "ord_01J9Z8K3M4N5P6Q7R8S9T0V1W2", "step": 0})

    merchant_order_id: str
    step: int = Field(ge=0)
    chain: str | None = None
    elapsed_s: float | None = Field(None, ge=0)


class ReconcileStep(Closed):
    model_config = example(
        {
            "merchant_order_id": "ord_01J9Z8K3M4N5P6Q7R8S9T0V1W2",
            "state": "COMPLETED",
            "outcome": "final",
            "next_step": None,
        }
    )

    merchant_order_id: str
    state: str | None
    outcome: str
    next_step: int | None


class RefundCheckRequest(Request):
    model_config = example({"merchant_refund_id": "rf_01J9Z8K3M4N5P6Q7R8S9T0V1W2", "step": 0})

    merchant_refund_id: str
    step: int = Field(ge=0)
    chain: str | None = None


class RefundCheckStep(Closed):
    model_config = example({"state": "COMPLETED"})

    state: str


class PhonePeEventPayload(Request):
    """The fields of PhonePe's ``payload`` the webhook reads; the rest is kept as received."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"merchantOrderId": "ord_01J9Z8K3M4", "state": "COMPLETED"}]}
    )

    merchantOrderId: str | None = None
    state: str | None = None
    merchantRefundId: str | None = None
    merchantSubscriptionId: str | None = None


class PhonePeEvent(Request):
    """PhonePe's callback, checked against its ``Authorization`` header on the raw body."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "event": "checkout.order.completed",
                    "payload": {"merchantOrderId": "ord_01J9Z8K3M4", "state": "COMPLETED"},
                }
            ]
        },
    )

    event: str
    payload: PhonePeEventPayload
