"""The ports the payment services use, and the values that cross them.

``PaymentsRepo`` is the payments slice of Postgres (``PostgresPayments``,
``lib.testing.fake_payments.FakePayments``); ``PaymentGateway`` is PhonePe
(``lib.adapters.phonepe.PhonePeClient`` implements it); ``Mailer`` is Resend.
The records that cross the repository are in ``lib.domain.payment_records``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lib.domain.payment_records import (
    Activation,
    NewOrder,
    Order,
    OutboxBacklog,
    OutboxEmail,
    RecordedEvent,
    Subscription,
    WebhookEvent,
)
from lib.domain.payments import Plan


class PaymentsRepo(Protocol):
    """Payments in Postgres.  Every state change is a forward-only conditional update."""

    def get_plan(self, plan_id: str) -> Plan | None: ...

    def create_order(self, order: NewOrder) -> Order:
        """Insert a CREATED order; ``AlreadyExists`` when the merchant order id is taken."""
        ...

    def get_order(self, merchant_order_id: str) -> Order | None: ...

    def mark_pending(
        self,
        merchant_order_id: str,
        *,
        phonepe_order_id: str | None,
        checkout_url: str | None,
        expires_at: datetime | None,
    ) -> Order | None:
        """CREATED -> PENDING with PhonePe's ids; None when the order had already moved on."""
        ...

    def transition(
        self,
        merchant_order_id: str,
        to_state: str,
        *,
        from_states: tuple[str, ...],
        error_code: str | None = None,
        payment_details: Any = None,
    ) -> Order | None:
        """Move to ``to_state`` only from ``from_states``; None when no row matched."""
        ...

    def touch_checked(self, merchant_order_id: str) -> None:
        """Stamp ``last_checked_at`` (the sweep and payment_status read it)."""
        ...

    def activate(self, merchant_order_id: str, *, payment_details: Any, email_subject: str) -> Activation:
        """The ONE transaction on COMPLETED (order, subscription, onboarding status, outbox row);
        FAILED/EXPIRED -> NEEDS_REVIEW instead.  Concurrent callers: exactly one gets ``granted``."""
        ...

    def fail(
        self,
        merchant_order_id: str,
        *,
        error_code: str,
        payment_details: Any,
        email_subject: str,
        email_extra: Mapping[str, Any] | None = None,
    ) -> tuple[Order | None, str | None]:
        """ONE transaction on a PhonePe FAILED: the conditional move to FAILED (from ``sources_of(FAILED)``)
        and, only when THIS call moved it, a ``payment-failed`` outbox row (``email_extra`` joins its
        payload).  Returns (the failed order or None when nothing matched, the outbox id or None);
        of concurrent callers at most one gets an outbox id."""
        ...

    def activate_free(self, workspace_id: str, user_id: str, billing_period: str) -> Subscription:
        """The free plan: subscription and onboarding status at once, no order, no email."""
        ...

    def get_subscription(self, workspace_id: str) -> Subscription | None: ...

    def record_webhook_event(self, event: WebhookEvent) -> RecordedEvent:
        """Insert once per (provider, event_key); a repeat returns the first row's status."""
        ...

    def finish_webhook_event(
        self, provider: str, event_key: str, *, outcome: str, error: str | None = None
    ) -> None: ...

    def finish_order_events(self, provider: str, merchant_order_id: str, *, outcome: str) -> int:
        """Close every still-unprocessed event of an order (reconciliation resolved it)."""
        ...

    def stale_open_orders(self, *, older_than_s: int, limit: int) -> list[Order]:
        """CREATED/PENDING orders not checked for ``older_than_s`` seconds, oldest check first."""
        ...

    def claim_due_emails(self, *, limit: int, lease_s: int) -> list[OutboxEmail]:
        """Pending, due mail; each claimed row's next attempt is pushed ``lease_s`` out
        (``for update skip locked``), so two relays never send the same row at once."""
        ...

    def claim_email(self, outbox_id: str, *, lease_s: int) -> OutboxEmail | None:
        """Claim one row if it is pending and due."""
        ...

    def mark_email_sent(self, outbox_id: str) -> None: ...

    def outbox_backlog(self) -> OutboxBacklog:
        """Pending rows (due or backing off) and the age of the oldest (0 when none)."""
        ...

    def mark_email_failed(self, outbox_id: str, *, error: str, retry_in_s: int | None) -> None:
        """Back off (``retry_in_s``) or give up (None: status failed)."""
        ...


@dataclass(frozen=True)
class PayResult:
    phonepe_order_id: str | None
    state: str
    expire_at: datetime | None
    redirect_url: str | None


@dataclass(frozen=True)
class GatewayStatus:
    """PhonePe's order status, leniently parsed; ``found`` False for an unknown order."""

    found: bool
    state: str | None = None
    amount_paise: int | None = None
    meta_info: Mapping[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    expire_at: datetime | None = None
    payment_details: Any = None


class PaymentGateway(Protocol):
    """PhonePe checkout.  Raises ``Unavailable`` (retryable) or ``Rejected``."""

    def pay(
        self,
        *,
        merchant_order_id: str,
        amount_paise: int,
        redirect_url: str,
        expire_after_s: int,
        meta_info: Mapping[str, str],
    ) -> PayResult: ...

    def order_status(self, merchant_order_id: str) -> GatewayStatus: ...


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    html: str
    text: str
    idempotency_key: str
    sender: str | None = None


class Mailer(Protocol):
    """Resend.  Raises ``Unavailable`` (retry later) or ``Rejected`` (give up)."""

    def send(self, message: EmailMessage) -> str:
        """Send; returns the provider's message id."""
        ...


__all__ = [
    "EmailMessage",
    "GatewayStatus",
    "Mailer",
    "PayResult",
    "PaymentGateway",
    "PaymentsRepo",
]
