"""An in-memory ``PaymentsRepo`` for unit tests (hand-written, not a mock).

It follows the same rules as ``PostgresPayments``, taken from
``lib.domain.payments`` (ALLOWED_TRANSITIONS, next_state, subscription_period):
forward-only conditional transitions, one grant per order under a lock,
outbox claims with a lease.  ``down = True`` makes every call raise
``Unavailable`` like a stopped database.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from lib.domain.payment_records import (
    COMPLETED,
    CREATED,
    FAILED,
    NEEDS_REVIEW,
    OPEN_STATES,
    PENDING,
    Activation,
    NewOrder,
    Order,
    OutboxBacklog,
    OutboxEmail,
    RecordedEvent,
    Subscription,
    WebhookEvent,
    sources_of,
)
from lib.domain.payments import ALLOWED_TRANSITIONS, PaymentState, Plan, TransitionKind, next_state, subscription_period
from lib.errors import AlreadyExists, Rejected, Unavailable
from lib.ports import Clock
from lib.services.payments.emails import CONFIRMED_KIND, FAILED_KIND
from lib.services.payments.ports import EmailMessage, GatewayStatus, PayResult
from lib.testing.fakes import ManualClock

SEEDED_PLANS = {
    "free": Plan("free", "Free", 0, 0, True),
    "starter": Plan("starter", "Starter", 99900, 999000, True),
    "growth": Plan("growth", "Growth", 249900, 2499000, True),
    "enterprise": Plan("enterprise", "Enterprise", None, None, False),
}


class FakePayments:
    """``PaymentsRepo`` in memory.  Seed people with ``add_user``."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or ManualClock()
        self.down = False
        self._lock = threading.RLock()
        self.plans = dict(SEEDED_PLANS)
        self.users: dict[str, dict[str, Any]] = {}
        self.workspaces: dict[str, str] = {}
        self.orders: dict[str, Order] = {}
        self.details: dict[str, Any] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.events: dict[tuple[str, str], dict[str, Any]] = {}
        self.outbox: dict[str, dict[str, Any]] = {}

    # test helpers -------------------------------------------------------
    def add_user(self, email: str = "ada@example.com", full_name: str = "Ada") -> tuple[str, str]:
        user_id, workspace_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.users[user_id] = {"email": email, "full_name": full_name, "onboarding_status": "pending"}
        self.workspaces[workspace_id] = f"{full_name}'s Workspace"
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
    ) -> Order | None:
        with self._lock:
            self._check()
            order = self.orders.get(merchant_order_id)
            if order is None or order.state not in from_states:
                return None
            if payment_details is not None:
                self.details[merchant_order_id] = payment_details
            return self._set(
                order, state=to_state, error_code=error_code or order.error_code, last_checked_at=self._now()
            )

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
            found = [
                o
                for o in self.orders.values()
                if o.state in OPEN_STATES and (o.last_checked_at or o.created_at) < cutoff
            ]
            found.sort(key=lambda o: (o.last_checked_at is not None, o.last_checked_at or o.created_at, o.created_at))
            return found[:limit]

    # activation -------------------------------------------------------------
    def activate(self, merchant_order_id: str, *, payment_details: Any, email_subject: str) -> Activation:
        with self._lock:
            self._check()
            order = self.orders.get(merchant_order_id)
            if order is None:
                return Activation("missing", None)
            step = next_state(order.state, COMPLETED)
            if step.kind is TransitionKind.NOOP and order.state == COMPLETED:
                return Activation("already_completed", order, self.subscriptions.get(order.workspace_id))
            if step.kind is TransitionKind.REVIEW:
                self.details[merchant_order_id] = payment_details
                return Activation("needs_review", self._set(order, state=NEEDS_REVIEW, last_checked_at=self._now()))
            if step.kind is not TransitionKind.MOVE:
                return Activation("ignored", order)
            self.details[merchant_order_id] = payment_details
            completed = self._set(order, state=COMPLETED, last_checked_at=self._now())
            now = self._now()
            current = self.subscriptions.get(order.workspace_id)
            running_end = current.current_period_end if current is not None and current.status == "active" else None
            period_start, end = subscription_period(running_end, order.billing_period, now)
            # A renewal keeps the running subscription's start; the end is the domain's.
            start = current.current_period_start if current is not None and period_start != now else now
            sub = Subscription(order.workspace_id, order.plan_id, order.billing_period, "active", start, end)
            self.subscriptions[order.workspace_id] = sub
            user = self.users.get(order.user_id)
            if user is not None and user["onboarding_status"] == "pending":
                user["onboarding_status"] = "payment_confirmed"
            next_billing = {"next_billing_date": end.date().isoformat()}
            outbox_id = self._enqueue_email(CONFIRMED_KIND, completed, email_subject, next_billing)
            return Activation("granted", completed, sub, outbox_id)

    def fail(
        self,
        merchant_order_id: str,
        *,
        error_code: str,
        payment_details: Any,
        email_subject: str,
        email_extra: Mapping[str, Any] | None = None,
    ) -> tuple[Order | None, str | None]:
        with self._lock:
            self._check()
            order = self.orders.get(merchant_order_id)
            if order is None or order.state not in sources_of(PaymentState.FAILED):
                return None, None
            if payment_details is not None:
                self.details[merchant_order_id] = payment_details
            failed = self._set(order, state=FAILED, error_code=error_code, last_checked_at=self._now())
            return failed, self._enqueue_email(FAILED_KIND, failed, email_subject, email_extra or {})

    def _enqueue_email(self, kind: str, order: Order, subject: str, extra: Mapping[str, Any]) -> str | None:
        """One outbox row (under the caller's lock), the same facts as ``PostgresPayments._enqueue_email``."""
        user = self.users.get(order.user_id)
        if user is None or not user["email"]:
            return None
        outbox_id = str(uuid.uuid4())
        plan = self.plans[order.plan_id]
        self.outbox[outbox_id] = {
            "id": outbox_id,
            "kind": kind,
            "to_email": user["email"],
            "subject": subject,
            "payload": {
                "merchant_order_id": order.merchant_order_id,
                "plan_id": order.plan_id,
                "plan_name": plan.name,
                "billing_period": order.billing_period,
                "amount_paise": order.amount_paise,
                "currency": order.currency,
                "workspace_name": self.workspaces.get(order.workspace_id, ""),
                "full_name": user["full_name"],
                **extra,
            },
            "idempotency_key": f"{kind}/{outbox_id}",
            "status": "pending",
            "attempts": 0,
            "last_error": None,
            "next_attempt_at": self._now(),
            "created_at": self._now(),
        }
        return outbox_id

    def activate_free(self, workspace_id: str, user_id: str, billing_period: str) -> Subscription:
        with self._lock:
            self._check()
            now = self._now()
            current = self.subscriptions.get(workspace_id)
            user = self.users.get(user_id)
            if user is not None and user["onboarding_status"] == "pending":
                user["onboarding_status"] = "payment_confirmed"
            if (
                current is not None
                and current.status == "active"
                and current.plan_id != "free"
                and (current.current_period_end is not None and current.current_period_end > now)
            ):
                return current
            if current is not None and current.plan_id == "free" and current.status == "active":
                return current
            sub = Subscription(workspace_id, "free", billing_period, "active", now, None)
            self.subscriptions[workspace_id] = sub
            return sub

    def get_subscription(self, workspace_id: str) -> Subscription | None:
        with self._lock:
            self._check()
            return self.subscriptions.get(workspace_id)

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


class FakeGateway:
    """``PaymentGateway`` in memory: ``pay`` registers an order, tests set its state
    (``complete``/``fail``) or override what ``order_status`` answers (``status_override``).
    ``down`` makes every call ``Unavailable``; ``calls`` counts calls by name."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or ManualClock()
        self.down = False
        self.orders: dict[str, dict[str, Any]] = {}
        self.status_override: dict[str, GatewayStatus] = {}
        self.calls: dict[str, int] = {"pay": 0, "order_status": 0}
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
