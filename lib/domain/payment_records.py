"""The records payments stores and moves between its services and repositories.

Values are frozen dataclasses so a service never holds a live DB row.  States and
``Plan`` come from ``lib.domain.payments`` (the one definition of the rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from lib.domain.payments import ALLOWED_TRANSITIONS, PaymentState
from lib.domain.payments import FINAL_STATES as DOMAIN_FINAL_STATES
from lib.domain.payments import OPEN_STATES as DOMAIN_OPEN_STATES

# Order states and plans are the domain's (lib.domain.payments): one definition, re-exported here
# so the services and adapters compare rows (plain strings) against the same StrEnum members.
CREATED = PaymentState.CREATED
PENDING = PaymentState.PENDING
COMPLETED = PaymentState.COMPLETED
FAILED = PaymentState.FAILED
EXPIRED = PaymentState.EXPIRED
REFUNDED = PaymentState.REFUNDED
NEEDS_REVIEW = PaymentState.NEEDS_REVIEW
# Plain strings (not enum members) so they bind as text in SQL arrays.
OPEN_STATES: tuple[str, ...] = tuple(sorted(s.value for s in DOMAIN_OPEN_STATES))
FINAL_STATES: tuple[str, ...] = tuple(sorted(s.value for s in DOMAIN_FINAL_STATES))


def sources_of(to_state: PaymentState) -> tuple[str, ...]:
    """The states an order may move to ``to_state`` from (``ALLOWED_TRANSITIONS``, the trigger's
    edges): the ``from_states`` of a conditional update, for the services and the repos alike."""
    return tuple(sorted(s.value for s, targets in ALLOWED_TRANSITIONS.items() if to_state in targets))


class OrderKind(StrEnum):
    """What an order pays through (``payment_transactions.kind``)."""

    CHECKOUT = "checkout"  # the customer pays on PhonePe's page
    MANDATE_SETUP = "mandate_setup"  # approving a UPI AutoPay mandate pays the first period
    REDEMPTION = "redemption"  # AutoPay's charge for a renewal


ActivationOutcome = Literal["granted", "already_completed", "needs_review", "ignored", "missing"]


@dataclass(frozen=True)
class NewOrder:
    merchant_order_id: str
    workspace_id: str
    user_id: str
    plan_id: str
    billing_period: str
    amount_paise: int
    currency: str = "INR"
    # An upgrade's credit: the unused part of the old plan, taken off the list price.
    credit_paise: int = 0
    kind: str = OrderKind.CHECKOUT


@dataclass(frozen=True)
class Order:
    id: str
    merchant_order_id: str
    workspace_id: str
    user_id: str
    plan_id: str
    billing_period: str
    amount_paise: int
    currency: str
    state: str
    phonepe_order_id: str | None
    checkout_url: str | None
    expires_at: datetime | None
    last_checked_at: datetime | None
    error_code: str | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    credit_paise: int = 0
    kind: str = OrderKind.CHECKOUT
    # The time this order bought, written when it is granted (None before).
    period_start: datetime | None = None
    period_end: datetime | None = None


@dataclass(frozen=True)
class Subscription:
    workspace_id: str
    plan_id: str
    billing_period: str
    status: str
    current_period_start: datetime
    current_period_end: datetime | None
    cancel_at_period_end: bool = False
    credit_paise: int = 0
    scheduled_plan_id: str | None = None
    scheduled_billing_period: str | None = None
    # When the sweep next has work for this row (``lib.domain.subscriptions.next_sweep_at``).
    next_sweep_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan_id,
            "billing_period": self.billing_period,
            "status": self.status,
            "current_period_start": self.current_period_start.isoformat(),
            "current_period_end": self.current_period_end.isoformat() if self.current_period_end else None,
        }


@dataclass(frozen=True)
class Activation:
    """What one activation call did.  ``granted`` is True for exactly one caller per order."""

    outcome: ActivationOutcome
    order: Order | None
    subscription: Subscription | None = None
    outbox_id: str | None = None

    @property
    def granted(self) -> bool:
        return self.outcome == "granted"


@dataclass(frozen=True)
class EmailFacts:
    """Who a payment email goes to and the names it quotes (read with the change it reports)."""

    to_email: str | None
    full_name: str | None
    workspace_name: str
    plan_name: str


@dataclass(frozen=True)
class NewEmail:
    """One outbox row.  ``idempotency_key`` is unique: a second row with the same key is not written."""

    id: str
    kind: str
    to_email: str
    subject: str
    payload: Mapping[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class WebhookEvent:
    provider: str
    event_key: str
    event_type: str
    merchant_order_id: str | None
    payload: Mapping[str, Any] | None
    raw_body: str | None
    valid: bool


@dataclass(frozen=True)
class RecordedEvent:
    """The ledger's answer: ``inserted`` for the first delivery; ``processed`` once an outcome is stored."""

    inserted: bool
    processed: bool
    outcome: str | None
    # The event's order, read in the same round trip as the insert (None: the event names no order,
    # or its row is not visible yet).
    order: Order | None = None


@dataclass(frozen=True)
class OutboxEmail(NewEmail):
    """An outbox row as claimed for sending: the row, and how many sends it has had."""

    attempts: int


@dataclass(frozen=True)
class OutboxBacklog:
    """Emails not yet sent (and not given up): how many, and how long the oldest has waited."""

    pending: int
    oldest_age_s: float
