"""A ``subscriptions`` row as a ``Subscription``: the columns and the mapping every adapter that
reads subscriptions shares (payments, entitlements, mandates)."""

from __future__ import annotations

from typing import Any

from lib.domain.payment_records import Subscription

SUB_COLS = (
    "workspace_id, plan_id, billing_period, status, current_period_start, current_period_end,"
    " cancel_at_period_end, credit_paise, scheduled_plan_id, scheduled_billing_period, next_sweep_at"
)


def subscription_from_row(row: dict[str, Any] | None) -> Subscription | None:
    """A ``Subscription`` from a row selected with ``SUB_COLS`` (None for no row)."""
    if row is None:
        return None
    return Subscription(
        workspace_id=str(row["workspace_id"]),
        plan_id=row["plan_id"],
        billing_period=row["billing_period"],
        status=row["status"],
        current_period_start=row["current_period_start"],
        current_period_end=row["current_period_end"],
        cancel_at_period_end=bool(row["cancel_at_period_end"]),
        credit_paise=int(row["credit_paise"]),
        scheduled_plan_id=row["scheduled_plan_id"],
        scheduled_billing_period=row["scheduled_billing_period"],
        next_sweep_at=row["next_sweep_at"],
    )


__all__ = ["SUB_COLS", "subscription_from_row"]
