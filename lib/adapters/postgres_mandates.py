"""AutoPay mandates and redemptions in PostgreSQL: data access only.

The rules (when to notify, when to redeem, for how much) are ``lib.domain.autopay``'s,
run by ``lib.services.payments.autopay``; the partial unique index
``mandates_one_live_per_workspace`` keeps one live mandate per workspace and
``redemptions_once_per_period`` one charge per period end, whatever the code does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lib.adapters.postgres_subscription_rows import SUB_COLS, subscription_from_row
from lib.domain.autopay import Mandate, Redemption, frequency
from lib.domain.payment_records import Subscription
from lib.ports import Database

_COLS = (
    "id, merchant_subscription_id, workspace_id, user_id, plan_id, billing_period, state, max_amount_paise,"
    " setup_merchant_order_id, phonepe_subscription_id, autopay_off_at"
)
_LIVE = "state in ('CREATED', 'PENDING', 'ACTIVE', 'PAUSED') and autopay_off_at is null"
_REDEMPTION_COLS = "merchant_order_id, mandate_id, renews_from, due_at, notified_at, redeem_requested_at"


def _mandate(row: dict[str, Any]) -> Mandate:
    return Mandate(
        id=str(row["id"]),
        merchant_subscription_id=row["merchant_subscription_id"],
        workspace_id=str(row["workspace_id"]),
        user_id=str(row["user_id"]),
        plan_id=row["plan_id"],
        billing_period=row["billing_period"],
        state=row["state"],
        max_amount_paise=int(row["max_amount_paise"]),
        setup_merchant_order_id=row["setup_merchant_order_id"],
        phonepe_subscription_id=row["phonepe_subscription_id"],
        autopay_off_at=row["autopay_off_at"],
    )


def _redemption(row: dict[str, Any]) -> Redemption:
    return Redemption(
        merchant_order_id=row["merchant_order_id"],
        mandate_id=str(row["mandate_id"]),
        renews_from=row["renews_from"],
        due_at=row["due_at"],
        notified_at=row["notified_at"],
        redeem_requested_at=row["redeem_requested_at"],
    )


class PostgresMandates:
    """``MandatesRepo`` on a ``lib.ports.Database`` (inside a ``PostgresPaymentsUnit``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_mandate(self, mandate: Mandate) -> Mandate:
        m = mandate
        with self._db.connection() as conn:
            row = conn.execute(
                "insert into public.mandates (merchant_subscription_id, workspace_id, user_id, plan_id,"
                " billing_period, state, max_amount_paise, frequency, setup_merchant_order_id)"
                f" values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning {_COLS}",
                (
                    m.merchant_subscription_id,
                    m.workspace_id,
                    m.user_id,
                    m.plan_id,
                    m.billing_period,
                    m.state,
                    m.max_amount_paise,
                    frequency(m.billing_period),
                    m.setup_merchant_order_id,
                ),
            ).fetchone()
        assert row is not None
        return _mandate(row)

    def get_mandate(self, merchant_subscription_id: str, *, lock: bool = False) -> Mandate | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"select {_COLS} from public.mandates where merchant_subscription_id = %s"
                + (" for update" if lock else ""),
                (merchant_subscription_id,),
            ).fetchone()
        return None if row is None else _mandate(row)

    def mandate_of_order(self, merchant_order_id: str) -> Mandate | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"select {_COLS} from public.mandates where setup_merchant_order_id = %(mid)s"
                " union all"
                f" select {', '.join('m.' + c.strip() for c in _COLS.split(','))} from public.mandates m"
                " join public.redemptions r on r.mandate_id = m.id where r.merchant_order_id = %(mid)s"
                " limit 1",
                {"mid": merchant_order_id},
            ).fetchone()
        return None if row is None else _mandate(row)

    def charging_workspaces(self, workspace_ids: list[str]) -> set[str]:
        if not workspace_ids:
            return set()
        with self._db.connection() as conn:
            rows = conn.execute(
                "select workspace_id from public.mandates"
                " where workspace_id = any(%s::uuid[]) and state = 'ACTIVE' and autopay_off_at is null",
                (workspace_ids,),
            ).fetchall()
        return {str(r["workspace_id"]) for r in rows}

    def live_mandate(self, workspace_id: str) -> Mandate | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"select {_COLS} from public.mandates where workspace_id = %s and {_LIVE}", (workspace_id,)
            ).fetchone()
        return None if row is None else _mandate(row)

    def set_mandate(
        self,
        merchant_subscription_id: str,
        *,
        state: str | None = None,
        phonepe_subscription_id: str | None = None,
        autopay_off: bool = False,
    ) -> Mandate | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "update public.mandates set state = coalesce(%s, state),"
                " phonepe_subscription_id = coalesce(%s, phonepe_subscription_id),"
                " autopay_off_at = case when %s then coalesce(autopay_off_at, now()) else autopay_off_at end"
                f" where merchant_subscription_id = %s returning {_COLS}",
                (state, phonepe_subscription_id, autopay_off, merchant_subscription_id),
            ).fetchone()
        return None if row is None else _mandate(row)

    def renewals_to_notify(self, horizon_end: datetime, limit: int) -> list[tuple[Mandate, Subscription]]:
        cols = ", ".join("m." + c.strip() for c in _COLS.split(","))
        subs = ", ".join("s." + c.strip() + " as s_" + c.strip() for c in SUB_COLS.split(","))
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {cols}, {subs} from public.mandates m"
                " join public.subscriptions s on s.workspace_id = m.workspace_id"
                " where m.state = 'ACTIVE' and m.autopay_off_at is null"
                " and s.current_period_end is not null and s.current_period_end < %s"
                " and not exists (select 1 from public.redemptions r"
                "   where r.mandate_id = m.id and r.renews_from = s.current_period_end)"
                " order by s.current_period_end limit %s",
                (horizon_end, limit),
            ).fetchall()
        out = []
        for row in rows:
            sub = subscription_from_row({c.strip(): row["s_" + c.strip()] for c in SUB_COLS.split(",")})
            assert sub is not None
            out.append((_mandate(row), sub))
        return out

    def add_redemption(self, redemption: Redemption) -> bool:
        r = redemption
        with self._db.connection() as conn:
            cur = conn.execute(
                "insert into public.redemptions (merchant_order_id, mandate_id, renews_from, due_at)"
                " values (%s, %s, %s, %s) on conflict (mandate_id, renews_from) do nothing",
                (r.merchant_order_id, r.mandate_id, r.renews_from, r.due_at),
            )
            return bool(cur.rowcount)

    def get_redemption(self, merchant_order_id: str) -> Redemption | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"select {_REDEMPTION_COLS} from public.redemptions where merchant_order_id = %s",
                (merchant_order_id,),
            ).fetchone()
        return None if row is None else _redemption(row)

    def unnotified_redemptions(self, limit: int) -> list[Redemption]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {_REDEMPTION_COLS} from public.redemptions r where notified_at is null"
                " and exists (select 1 from public.payment_transactions t"
                "   where t.merchant_order_id = r.merchant_order_id and t.state = 'CREATED')"
                " order by due_at limit %s",
                (limit,),
            ).fetchall()
        return [_redemption(r) for r in rows]

    def mark_notified(self, merchant_order_id: str, at: datetime) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "update public.redemptions set notified_at = coalesce(notified_at, %s) where merchant_order_id = %s",
                (at, merchant_order_id),
            )

    def redemptions_to_redeem(self, now: datetime, limit: int) -> list[Redemption]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {_REDEMPTION_COLS} from public.redemptions"
                " where notified_at is not null and redeem_requested_at is null and due_at <= %s"
                " order by due_at limit %s",
                (now, limit),
            ).fetchall()
        return [_redemption(r) for r in rows]

    def stuck_redemptions(self, asked_before: datetime, limit: int) -> list[str]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "select r.merchant_order_id from public.redemptions r"
                " join public.payment_transactions t on t.merchant_order_id = r.merchant_order_id"
                " where r.redeem_requested_at < %s and t.state in ('CREATED', 'PENDING')"
                " order by r.redeem_requested_at limit %s",
                (asked_before, limit),
            ).fetchall()
        return [r["merchant_order_id"] for r in rows]

    def mark_redeem_requested(self, merchant_order_id: str, at: datetime) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute(
                "update public.redemptions set redeem_requested_at = %s"
                " where merchant_order_id = %s and redeem_requested_at is null",
                (at, merchant_order_id),
            )
            return bool(cur.rowcount)


__all__ = ["PostgresMandates"]
