"""The ports the payment services use, and the values that cross them.

``PaymentsRepo`` is the payments slice of Postgres (``PostgresPayments``,
``lib.testing.fake_payments.FakePayments``); ``PaymentGateway`` is PhonePe
(``lib.adapters.phonepe.PhonePeClient`` implements it); ``Mailer`` is Resend.
The records that cross the repository are in ``lib.domain.payment_records``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lib.domain.autopay import Mandate, Redemption
from lib.domain.payment_records import (
    EmailFacts,
    NewEmail,
    NewOrder,
    Order,
    OutboxBacklog,
    OutboxEmail,
    RecordedEvent,
    Subscription,
    WebhookEvent,
)
from lib.domain.payments import Plan
from lib.domain.receipts import IssuedReceipt, NewReceipt, Receipt
from lib.domain.refunds import NewRefund, Refund
from lib.ports import Blobs, UnitOfWork


class PaymentsRepo(Protocol):
    """Payments in Postgres: data access only.  Every order change is a forward-only conditional
    update; the rules that combine several changes (grant, fail, free plan) are the services',
    each inside one ``PaymentsUnit``."""

    def get_plan(self, plan_id: str) -> Plan | None: ...

    def list_plans(self) -> list[Plan]:
        """Every plan, by id."""
        ...

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
        period: tuple[datetime, datetime] | None = None,
    ) -> Order | None:
        """Move to ``to_state`` only from ``from_states`` (recording the bought ``period`` when
        given); None when no row matched."""
        ...

    def workspace_orders(self, workspace_id: str, *, limit: int) -> list[Order]:
        """The workspace's orders, newest first."""
        ...

    def touch_checked(self, merchant_order_id: str) -> None:
        """Stamp ``last_checked_at`` (the sweep and payment_status read it)."""
        ...

    # --- inside a unit of work (``PaymentsUnit``): the services own these transactions ---
    def lock_order(self, merchant_order_id: str) -> Order | None:
        """Read the order and hold its row until the unit ends (``for update``): of concurrent
        units deciding on one order, each sees what the one before it committed."""
        ...

    def lock_workspace(self, workspace_id: str) -> None:
        """Hold the workspace row until the unit ends: serialises the subscription changes of one
        workspace, even before it has a subscription."""
        ...

    def save_subscription(self, subscription: Subscription, *, last_transaction_id: str | None = None) -> Subscription:
        """Insert or replace the workspace's one subscription row with these values."""
        ...

    def confirm_onboarding(self, user_id: str) -> None:
        """Move the user's onboarding status ``pending`` -> ``payment_confirmed`` (forward only)."""
        ...

    def email_facts(self, user_id: str, workspace_id: str, plan_id: str) -> EmailFacts | None:
        """The address, names and plan name a payment email quotes; None when a row is missing."""
        ...

    def due_subscriptions(self, now: datetime, limit: int) -> list[Subscription]:
        """Up to ``limit`` subscriptions whose ``next_sweep_at`` has come, earliest first, each row
        held until the unit ends; rows another unit holds are skipped (``skip locked``)."""
        ...

    def owners_email_facts(self, subscriptions: list[Subscription]) -> dict[str, EmailFacts]:
        """``email_facts`` for each subscription's workspace owner (notices name no user), in one read,
        by workspace id; a workspace without an owner row is left out."""
        ...

    def save_sweep(self, moves: list[Subscription]) -> None:
        """Write ``status`` and ``next_sweep_at`` of many subscriptions in one statement."""
        ...

    def add_emails(self, emails: list[NewEmail]) -> int:
        """``add_email`` for many rows in one statement; how many were written."""
        ...

    def add_email(self, email: NewEmail) -> bool:
        """Write one outbox row; False (nothing written) when its idempotency key is taken."""
        ...

    def get_subscription(self, workspace_id: str, *, lock: bool = False) -> Subscription | None:
        """The workspace's subscription; ``lock`` holds its row until the unit ends."""
        ...

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
        """CREATED/PENDING orders not checked for ``older_than_s`` seconds, oldest check first; an
        AutoPay charge whose debit was not asked for yet is left out (AutoPay drives it)."""
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


class RefundsRepo(Protocol):
    """Refund rows (``refunds``).  Amount checks are the service's (under the order's lock) and the
    database's trigger; this stores."""

    def add_refund(self, refund: NewRefund) -> Refund:
        """Insert in state REQUESTED; ``AlreadyExists`` for a used ``merchant_refund_id``."""
        ...

    def get_refund(self, merchant_refund_id: str, *, lock: bool = False) -> Refund | None: ...

    def order_refunds(self, merchant_order_id: str) -> list[Refund]:
        """Every refund of the order, oldest first."""
        ...

    def move_refund(
        self,
        merchant_refund_id: str,
        to_state: str,
        *,
        from_states: tuple[str, ...],
        phonepe_refund_id: str | None = None,
        error_code: str | None = None,
    ) -> Refund | None:
        """Conditional move; None when the refund is not in ``from_states``."""
        ...

    def touch_refund_checked(self, merchant_refund_id: str) -> None: ...

    def stale_open_refunds(self, *, older_than_s: int, limit: int) -> list[Refund]:
        """Open refunds (REQUESTED, PENDING) not checked for ``older_than_s``, oldest check first."""
        ...

    def workspace_refunds(self, workspace_id: str, *, limit: int) -> list[Refund]:
        """The workspace's refunds, newest first."""
        ...


class ReceiptsRepo(Protocol):
    """Receipt rows and their gap-free numbers (``receipts``, ``receipt_counters``)."""

    def issue_receipt(self, receipt: NewReceipt) -> IssuedReceipt:
        """Take the next number of the series for ``receipt.issued_at``'s financial year and store
        the receipt, in the unit's transaction (a rollback gives the number back)."""
        ...

    def get_receipt(self, number: str) -> IssuedReceipt | None: ...

    def order_receipts(self, merchant_order_ids: list[str]) -> dict[str, str]:
        """Order id -> receipt number, for the orders that have one."""
        ...

    def set_receipt_path(self, number: str, path: str) -> None: ...


class MandatesRepo(Protocol):
    """AutoPay mandates and their redemptions (``mandates``, ``redemptions``): data access only."""

    def add_mandate(self, mandate: Mandate) -> Mandate:
        """Insert; ``AlreadyExists`` when the workspace has a live mandate already."""
        ...

    def get_mandate(self, merchant_subscription_id: str, *, lock: bool = False) -> Mandate | None: ...

    def mandate_of_order(self, merchant_order_id: str) -> Mandate | None:
        """The mandate a setup or redemption order belongs to."""
        ...

    def charging_workspaces(self, workspace_ids: list[str]) -> set[str]:
        """Those of ``workspace_ids`` whose renewals AutoPay charges (an ACTIVE mandate, AutoPay on)."""
        ...

    def live_mandate(self, workspace_id: str) -> Mandate | None:
        """The workspace's mandate that may still charge (CREATED, PENDING, ACTIVE, PAUSED; AutoPay on)."""
        ...

    def set_mandate(
        self,
        merchant_subscription_id: str,
        *,
        state: str | None = None,
        phonepe_subscription_id: str | None = None,
        autopay_off: bool = False,
    ) -> Mandate | None: ...

    def renewals_to_notify(self, horizon_end: datetime, limit: int) -> list[tuple[Mandate, Subscription]]:
        """ACTIVE mandates (AutoPay on) whose subscription ends before ``horizon_end`` and has no
        redemption for that end yet, soonest first."""
        ...

    def add_redemption(self, redemption: Redemption) -> bool:
        """Insert; False when the mandate already has one for that period end."""
        ...

    def get_redemption(self, merchant_order_id: str) -> Redemption | None: ...

    def unnotified_redemptions(self, limit: int) -> list[Redemption]:
        """Redemptions whose pre-debit notice has not gone out yet (PhonePe was unreachable), oldest first."""
        ...

    def mark_notified(self, merchant_order_id: str, at: datetime) -> None: ...

    def redemptions_to_redeem(self, now: datetime, limit: int) -> list[Redemption]:
        """Notified, not yet redeemed, due by ``now`` (the 24 hours are the domain's check)."""
        ...

    def stuck_redemptions(self, asked_before: datetime, limit: int) -> list[str]:
        """Redemption orders whose debit was asked for before ``asked_before`` and are still open."""
        ...

    def mark_redeem_requested(self, merchant_order_id: str, at: datetime) -> bool:
        """True for the one caller that marks it (a concurrent run sees False)."""
        ...


@dataclass(frozen=True)
class ReceiptFiles:
    """Where receipt PDFs are drawn and kept: the renderer (``lib.adapters.receipt_pdf``), the
    object store (a factory: only the function that serves receipts builds a storage client)
    and its bucket."""

    blobs: Callable[[], Blobs]
    bucket: str
    render: Callable[[Receipt], bytes]


class PaymentsUnit(UnitOfWork, Protocol):
    """One payments transaction: ``with deps.unit() as uow: ... uow.payments ...; uow.commit()``."""

    @property
    def payments(self) -> PaymentsRepo:
        """The repository, acting inside this unit's transaction."""
        ...

    @property
    def refunds(self) -> RefundsRepo:
        """Refund rows, in the same transaction."""
        ...

    @property
    def receipts(self) -> ReceiptsRepo:
        """Receipts and their numbering, in the same transaction."""
        ...

    @property
    def mandates(self) -> MandatesRepo:
        """AutoPay mandates and redemptions, in the same transaction."""
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


@dataclass(frozen=True)
class GatewayRefund:
    """A refund as PhonePe reports it; ``found`` False: PhonePe has no refund with this id."""

    found: bool
    state: str | None = None  # PENDING | CONFIRMED | COMPLETED | FAILED
    phonepe_refund_id: str | None = None
    amount_paise: int | None = None
    error_code: str | None = None


class PaymentGateway(Protocol):
    """PhonePe checkout and refunds.  Raises ``Unavailable`` (retryable) or ``Rejected``."""

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

    def start_refund(self, *, merchant_refund_id: str, merchant_order_id: str, amount_paise: int) -> GatewayRefund:
        """Ask for a refund; PhonePe de-duplicates on ``merchant_refund_id``."""
        ...

    def refund_state(self, merchant_refund_id: str) -> GatewayRefund: ...


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
    "GatewayRefund",
    "GatewayStatus",
    "Mailer",
    "MandatesRepo",
    "PayResult",
    "PaymentGateway",
    "PaymentsRepo",
    "PaymentsUnit",
    "ReceiptFiles",
    "ReceiptsRepo",
    "RefundsRepo",
]
