"""``EntitlementsRepo`` in PostgreSQL: the subscription with its plan's limits, and ``plan_usage``."""

from __future__ import annotations

from datetime import date

from lib.adapters.postgres_subscription_rows import SUB_COLS, subscription_from_row
from lib.domain.payment_records import Subscription
from lib.domain.subscriptions import PlanLimits
from lib.ports import Database

_LIMIT_COLS = "p.rebuilds_per_day, p.exports_per_day, p.ai_suggestions_per_day"


class PostgresEntitlements:
    def __init__(self, db: Database) -> None:
        self._db = db

    def entitlement_facts(self, workspace_id: str) -> tuple[Subscription | None, PlanLimits]:
        cols = ", ".join(f"s.{c.strip()}" for c in SUB_COLS.split(","))
        with self._db.connection() as conn:
            row = conn.execute(
                f"select {cols}, {_LIMIT_COLS} from public.subscriptions s"
                " join public.plans p on p.id = s.plan_id where s.workspace_id = %s",
                (workspace_id,),
            ).fetchone()
        if row is None:
            return None, PlanLimits()
        limits = PlanLimits(row["rebuilds_per_day"], row["exports_per_day"], row["ai_suggestions_per_day"])
        return subscription_from_row(row), limits

    def use(self, workspace_id: str, action: str, day: date, limit: int) -> bool:
        with self._db.connection() as conn:
            row = conn.execute(
                "insert into public.plan_usage as u (workspace_id, action, day, used) values (%s, %s, %s, 1)"
                " on conflict (workspace_id, action, day) do update set used = u.used + 1 where u.used < %s"
                " returning used",
                (workspace_id, action, day, limit),
            ).fetchone()
        return row is not None

    def used(self, workspace_id: str, day: date) -> dict[str, int]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "select action, used from public.plan_usage where workspace_id = %s and day = %s",
                (workspace_id, day),
            ).fetchall()
        return {r["action"]: int(r["used"]) for r in rows}
