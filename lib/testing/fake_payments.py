"""An in-memory ``PaymentsRepo`` and ``PaymentsUnit`` for unit tests (hand-written, not a mock).

It stores, it does not decide: the grant, fail and free-plan rules run in
``lib.services.payments.grants`` over this fake exactly as over Postgres.  What
it keeps of the database is the database's own: the forward-only order states
(the trigger's ``ALLOWED_TRANSITIONS``), conditional updates, unique keys and
outbox claims with a lease.  ``tests/integration/test_payments_contract.py``
runs it and ``PostgresPayments`` through the same cases.  ``down = True`` makes
every call raise ``Unavailable`` like a stopped database.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from lib.domain.autopay import Mandate, Redemption
from lib.domain.payment_records import (
    COMPLETED,
    CREATED,
    FAILED,
    OPEN_STATES,
    PENDING,
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
from lib.domain.payments import ALLOWED_TRANSITIONS, PaymentState, Plan
from lib.domain.receipts import IssuedReceipt, NewReceipt, financial_year, receipt_number
from lib.domain.refunds import NewRefund, Refund, RefundState
from lib.errors import AlreadyExists, Rejected, Unavailable
from lib.ports import Clock
from lib.services.payments.deps import PaymentConfig, PaymentDeps
from lib.services.payments.ports import (
    EmailMessage,
    GatewayRefund,
    GatewayStatus,
    PaymentsRepo,
    PaymentsUnit,
    PayResult,
)
from lib.testing.fake_mandates import FakeMandatesMixin
from lib.testing.fake_uow import FakeUnitOfWork
from lib.testing.fakes import FakeTaskQueue, ManualClock

SEEDED_PLANS = {
    "free": Plan("free", "Free", 0, 0, True),
    "starter": Plan("starter", "Starter", 99900, 999000, True),
    "growth": Plan("growth", "Growth", 249900, 2499000, True),
    "enterprise": Plan("enterprise", "Enterprise", None, None, False),
}


class FakePaymentsUnit(FakeUnitOfWork):
    """``PaymentsUnit`` over a ``FakePayments``: serialised (it holds the store's lock), undone
    unless committed.  ``unit = lambda: FakePaymentsUnit(repo)`` in a ``PaymentDeps``."""

    def __init__(self, payments: FakePayments) -> None:
        super().__init__(payments, lock=payments._lock)
        self.payments = payments
        self.refunds = payments
        self.receipts = payments
        self.mandates = payments


class FakePayments(FakeMandatesMixin):
    """``PaymentsRepo`` and ``RefundsRepo`` in memory.  Seed people with ``add_user``."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or ManualClock()
        self.down = False
        self._lock = threading.RLock()
        self.plans = dict(SEEDED_PLANS)
        self.users: dict[str, dict[str, Any]] = {}
        self.workspaces: dict[str, str] = {}
        self.owners: dict[str, str] = {}  # workspace id -> owner's user id
        self.orders: dict[str, Order] = {}
        self.details: dict[str, Any] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.events: dict[tuple[str, str], dict[str, Any]] = {}
        self.outbox: dict[str, dict[str, Any]] = {}
        self.refund_rows: dict[str, Refund] = {}
        self.receipt_rows: dict[str, IssuedReceipt] = {}
        self.receipt_counters: dict[tuple[str, str], int] = {}
        self.mandate_rows: dict[str, Mandate] = {}
        self.redemption_rows: dict[str, Redemption] = {}
        self.refund_checked: dict[str, datetime] = {}

    # test helpers -------------------------------------------------------
    def add_user(self, email: str = "ada@example.com", full_name: str = "Ada") -> tuple[str, str]:
        user_id, workspace_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.users[user_id] = {"email": email, "full_name": full_name, "onboarding_status": "pending"}
        self.workspaces[workspace_id] = f"{full_name}'s Workspace"
        self.owners[workspace_id] = user_id
        return user_id, workspace_id

    def _check(self) -> None:
        if self.down:
            raise Unavailable("simulated outage", "postgres")

    def _now(self) -> datetime:
        return self.clock.now()

    def _set(self, order: Order, **changes: Any) -> Order:
        new_state = changes.get("state", order.state)
        if new_state != order.state and new_state not in ALLOWED_TRANSITIONS[PaymentState(order.state)]:
            raise Rejected(f"illegal state transition {order.state} -> {new_state}", "postgres")
        if new_state == COMPLETED and order.state != COMPLETED:
            changes.setdefault("completed_at", self._now())
        updated = replace(order, updated_at=self._now(), **changes)
        self.orders[order.merchant_order_id] = updated
        return updated

    # plans and orders -----------------------------------------------------
    def get_plan(self, plan_id: str) -> Plan | None:
        with self._lock:
            self._check()
            return self.plans.get(plan_id)

    def list_plans(self) -> list[Plan]:
        with self._lock:
            self._check()
            return [self.plans[k] for k in sorted(self.plans)]

    def create_order(self, order: NewOrder) -> Order:
        with self._lock:
            self._check()
            if order.merchant_order_id in self.orders:
                raise AlreadyExists("duplicate key", "postgres")
            now = self._now()
            row = Order(
                id=str(uuid.uuid4()),
                merchant_order_id=order.merchant_order_id,
                workspace_id=order.workspace_id,
                user_id=order.user_id,
                plan_id=order.plan_id,
                billing_period=order.billing_period,
                amount_paise=order.amount_paise,
                currency=order.currency,
                state=CREATED,
                phonepe_order_id=None,
                checkout_url=None,
                expires_at=None,
                last_checked_at=None,
                error_code=None,
                completed_at=None,
                created_at=now,
                updated_at=now,
                credit_paise=order.credit_paise,
                kind=order.kind,
            )
            self.orders[order.merchant_order_id] = row
            return row

    def get_order(self, merchant_order_id: str) -> Order | None:
        with self._lock:
            self._check()
            return self.orders.get(merchant_order_id)

    def mark_pending(
        self,
        merchant_order_id: str,
        *,
        phonepe_order_id: str | None,
        checkout_url: str | None,
        expires_at: datetime | None,
    ) -> Order | None:
        with self._lock:
            self._check()
            order = self.orders.get(merchant_order_id)
            if order is None or order.state != CREATED:
                return None
            return self._set(
                order,
                state=PENDING,
                phonepe_order_id=phonepe_order_id,
                checkout_url=checkout_url,
                expires_at=expires_at,
            )

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
        with self._lock:
            self._check()
            order = self.orders.get(merchant_order_id)
            if order is None or order.state not in from_states:
                return None
            if payment_details is not None:
                self.details[merchant_order_id] = payment_details
            start, end = period or (order.period_start, order.period_end)
            return self._set(
                order,
                state=to_state,
                error_code=error_code or order.error_code,
                last_checked_at=self._now(),
                period_start=start,
                period_end=end,
            )

    def workspace_orders(self, workspace_id: str, *, limit: int) -> list[Order]:
        with self._lock:
            self._check()
            mine = [o for o in self.orders.values() if o.workspace_id == workspace_id]
            return sorted(mine, key=lambda o: o.created_at, reverse=True)[:limit]

    def touch_checked(self, merchant_order_id: str) -> None:
        with self._lock:
            self._check()
            order = self.orders.get(merchant_order_id)
            if order is not None:
                self._set(order, last_checked_at=self._now())

    def stale_open_orders(self, *, older_than_s: int, limit: int) -> list[Order]:
        with self._lock:
            self._check()
            cutoff = self._now() - timedelta(seconds=older_than_s)
            waiting = {m for m, r in self.redemption_rows.items() if r.redeem_requested_at is None}
            found = [
                o
                for o in self.orders.values()
                if o.state in OPEN_STATES
                and (o.last_checked_at or o.created_at) < cutoff
                and o.merchant_order_id not in waiting
            ]
            found.sort(key=lambda o: (o.last_checked_at is not None, o.last_checked_at or o.created_at, o.created_at))
            return found[:limit]

    # inside a unit of work -------------------------------------------------------
    # The fake unit (``FakePaymentsUnit``) holds this store's lock for its whole block, so a
    # "row lock" here is the unit itself: the reads below only read.
    def lock_order(self, merchant_order_id: str) -> Order | None:
        return self.get_order(merchant_order_id)

    def lock_workspace(self, workspace_id: str) -> None:
        with self._lock:
            self._check()

    def get_subscription(self, workspace_id: str, *, lock: bool = False) -> Subscription | None:
        with self._lock:
            self._check()
            return self.subscriptions.get(workspace_id)

    def save_subscription(self, subscription: Subscription, *, last_transaction_id: str | None = None) -> Subscription:
        with self._lock:
            self._check()
            self.subscriptions[subscription.workspace_id] = subscription
            return subscription

    def confirm_onboarding(self, user_id: str) -> None:
        with self._lock:
            self._check()
            user = self.users.get(user_id)
            if user is not None and user["onboarding_status"] == "pending":
                user["onboarding_status"] = "payment_confirmed"

    def email_facts(self, user_id: str, workspace_id: str, plan_id: str) -> EmailFacts | None:
        with self._lock:
            self._check()
            user, plan = self.users.get(user_id), self.plans.get(plan_id)
            if user is None or plan is None or workspace_id not in self.workspaces:
                return None
            return EmailFacts(user["email"], user["full_name"], self.workspaces[workspace_id], plan.name)

    def due_subscriptions(self, now: datetime, limit: int) -> list[Subscription]:
        with self._lock:
            self._check()
            due = [s for s in self.subscriptions.values() if s.next_sweep_at is not None and s.next_sweep_at <= now]
            return sorted(due, key=lambda s: s.next_sweep_at or now)[:limit]

    def owners_email_facts(self, subscriptions: list[Subscription]) -> dict[str, EmailFacts]:
        with self._lock:
            owned = [(s, self.owners.get(s.workspace_id)) for s in subscriptions]
        facts = {s.workspace_id: self.email_facts(owner, s.workspace_id, s.plan_id) for s, owner in owned if owner}
        return {ws: f for ws, f in facts.items() if f is not None}

    def save_sweep(self, moves: list[Subscription]) -> None:
        with self._lock:
            self._check()
            for move in moves:
                current = self.subscriptions.get(move.workspace_id)
                if current is not None:
                    self.subscriptions[move.workspace_id] = replace(
                        current, status=move.status, next_sweep_at=move.next_sweep_at
                    )

    def add_emails(self, emails: list[NewEmail]) -> int:
        return sum(1 for email in emails if self.add_email(email))

    def add_email(self, email: NewEmail) -> bool:
        with self._lock:
            self._check()
            if any(row["idempotency_key"] == email.idempotency_key for row in self.outbox.values()):
                return False
            self.outbox[email.id] = {
                "id": email.id,
                "kind": email.kind,
                "to_email": email.to_email,
                "subject": email.subject,
                "payload": dict(email.payload),
                "idempotency_key": email.idempotency_key,
                "status": "pending",
                "attempts": 0,
                "last_error": None,
                "next_attempt_at": self._now(),
                "created_at": self._now(),
            }
            return True

    # webhook ledger ------------------------------------------------------------
    def _order_of(self, event: WebhookEvent) -> Order | None:
        """The event's order as the adapter reads it alongside the insert (caller holds the lock)."""
        return self.orders.get(event.merchant_order_id) if event.merchant_order_id else None

    def record_webhook_event(self, event: WebhookEvent) -> RecordedEvent:
        with self._lock:
            self._check()
            key = (event.provider, event.event_key)
            existing = self.events.get(key)
            if existing is not None:
                order = self._order_of(event)
                return RecordedEvent(False, existing["processed_at"] is not None, existing["outcome"], order)
            self.events[key] = {
                "event": event,
                "outcome": None,
                "error": None,
                "processed_at": None,
                "merchant_order_id": event.merchant_order_id,
            }
            return RecordedEvent(True, False, None, self._order_of(event))

    def finish_webhook_event(self, provider: str, event_key: str, *, outcome: str, error: str | None = None) -> None:
        with self._lock:
            self._check()
            row = self.events.get((provider, event_key))
            if row is not None:
                row.update(outcome=outcome, error=error, processed_at=self._now())

    def finish_order_events(self, provider: str, merchant_order_id: str, *, outcome: str) -> int:
        with self._lock:
            self._check()
            count = 0
            for (prov, _), row in self.events.items():
                if prov == provider and row["merchant_order_id"] == merchant_order_id and row["processed_at"] is None:
                    row.update(outcome=outcome, processed_at=self._now())
                    count += 1
            return count

    # outbox ------------------------------------------------------------------------
    def _claim(self, row: dict[str, Any], lease_s: int) -> OutboxEmail:
        row["attempts"] += 1
        row["next_attempt_at"] = self._now() + timedelta(seconds=lease_s)
        return OutboxEmail(
            row["id"],
            row["kind"],
            row["to_email"],
            row["subject"],
            row["payload"],
            row["idempotency_key"],
            row["attempts"],
        )

    def claim_due_emails(self, *, limit: int, lease_s: int) -> list[OutboxEmail]:
        with self._lock:
            self._check()
            now = self._now()
            due = [r for r in self.outbox.values() if r["status"] == "pending" and r["next_attempt_at"] <= now]
            due.sort(key=lambda r: r["next_attempt_at"])
            return [self._claim(r, lease_s) for r in due[:limit]]

    def claim_email(self, outbox_id: str, *, lease_s: int) -> OutboxEmail | None:
        with self._lock:
            self._check()
            row = self.outbox.get(outbox_id)
            if row is None or row["status"] != "pending" or row["next_attempt_at"] > self._now():
                return None
            return self._claim(row, lease_s)

    def outbox_backlog(self) -> OutboxBacklog:
        with self._lock:
            self._check()
            waiting = [r["created_at"] for r in self.outbox.values() if r["status"] == "pending"]
            oldest = (self._now() - min(waiting)).total_seconds() if waiting else 0.0
            return OutboxBacklog(pending=len(waiting), oldest_age_s=oldest)

    def mark_email_sent(self, outbox_id: str) -> None:
        with self._lock:
            self._check()
            row = self.outbox.get(outbox_id)
            if row is not None and row["status"] == "pending":
                row.update(status="sent", last_error=None)

    def mark_email_failed(self, outbox_id: str, *, error: str, retry_in_s: int | None) -> None:
        with self._lock:
            self._check()
            row = self.outbox.get(outbox_id)
            if row is None or row["status"] != "pending":
                return
            row["last_error"] = error
            if retry_in_s is None:
                row["status"] = "failed"
            else:
                row["next_attempt_at"] = self._now() + timedelta(seconds=retry_in_s)

    # refunds --------------------------------------------------------------
    def add_refund(self, refund: NewRefund) -> Refund:
        """Keeps the database's checks (``refunds_guard``): a paid order, never more than it was paid."""
        with self._lock:
            self._check()
            if refund.merchant_refund_id in self.refund_rows:
                raise AlreadyExists("duplicate key", "postgres")
            order = self.orders.get(refund.merchant_order_id)
            if order is None or order.state not in (COMPLETED, PaymentState.REFUNDED):
                raise Rejected(f"refunds: order {refund.merchant_order_id} is not paid", "postgres")
            taken = sum(
                r.amount_paise
                for r in self.refund_rows.values()
                if r.merchant_order_id == refund.merchant_order_id and r.state != RefundState.FAILED
            )
            if taken + refund.amount_paise > order.amount_paise:
                raise Rejected("refunds: exceeds the paid amount", "postgres")
            row = Refund(
                id=str(uuid.uuid4()),
                merchant_refund_id=refund.merchant_refund_id,
                merchant_order_id=refund.merchant_order_id,
                workspace_id=refund.workspace_id,
                amount_paise=refund.amount_paise,
                reason=refund.reason,
                requested_by=refund.requested_by,
                state=RefundState.REQUESTED.value,
                phonepe_refund_id=None,
                error_code=None,
                completed_at=None,
                created_at=self._now(),
            )
            self.refund_rows[row.merchant_refund_id] = row
            return row

    def get_refund(self, merchant_refund_id: str, *, lock: bool = False) -> Refund | None:
        with self._lock:
            self._check()
            return self.refund_rows.get(merchant_refund_id)

    def order_refunds(self, merchant_order_id: str) -> list[Refund]:
        with self._lock:
            self._check()
            mine = [r for r in self.refund_rows.values() if r.merchant_order_id == merchant_order_id]
            return sorted(mine, key=lambda r: r.created_at)

    def move_refund(
        self,
        merchant_refund_id: str,
        to_state: str,
        *,
        from_states: tuple[str, ...],
        phonepe_refund_id: str | None = None,
        error_code: str | None = None,
    ) -> Refund | None:
        with self._lock:
            self._check()
            row = self.refund_rows.get(merchant_refund_id)
            if row is None or row.state not in from_states:
                return None
            if to_state != row.state and to_state not in REFUND_MOVES[row.state]:
                raise Rejected(f"refunds: illegal state transition {row.state} -> {to_state}", "postgres")
            completed_at = self._now() if to_state == RefundState.COMPLETED and row.completed_at is None else None
            moved = replace(
                row,
                state=to_state,
                phonepe_refund_id=phonepe_refund_id or row.phonepe_refund_id,
                error_code=error_code or row.error_code,
                completed_at=completed_at or row.completed_at,
            )
            self.refund_rows[merchant_refund_id] = moved
            self.refund_checked[merchant_refund_id] = self._now()
            return moved

    def touch_refund_checked(self, merchant_refund_id: str) -> None:
        with self._lock:
            self._check()
            if merchant_refund_id in self.refund_rows:
                self.refund_checked[merchant_refund_id] = self._now()

    def stale_open_refunds(self, *, older_than_s: int, limit: int) -> list[Refund]:
        with self._lock:
            self._check()
            cutoff = self._now() - timedelta(seconds=older_than_s)
            stale = [
                r
                for r in self.refund_rows.values()
                if r.open and self.refund_checked.get(r.merchant_refund_id, r.created_at) < cutoff
            ]
            return sorted(stale, key=lambda r: self.refund_checked.get(r.merchant_refund_id, r.created_at))[:limit]

    def workspace_refunds(self, workspace_id: str, *, limit: int) -> list[Refund]:
        with self._lock:
            self._check()
            mine = [r for r in self.refund_rows.values() if r.workspace_id == workspace_id]
            return sorted(mine, key=lambda r: r.created_at, reverse=True)[:limit]

    # receipts ---------------------------------------------------------------
    def issue_receipt(self, receipt: NewReceipt) -> IssuedReceipt:
        with self._lock:
            self._check()
            if any(r.issue.merchant_order_id == receipt.merchant_order_id for r in self.receipt_rows.values()):
                raise AlreadyExists("duplicate key", "postgres")
            key = (receipt.series, financial_year(receipt.issued_at))
            self.receipt_counters[key] = self.receipt_counters.get(key, 0) + 1
            issued = IssuedReceipt(receipt_number(key[1], self.receipt_counters[key]), receipt)
            self.receipt_rows[issued.number] = issued
            return issued

    def get_receipt(self, number: str) -> IssuedReceipt | None:
        with self._lock:
            self._check()
            return self.receipt_rows.get(number)

    def order_receipts(self, merchant_order_ids: list[str]) -> dict[str, str]:
        with self._lock:
            self._check()
            wanted = set(merchant_order_ids)
            return {
                r.issue.merchant_order_id: n
                for n, r in self.receipt_rows.items()
                if r.issue.merchant_order_id in wanted
            }

    def set_receipt_path(self, number: str, path: str) -> None:
        with self._lock:
            self._check()
            if number in self.receipt_rows:
                self.receipt_rows[number] = replace(self.receipt_rows[number], storage_path=path)


# The trigger's forward-only refund moves.
REFUND_MOVES: dict[str, frozenset[str]] = {
    RefundState.REQUESTED: frozenset({RefundState.PENDING, RefundState.COMPLETED, RefundState.FAILED}),
    RefundState.PENDING: frozenset({RefundState.COMPLETED, RefundState.FAILED}),
    RefundState.COMPLETED: frozenset(),
    RefundState.FAILED: frozenset(),
}


class FakeGateway:
    """``PaymentGateway`` in memory: ``pay`` registers an order, tests set its state
    (``complete``/``fail``) or override what ``order_status`` answers (``status_override``).
    ``down`` makes every call ``Unavailable``; ``calls`` counts calls by name."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or ManualClock()
        self.down = False
        self.orders: dict[str, dict[str, Any]] = {}
        self.status_override: dict[str, GatewayStatus] = {}
        self.calls: dict[str, int] = {"pay": 0, "order_status": 0, "start_refund": 0, "refund_state": 0}
        self.refunds: dict[str, dict[str, Any]] = {}
        # The next start_refund raises Unavailable after PhonePe has taken it (a lost response).
        self.lose_next_refund_answer = False
        self._lock = threading.Lock()

    def pay(
        self,
        *,
        merchant_order_id: str,
        amount_paise: int,
        redirect_url: str,
        expire_after_s: int,
        meta_info: Mapping[str, str],
    ) -> PayResult:
        with self._lock:
            self.calls["pay"] += 1
            if self.down:
                raise Unavailable("simulated outage", "phonepe")
            if merchant_order_id in self.orders:
                raise Rejected("BAD_REQUEST: order id reused", "phonepe")
            expire_at = self.clock.now() + timedelta(seconds=expire_after_s)
            self.orders[merchant_order_id] = {
                "state": PENDING,
                "amount": amount_paise,
                "meta": dict(meta_info),
                "expire_at": expire_at,
            }
            return PayResult(f"OMO{merchant_order_id}", PENDING, expire_at, f"https://pay.example/{merchant_order_id}")

    def order_status(self, merchant_order_id: str) -> GatewayStatus:
        with self._lock:
            self.calls["order_status"] += 1
            if self.down:
                raise Unavailable("simulated outage", "phonepe")
            if merchant_order_id in self.status_override:
                return self.status_override[merchant_order_id]
            order = self.orders.get(merchant_order_id)
            if order is None:
                return GatewayStatus(found=False)
            return GatewayStatus(
                found=True,
                state=order["state"],
                amount_paise=order["amount"],
                meta_info=order["meta"],
                expire_at=order["expire_at"],
                error_code="PAYMENT_DECLINED" if order["state"] == FAILED else None,
                payment_details=[{"paymentMode": "UPI_INTENT", "state": order["state"]}],
            )

    def start_refund(self, *, merchant_refund_id: str, merchant_order_id: str, amount_paise: int) -> GatewayRefund:
        """Like PhonePe: a repeat of the same refund id answers the same refund; never more than paid."""
        with self._lock:
            self.calls["start_refund"] += 1
            if self.down:
                raise Unavailable("simulated outage", "phonepe")
            refund = self.refunds.get(merchant_refund_id)
            if refund is None:
                order = self.orders.get(merchant_order_id)
                if order is None or order["state"] != COMPLETED:
                    raise Rejected("BAD_REQUEST: order not refundable", "phonepe")
                given = sum(r["amount"] for r in self.refunds.values() if r["order"] == merchant_order_id)
                if given + amount_paise > order["amount"]:
                    raise Rejected("BAD_REQUEST: amount exceeds the refundable amount", "phonepe")
                refund = {"order": merchant_order_id, "amount": amount_paise, "state": "PENDING"}
                self.refunds[merchant_refund_id] = refund
            if self.lose_next_refund_answer:
                self.lose_next_refund_answer = False
                raise Unavailable("read timeout", "phonepe")
            return self._refund_answer(merchant_refund_id, refund)

    def refund_state(self, merchant_refund_id: str) -> GatewayRefund:
        with self._lock:
            self.calls["refund_state"] += 1
            if self.down:
                raise Unavailable("simulated outage", "phonepe")
            refund = self.refunds.get(merchant_refund_id)
            return GatewayRefund(found=False) if refund is None else self._refund_answer(merchant_refund_id, refund)

    @staticmethod
    def _refund_answer(merchant_refund_id: str, refund: Mapping[str, Any]) -> GatewayRefund:
        return GatewayRefund(
            found=True,
            state=refund["state"],
            phonepe_refund_id=f"OMR{merchant_refund_id}",
            amount_paise=refund["amount"],
            error_code="REFUND_FAILED" if refund["state"] == FAILED else None,
        )

    def settle_refund(self, merchant_refund_id: str, state: str = COMPLETED) -> None:
        self.refunds[merchant_refund_id]["state"] = state

    def complete(self, merchant_order_id: str) -> None:
        self.orders[merchant_order_id]["state"] = COMPLETED

    def fail(self, merchant_order_id: str) -> None:
        self.orders[merchant_order_id]["state"] = FAILED


class FakeMailer:
    """``Mailer`` that keeps sent messages, de-duplicated by idempotency key like Resend.
    ``fail_next`` makes the next N sends raise ``Unavailable`` (a timeout)."""

    def __init__(self) -> None:
        self.sent: dict[str, EmailMessage] = {}
        self.attempts = 0
        self.fail_next = 0
        self.reject = False
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> str:
        with self._lock:
            self.attempts += 1
            if self.reject:
                raise Rejected("validation_error", "resend")
            if self.fail_next > 0:
                self.fail_next -= 1
                raise Unavailable("timed out", "resend")
            self.sent.setdefault(message.idempotency_key, message)
            return message.idempotency_key


__all__ = ["FakeGateway", "FakeMailer", "FakePayments"]


def payment_deps(
    repo: PaymentsRepo,
    unit: Callable[[], PaymentsUnit],
    clock: Clock,
    *,
    webhook_username: str = "u",
    webhook_password: str = "p",  # noqa: S107 - the fake webhook's test credential
) -> PaymentDeps:
    """``PaymentDeps`` for tests and benches over ``repo``/``unit`` (in memory or Postgres), with the
    in-memory PhonePe, Cloud Tasks and Resend (reachable as ``deps.gateway``, ``.tasks``, ``.mailer``)."""
    config = PaymentConfig(
        "http://fn.local", "http://app.local", "payment-reconcile", webhook_username, webhook_password, 1200
    )
    return PaymentDeps(
        repo=repo,
        unit=unit,
        gateway=FakeGateway(clock),
        tasks=FakeTaskQueue(),
        mailer=FakeMailer(),
        clock=clock,
        config=config,
    )
