"""Refund rows in PostgreSQL (``refunds``): data access only.

The amounts are checked by the refund service under the order's row lock and,
whatever the code does, by the ``refunds_guard`` trigger (never more refunded
than paid; forward-only states).  Inside a ``PostgresPaymentsUnit`` it shares
the unit's transaction.
"""

from __future__ import annotations

from typing import Any

from lib.domain.refunds import NewRefund, Refund
from lib.ports import Database

_COLS = (
    "id, merchant_refund_id, merchant_order_id, workspace_id, amount_paise, reason, requested_by, state,"
    " phonepe_refund_id, error_code, completed_at, created_at"
)


def _refund(row: dict[str, Any]) -> Refund:
    return Refund(
        id=str(row["id"]),
        merchant_refund_id=row["merchant_refund_id"],
        merchant_order_id=row["merchant_order_id"],
        workspace_id=str(row["workspace_id"]),
        amount_paise=int(row["amount_paise"]),
        reason=row["reason"],
        requested_by=row["requested_by"],
        state=row["state"],
        phonepe_refund_id=row["phonepe_refund_id"],
        error_code=row["error_code"],
        completed_at=row["completed_at"],
        created_at=row["created_at"],
    )


class PostgresRefunds:
    """``RefundsRepo`` on a ``lib.ports.Database``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_refund(self, refund: NewRefund) -> Refund:
        with self._db.connection() as conn:
            row = conn.execute(
                "insert into public.refunds"
                " (merchant_refund_id, merchant_order_id, workspace_id, amount_paise, reason, requested_by)"
                f" values (%s, %s, %s, %s, %s, %s) returning {_COLS}",
                (
                    refund.merchant_refund_id,
                    refund.merchant_order_id,
                    refund.workspace_id,
                    refund.amount_paise,
                    refund.reason,
                    refund.requested_by,
                ),
            ).fetchone()
        assert row is not None, "an insert's returning clause yields the row"
        return _refund(row)

    def get_refund(self, merchant_refund_id: str, *, lock: bool = False) -> Refund | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"select {_COLS} from public.refunds where merchant_refund_id = %s" + (" for update" if lock else ""),
                (merchant_refund_id,),
            ).fetchone()
        return None if row is None else _refund(row)

    def order_refunds(self, merchant_order_id: str) -> list[Refund]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {_COLS} from public.refunds where merchant_order_id = %s order by created_at, id",
                (merchant_order_id,),
            ).fetchall()
        return [_refund(r) for r in rows]

    def move_refund(
        self,
        merchant_refund_id: str,
        to_state: str,
        *,
        from_states: tuple[str, ...],
        phonepe_refund_id: str | None = None,
        error_code: str | None = None,
    ) -> Refund | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "update public.refunds set state = %s, phonepe_refund_id = coalesce(%s, phonepe_refund_id),"
                " error_code = coalesce(%s, error_code), last_checked_at = now()"
                f" where merchant_refund_id = %s and state = any(%s) returning {_COLS}",
                (to_state, phonepe_refund_id, error_code, merchant_refund_id, list(from_states)),
            ).fetchone()
        return None if row is None else _refund(row)

    def touch_refund_checked(self, merchant_refund_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "update public.refunds set last_checked_at = now() where merchant_refund_id = %s",
                (merchant_refund_id,),
            )

    def stale_open_refunds(self, *, older_than_s: int, limit: int) -> list[Refund]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {_COLS} from public.refunds where state in ('REQUESTED', 'PENDING')"
                " and coalesce(last_checked_at, created_at) < now() - make_interval(secs => %s)"
                " order by last_checked_at nulls first, created_at limit %s",
                (older_than_s, limit),
            ).fetchall()
        return [_refund(r) for r in rows]

    def workspace_refunds(self, workspace_id: str, *, limit: int) -> list[Refund]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {_COLS} from public.refunds where workspace_id = %s order by created_at desc, id limit %s",
                (workspace_id, limit),
            ).fetchall()
        return [_refund(r) for r in rows]


__all__ = ["PostgresRefunds"]
