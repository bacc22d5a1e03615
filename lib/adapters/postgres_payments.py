"""Payments in PostgreSQL: plans, orders, subscriptions, the webhook ledger, the email outbox.

Data access only.  Every order change is a conditional update (``where state =
any(...)``) on top of the database's own forward-only trigger, so a stale or
concurrent caller changes nothing instead of moving an order backwards.  The
rules that change several rows together (grant, fail, free plan) are the
services' (``lib.services.payments.grants``), each inside one
``PostgresPaymentsUnit``: one transaction, whose ``lock_*`` reads hold rows
until it ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from lib.adapters.postgres_mandates import PostgresMandates
from lib.adapters.postgres_receipts import PostgresReceipts
from lib.adapters.postgres_refunds import PostgresRefunds
from lib.adapters.postgres_subscription_rows import SUB_COLS, subscription_from_row
from lib.adapters.postgres_uow import OneConnection, PostgresUnitOfWork
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
from lib.ports import Connection, Database

_ORDER_COLS = (
    "id, merchant_order_id, workspace_id, user_id, plan_id, billing_period, amount_paise, currency, state, "
    "phonepe_order_id, checkout_url, expires_at, last_checked_at, error_code, completed_at, created_at, updated_at,"
    " credit_paise, kind, period_start, period_end"
)
_OUTBOX_COLS = "id, kind, to_email, subject, payload, idempotency_key, attempts"


def _order(row: dict[str, Any] | None) -> Order | None:
    if row is None:
        return None
    return Order(
        id=str(row["id"]),
        merchant_order_id=row["merchant_order_id"],
        workspace_id=str(row["workspace_id"]),
        user_id=str(row["user_id"]),
        plan_id=row["plan_id"],
        billing_period=row["billing_period"],
        amount_paise=int(row["amount_paise"]),
        currency=row["currency"],
        state=row["state"],
        phonepe_order_id=row["phonepe_order_id"],
        checkout_url=row["checkout_url"],
        expires_at=row["expires_at"],
        last_checked_at=row["last_checked_at"],
        error_code=row["error_code"],
        completed_at=row["completed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        credit_paise=int(row["credit_paise"]),
        kind=row["kind"],
        period_start=row["period_start"],
        period_end=row["period_end"],
    )


def _must_order(row: dict[str, Any] | None) -> Order:
    order = _order(row)
    if order is None:  # pragma: no cover - a returning clause of an insert always yields the row
        raise RuntimeError("expected an order row")
    return order


def _outbox(row: dict[str, Any]) -> OutboxEmail:
    return OutboxEmail(
        id=str(row["id"]),
        kind=row["kind"],
        to_email=row["to_email"],
        subject=row["subject"],
        payload=row["payload"] or {},
        idempotency_key=row["idempotency_key"],
        attempts=int(row["attempts"]),
    )


def _jsonb(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


class PostgresPayments:
    """``PaymentsRepo`` on a ``lib.ports.Database`` (psycopg connections with dict rows)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------ plans ----
    def get_plan(self, plan_id: str) -> Plan | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "select id, name, monthly_paise, annual_paise, purchasable from public.plans where id = %s",
                (plan_id,),
            ).fetchone()
        if row is None:
            return None
        return Plan(
            id=row["id"],
            name=row["name"],
            monthly_paise=row["monthly_paise"],
            annual_paise=row["annual_paise"],
            purchasable=bool(row["purchasable"]),
        )

    def list_plans(self) -> list[Plan]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "select id, name, monthly_paise, annual_paise, purchasable from public.plans order by id"
            ).fetchall()
        return [Plan(r["id"], r["name"], r["monthly_paise"], r["annual_paise"], bool(r["purchasable"])) for r in rows]

    # ----------------------------------------------------------- orders ----
    def create_order(self, order: NewOrder) -> Order:
        with self._db.connection() as conn:
            row = conn.execute(
                "insert into public.payment_transactions"
                " (merchant_order_id, workspace_id, user_id, plan_id, billing_period, amount_paise, currency,"
                " credit_paise, kind, state)"
                f" values (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'CREATED') returning {_ORDER_COLS}",
                (
                    order.merchant_order_id,
                    order.workspace_id,
                    order.user_id,
                    order.plan_id,
                    order.billing_period,
                    order.amount_paise,
                    order.currency,
                    order.credit_paise,
                    order.kind,
                ),
            ).fetchone()
        return _must_order(row)

    def get_order(self, merchant_order_id: str) -> Order | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"select {_ORDER_COLS} from public.payment_transactions where merchant_order_id = %s",
                (merchant_order_id,),
            ).fetchone()
        return _order(row)

    def mark_pending(
        self,
        merchant_order_id: str,
        *,
        phonepe_order_id: str | None,
        checkout_url: str | None,
        expires_at: Any,
    ) -> Order | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "update public.payment_transactions set state = 'PENDING', phonepe_order_id = %s,"
                " checkout_url = %s, expires_at = %s"
                f" where merchant_order_id = %s and state = 'CREATED' returning {_ORDER_COLS}",
                (phonepe_order_id, checkout_url, expires_at, merchant_order_id),
            ).fetchone()
        return _order(row)

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
        start, end = period or (None, None)
        with self._db.connection() as conn:
            row = conn.execute(
                "update public.payment_transactions set state = %s,"
                " error_code = coalesce(%s, error_code), payment_details = coalesce(%s, payment_details),"
                " period_start = coalesce(%s, period_start), period_end = coalesce(%s, period_end),"
                " last_checked_at = now()"
                f" where merchant_order_id = %s and state = any(%s) returning {_ORDER_COLS}",
                (to_state, error_code, _jsonb(payment_details), start, end, merchant_order_id, list(from_states)),
            ).fetchone()
        return _order(row)

    def workspace_orders(self, workspace_id: str, *, limit: int) -> list[Order]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {_ORDER_COLS} from public.payment_transactions where workspace_id = %s"
                " order by created_at desc, id limit %s",
                (workspace_id, limit),
            ).fetchall()
        return [_must_order(r) for r in rows]

    def touch_checked(self, merchant_order_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "update public.payment_transactions set last_checked_at = now() where merchant_order_id = %s",
                (merchant_order_id,),
            )

    def stale_open_orders(self, *, older_than_s: int, limit: int) -> list[Order]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {_ORDER_COLS} from public.payment_transactions"
                " where state in ('CREATED', 'PENDING')"
                " and coalesce(last_checked_at, created_at) < now() - make_interval(secs => %s)"
                # An AutoPay charge not debited yet is AutoPay's to drive (notice, then debit), not the ladder's.
                " and not exists (select 1 from public.redemptions r"
                "   where r.merchant_order_id = payment_transactions.merchant_order_id"
                "   and r.redeem_requested_at is null)"
                " order by last_checked_at nulls first, created_at limit %s",
                (older_than_s, limit),
            ).fetchall()
        return [_must_order(r) for r in rows]

    # ------------------------------------------- inside a unit of work ----
    def lock_order(self, merchant_order_id: str) -> Order | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"select {_ORDER_COLS} from public.payment_transactions where merchant_order_id = %s for update",
                (merchant_order_id,),
            ).fetchone()
        return _order(row)

    def lock_workspace(self, workspace_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute("select 1 from public.workspaces where id = %s for update", (workspace_id,))

    def get_subscription(self, workspace_id: str, *, lock: bool = False) -> Subscription | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"select {SUB_COLS} from public.subscriptions where workspace_id = %s"
                + (" for update" if lock else ""),
                (workspace_id,),
            ).fetchone()
        return subscription_from_row(row)

    def save_subscription(self, subscription: Subscription, *, last_transaction_id: str | None = None) -> Subscription:
        s = subscription
        with self._db.connection() as conn:
            row = conn.execute(
                "insert into public.subscriptions"
                " (workspace_id, plan_id, billing_period, status, current_period_start, current_period_end,"
                "  cancel_at_period_end, credit_paise, scheduled_plan_id, scheduled_billing_period, next_sweep_at,"
                "  last_transaction_id)"
                " values (%(ws)s, %(plan)s, %(period)s, %(status)s, %(start)s, %(end)s, %(cancel)s, %(credit)s,"
                "  %(splan)s, %(speriod)s, %(sweep)s, %(tx)s)"
                " on conflict (workspace_id) do update set"
                "  plan_id = excluded.plan_id, billing_period = excluded.billing_period, status = excluded.status,"
                "  current_period_start = excluded.current_period_start,"
                "  current_period_end = excluded.current_period_end,"
                "  cancel_at_period_end = excluded.cancel_at_period_end, credit_paise = excluded.credit_paise,"
                "  scheduled_plan_id = excluded.scheduled_plan_id,"
                "  scheduled_billing_period = excluded.scheduled_billing_period,"
                "  next_sweep_at = excluded.next_sweep_at,"
                "  cancelled_at = case when not excluded.cancel_at_period_end then null"
                "   else coalesce(subscriptions.cancelled_at, now()) end,"
                "  ended_at = case when excluded.status in ('expired', 'cancelled')"
                "   then coalesce(subscriptions.ended_at, now()) else null end,"
                "  last_transaction_id = coalesce(excluded.last_transaction_id, subscriptions.last_transaction_id)"
                f" returning {SUB_COLS}",
                {
                    "ws": s.workspace_id,
                    "plan": s.plan_id,
                    "period": s.billing_period,
                    "status": s.status,
                    "start": s.current_period_start,
                    "end": s.current_period_end,
                    "cancel": s.cancel_at_period_end,
                    "credit": s.credit_paise,
                    "splan": s.scheduled_plan_id,
                    "speriod": s.scheduled_billing_period,
                    "sweep": s.next_sweep_at,
                    "tx": last_transaction_id,
                },
            ).fetchone()
        saved = subscription_from_row(row)
        if saved is None:  # pragma: no cover - returning always yields the row
            raise RuntimeError("expected a subscription row")
        return saved

    def confirm_onboarding(self, user_id: str) -> None:
        # Forward-only: only a user still 'pending' moves (the trigger refuses backward moves).
        with self._db.connection() as conn:
            conn.execute(
                "update public.users set onboarding_status = 'payment_confirmed'"
                " where id = %s and onboarding_status = 'pending'",
                (user_id,),
            )

    def email_facts(self, user_id: str, workspace_id: str, plan_id: str) -> EmailFacts | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "select u.email, u.full_name, w.name as workspace_name, p.name as plan_name"
                " from public.users u, public.workspaces w, public.plans p"
                " where u.id = %s and w.id = %s and p.id = %s",
                (user_id, workspace_id, plan_id),
            ).fetchone()
        if row is None:
            return None
        return EmailFacts(row["email"], row["full_name"], row["workspace_name"], row["plan_name"])

    def due_subscriptions(self, now: datetime, limit: int) -> list[Subscription]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {SUB_COLS} from public.subscriptions where next_sweep_at <= %s"
                " order by next_sweep_at limit %s for update skip locked",
                (now, limit),
            ).fetchall()
        return [s for s in (subscription_from_row(r) for r in rows) if s is not None]

    def owners_email_facts(self, subscriptions: list[Subscription]) -> dict[str, EmailFacts]:
        if not subscriptions:
            return {}
        with self._db.connection() as conn:
            rows = conn.execute(
                "select w.id as workspace_id, u.email, u.full_name, w.name as workspace_name, p.name as plan_name"
                " from unnest(%s::uuid[], %s::text[]) as v(workspace_id, plan_id)"
                " join public.workspaces w on w.id = v.workspace_id join public.users u on u.id = w.owner_id"
                " join public.plans p on p.id = v.plan_id",
                ([s.workspace_id for s in subscriptions], [s.plan_id for s in subscriptions]),
            ).fetchall()
        return {
            str(r["workspace_id"]): EmailFacts(r["email"], r["full_name"], r["workspace_name"], r["plan_name"])
            for r in rows
        }

    def save_sweep(self, moves: list[Subscription]) -> None:
        if not moves:
            return
        with self._db.connection() as conn:
            conn.execute(
                "update public.subscriptions s set status = v.status, next_sweep_at = v.next_sweep_at,"
                " ended_at = case when v.status in ('expired', 'cancelled') then coalesce(s.ended_at, now())"
                " else s.ended_at end"
                " from unnest(%s::uuid[], %s::text[], %s::timestamptz[]) as v(workspace_id, status, next_sweep_at)"
                " where s.workspace_id = v.workspace_id",
                ([m.workspace_id for m in moves], [m.status for m in moves], [m.next_sweep_at for m in moves]),
            )

    def add_emails(self, emails: list[NewEmail]) -> int:
        if not emails:
            return 0
        with self._db.connection() as conn:
            cur = conn.execute(
                "insert into public.email_outbox (id, kind, to_email, subject, payload, idempotency_key)"
                " select * from unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::jsonb[], %s::text[])"
                " on conflict (idempotency_key) do nothing",
                (
                    [e.id for e in emails],
                    [e.kind for e in emails],
                    [e.to_email for e in emails],
                    [e.subject for e in emails],
                    [Jsonb(dict(e.payload)) for e in emails],
                    [e.idempotency_key for e in emails],
                ),
            )
            return int(cur.rowcount or 0)

    def add_email(self, email: NewEmail) -> bool:
        return self.add_emails([email]) == 1

    # ---------------------------------------------------- webhook ledger ----
    def record_webhook_event(self, event: WebhookEvent) -> RecordedEvent:
        # One round trip: the insert, the first delivery's status when this is a repeat, and the
        # event's order.  The reads see the statement's snapshot: a repeat racing the first delivery's
        # commit may see no ledger row and is then processed again, which the row-locked activation
        # makes harmless (exactly as with separate statements).
        with self._db.connection() as conn:
            row = conn.execute(
                "with ins as (insert into public.webhook_events"
                " (provider, event_key, event_type, merchant_order_id, payload, raw_body, valid)"
                " values (%(provider)s, %(key)s, %(type)s, %(mid)s, %(payload)s, %(raw)s, %(valid)s)"
                " on conflict (provider, event_key) do nothing returning id)"
                " select (select id from ins) as inserted_id, e.processed_at as ev_processed_at,"
                f" e.outcome as ev_outcome, {', '.join('t.' + c for c in _ORDER_COLS.split(', '))}"
                " from (select 1) as one"
                " left join public.webhook_events e on e.provider = %(provider)s and e.event_key = %(key)s"
                " left join public.payment_transactions t on t.merchant_order_id = %(mid)s",
                {
                    "provider": event.provider,
                    "key": event.event_key,
                    "type": event.event_type,
                    "mid": event.merchant_order_id,
                    "payload": _jsonb(dict(event.payload) if event.payload is not None else None),
                    "raw": event.raw_body,
                    "valid": event.valid,
                },
            ).fetchone()
        assert row is not None  # a select from (select 1) always yields one row
        order = _order(row) if row["id"] is not None else None
        if row["inserted_id"] is not None:
            return RecordedEvent(inserted=True, processed=False, outcome=None, order=order)
        processed = row["ev_processed_at"] is not None
        return RecordedEvent(inserted=False, processed=processed, outcome=row["ev_outcome"], order=order)

    def finish_webhook_event(self, provider: str, event_key: str, *, outcome: str, error: str | None = None) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "update public.webhook_events set outcome = %s, error = %s, processed_at = now()"
                " where provider = %s and event_key = %s",
                (outcome, error, provider, event_key),
            )

    def finish_order_events(self, provider: str, merchant_order_id: str, *, outcome: str) -> int:
        with self._db.connection() as conn:
            cur = conn.execute(
                "update public.webhook_events set outcome = %s, processed_at = now()"
                " where provider = %s and merchant_order_id = %s and processed_at is null",
                (outcome, provider, merchant_order_id),
            )
            return int(cur.rowcount or 0)

    # ------------------------------------------------------------ outbox ----
    def claim_due_emails(self, *, limit: int, lease_s: int) -> list[OutboxEmail]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "with due as (select id from public.email_outbox where status = 'pending' and next_attempt_at <= now()"
                " order by next_attempt_at limit %s for update skip locked)"
                " update public.email_outbox e set attempts = e.attempts + 1,"
                " next_attempt_at = now() + make_interval(secs => %s)"
                f" from due where e.id = due.id returning {', '.join('e.' + c for c in _OUTBOX_COLS.split(', '))}",
                (limit, lease_s),
            ).fetchall()
        return [_outbox(r) for r in rows]

    def claim_email(self, outbox_id: str, *, lease_s: int) -> OutboxEmail | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "update public.email_outbox set attempts = attempts + 1,"
                " next_attempt_at = now() + make_interval(secs => %s)"
                " where id = %s and status = 'pending' and next_attempt_at <= now()"
                f" returning {_OUTBOX_COLS}",
                (lease_s, outbox_id),
            ).fetchone()
        return _outbox(row) if row is not None else None

    def outbox_backlog(self) -> OutboxBacklog:
        with self._db.connection() as conn:
            row = conn.execute(
                "select count(*) as pending, coalesce(extract(epoch from now() - min(created_at)), 0) as oldest_age_s"
                " from public.email_outbox where status = 'pending'"
            ).fetchone()
        if row is None:  # an aggregate always returns a row; kept for the type checker
            return OutboxBacklog(pending=0, oldest_age_s=0.0)
        return OutboxBacklog(pending=int(row["pending"]), oldest_age_s=float(row["oldest_age_s"]))

    def mark_email_sent(self, outbox_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "update public.email_outbox set status = 'sent', sent_at = now(), last_error = null"
                " where id = %s and status = 'pending'",
                (outbox_id,),
            )

    def mark_email_failed(self, outbox_id: str, *, error: str, retry_in_s: int | None) -> None:
        with self._db.connection() as conn:
            if retry_in_s is None:
                conn.execute(
                    "update public.email_outbox set status = 'failed', last_error = %s"
                    " where id = %s and status = 'pending'",
                    (error[:500], outbox_id),
                )
            else:
                conn.execute(
                    "update public.email_outbox set last_error = %s,"
                    " next_attempt_at = now() + make_interval(secs => %s)"
                    " where id = %s and status = 'pending'",
                    (error[:500], retry_in_s, outbox_id),
                )


class PostgresPaymentsUnit(PostgresUnitOfWork):
    """``PaymentsUnit``: a ``PostgresPayments`` bound to one transaction's connection."""

    payments: PostgresPayments
    refunds: PostgresRefunds
    receipts: PostgresReceipts
    mandates: PostgresMandates

    def _bind(self, conn: Connection) -> None:
        one = OneConnection(conn)
        self.payments = PostgresPayments(one)
        self.refunds = PostgresRefunds(one)
        self.receipts = PostgresReceipts(one)
        self.mandates = PostgresMandates(one)


__all__ = ["PostgresPayments", "PostgresPaymentsUnit"]
