"""Subscriptions as pure rules: the lifecycle, what a workspace may do, the sweep's
schedule, renewal and plan-change arithmetic.

Every function takes ``now`` (and the grace) as arguments, so the sweep, the
paid routes, the billing API and the tests agree on one definition.  Described
in docs/domain.md ("Subscriptions").

Lifecycle::

    active --(period end, unpaid)--> past_due --(grace over)--> expired
    active + cancel_at_period_end --(period end)--> cancelled

A payment makes any of them active again.  The free plan (no period end) never
moves.  ``status_at`` is what the status IS at ``now``, whether or not the
sweep has written it yet, so an hourly sweep never gives a lapsed workspace an
extra hour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from lib.domain.payment_records import Subscription
from lib.domain.payments import PERIOD_MONTHS, add_months, parse_period
from lib.errors import AppError, Conflict, TooManyRequests

DEFAULT_GRACE = timedelta(days=3)
# Paying for the plan you have opens this long before the period ends (and stays open while past due).
RENEWAL_WINDOW = timedelta(days=7)
# Reminder emails before the period end, earliest first: (outbox kind, how long before the end).
REMINDERS: tuple[tuple[str, timedelta], ...] = (
    ("renewal-reminder-7d", timedelta(days=7)),
    ("renewal-reminder-1d", timedelta(days=1)),
)
REMINDER_KINDS = frozenset(kind for kind, _ in REMINDERS)
EXPIRED_EMAIL = "subscription-expired"
CANCELLED_EMAIL = "subscription-ended"
FREE_PLAN = "free"


class SubscriptionStatus(StrEnum):
    """A ``subscriptions.status`` (the database's check constraint lists the same)."""

    ACTIVE = "active"
    PAST_DUE = "past_due"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# The statuses in which the paid features stay open (past due: the grace).
OPEN = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE})


def status_at(sub: Subscription, now: datetime, grace: timedelta = DEFAULT_GRACE) -> SubscriptionStatus:
    """The status ``sub`` has at ``now`` by the rules (the stored one may lag by one sweep)."""
    stored = SubscriptionStatus(sub.status)
    if stored not in OPEN or sub.current_period_end is None:
        return stored
    end = sub.current_period_end
    if now < end:
        return SubscriptionStatus.ACTIVE
    if sub.cancel_at_period_end:
        return SubscriptionStatus.CANCELLED
    return SubscriptionStatus.PAST_DUE if now < end + grace else SubscriptionStatus.EXPIRED


def running_end(sub: Subscription | None, now: datetime, grace: timedelta = DEFAULT_GRACE) -> datetime | None:
    """The period end a payment extends from: while active or past due, no paid day is lost and
    none is given twice (a renewal paid in the grace starts at the old end)."""
    if sub is None or sub.current_period_end is None:
        return None
    return sub.current_period_end if status_at(sub, now, grace) in OPEN else None


# --- what a workspace may do --------------------------------------------------------------------


class PaidAction(StrEnum):
    """Everything only a live subscription may do; the counted ones have a daily plan limit."""

    ONBOARDING = "onboarding"
    AI_SUGGESTION = "ai_suggestion"
    FINALIZE = "finalize"
    REBUILD = "rebuild"
    EXPORT = "export"
    RECOMMENDATIONS = "recommendations"
    GUARDRAILS = "guardrails"


COUNTED: frozenset[PaidAction] = frozenset({PaidAction.AI_SUGGESTION, PaidAction.REBUILD, PaidAction.EXPORT})


@dataclass(frozen=True)
class PlanLimits:
    """Per UTC day; None is unlimited (``plans.*_per_day``)."""

    rebuilds_per_day: int | None = None
    exports_per_day: int | None = None
    ai_suggestions_per_day: int | None = None

    def per_day(self, action: PaidAction) -> int | None:
        return {
            PaidAction.REBUILD: self.rebuilds_per_day,
            PaidAction.EXPORT: self.exports_per_day,
            PaidAction.AI_SUGGESTION: self.ai_suggestions_per_day,
        }.get(action)


@dataclass(frozen=True)
class Entitlement:
    """What one workspace may do at one moment, and until when that answer holds."""

    workspace_id: str
    plan_id: str | None
    status: SubscriptionStatus | None  # None: no subscription at all
    period_end: datetime | None
    grace_end: datetime | None
    limits: PlanLimits
    # The answer may change at this moment (period or grace end); None: not by time alone.
    valid_until: datetime | None

    @property
    def open(self) -> bool:
        return self.status in OPEN


def entitlement(
    workspace_id: str, sub: Subscription | None, limits: PlanLimits, now: datetime, grace: timedelta = DEFAULT_GRACE
) -> Entitlement:
    if sub is None:
        return Entitlement(workspace_id, None, None, None, None, limits, None)
    status = status_at(sub, now, grace)
    end = sub.current_period_end
    grace_end = None if end is None or sub.cancel_at_period_end else end + grace
    valid_until = None
    if status is SubscriptionStatus.ACTIVE and end is not None:
        valid_until = end
    elif status is SubscriptionStatus.PAST_DUE:
        valid_until = grace_end
    return Entitlement(workspace_id, sub.plan_id, status, end, grace_end, limits, valid_until)


class SubscriptionInactive(AppError):
    """402: the workspace has no live subscription; the manifest and its history stay readable."""

    status, code, title = 402, "subscription_inactive", "Subscription inactive"


class PlanLimitReached(TooManyRequests):
    """429: the plan's daily allowance of this action is used up; it resets at 00:00 UTC."""

    code = "plan_limit_reached"
    title = "Plan limit reached"


def require_open(ent: Entitlement, action: PaidAction) -> None:
    """Raise ``SubscriptionInactive`` unless ``ent`` lets the workspace do ``action``."""
    if ent.open:
        return
    extra: dict[str, Any] = {
        "action": action.value,
        "plan": ent.plan_id,
        "subscription_status": ent.status.value if ent.status else None,
        "period_end": ent.period_end.isoformat() if ent.period_end else None,
    }
    if ent.status is None:
        detail = "This workspace has no plan yet: choose one (POST /initiate_payment, the free plan included)."
    else:
        ended = ent.period_end.date().isoformat() if ent.period_end else "its end"
        detail = (
            f"The {ent.plan_id} plan ended on {ended} ({ent.status.value}). Renew it or choose another plan"
            " (POST /initiate_payment); the manifest and its version history stay readable."
        )
    raise SubscriptionInactive(detail, extra=extra)


def limit_reached(ent: Entitlement, action: PaidAction, now: datetime) -> PlanLimitReached:
    per_day = ent.limits.per_day(action)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
    retry_after = max(1, int((tomorrow - now).total_seconds()))
    return PlanLimitReached(
        f"The {ent.plan_id} plan allows {per_day} of '{action.value}' per day; it resets at 00:00 UTC.",
        headers={"Retry-After": str(retry_after)},
        extra={
            "action": action.value,
            "plan": ent.plan_id,
            "limit_per_day": per_day,
            "resets_at": tomorrow.isoformat(),
        },
    )


# --- the sweep ---------------------------------------------------------------------------------


def _events(sub: Subscription, grace: timedelta) -> list[datetime]:
    end = sub.current_period_end
    if end is None:
        return []
    events = [end - before for _, before in REMINDERS] + [end]
    if not sub.cancel_at_period_end:
        events.append(end + grace)
    return events


def next_sweep_at(sub: Subscription, now: datetime, grace: timedelta = DEFAULT_GRACE) -> datetime | None:
    """The first moment after ``now`` the sweep has something to do for ``sub`` (None: never again)."""
    if status_at(sub, now, grace) not in OPEN:
        return None
    later = [at for at in _events(sub, grace) if at > now]
    return min(later) if later else None


@dataclass(frozen=True)
class SweepStep:
    """What the sweep does to one subscription at ``now``."""

    status: SubscriptionStatus  # to store (may equal the stored one)
    email: str | None  # outbox kind to write, at most one per step
    email_key: str | None  # its idempotency key: one per subscription, period end and kind
    next_sweep_at: datetime | None


def sweep_step(sub: Subscription, now: datetime, grace: timedelta = DEFAULT_GRACE) -> SweepStep:
    """The status ``sub`` moves to, the one email due (the latest reminder whose time has come,
    or the expiry/end notice) and when to look again.  Idempotent: a repeat yields the same key."""
    status = status_at(sub, now, grace)
    end = sub.current_period_end
    email: str | None = None
    if end is not None:
        if status is SubscriptionStatus.EXPIRED:
            email = EXPIRED_EMAIL
        elif status is SubscriptionStatus.CANCELLED:
            email = CANCELLED_EMAIL
        elif status is SubscriptionStatus.ACTIVE:
            due = [kind for kind, before in REMINDERS if now >= end - before]
            email = due[-1] if due else None
    key = f"{email}/{sub.workspace_id}/{end.isoformat()}" if email and end else None
    moved = replace(sub, status=status.value)
    return SweepStep(status, email, key, next_sweep_at(moved, now, grace))


# --- renewals and plan changes --------------------------------------------------------------------


class RenewalNotOpen(Conflict):
    """409: paying again for the running plan opens ``RENEWAL_WINDOW`` before the period end."""

    code = "renewal_not_open"
    title = "Renewal not open yet"


def check_renewal(sub: Subscription, now: datetime, grace: timedelta = DEFAULT_GRACE) -> None:
    """A payment for the plan and period the workspace already has: allowed from ``RENEWAL_WINDOW``
    before the end, in the grace, or once lapsed; refused earlier (it would only stack periods)."""
    end = sub.current_period_end
    if end is None or status_at(sub, now, grace) is not SubscriptionStatus.ACTIVE:
        return
    opens = end - RENEWAL_WINDOW
    if now < opens:
        raise RenewalNotOpen(
            f"Your plan runs until {end.date().isoformat()}; renewal opens on {opens.date().isoformat()}.",
            extra={"renewal_opens_at": opens.isoformat(), "period_end": end.isoformat()},
        )


class PlanChangeNotAvailable(Conflict):
    """409: a downgrade or a monthly/annual switch while a paid period runs.  They take effect at
    the period end; until scheduling them lands, buying one would only stack a second period."""

    code = "plan_change_not_available"
    title = "Plan change not available"


@dataclass(frozen=True)
class Purchase:
    """What paying for a plan now is: a new period, a renewal (extends from the end) or an
    upgrade (starts now; the old plan's unused time is ``credit_paise`` off the price)."""

    kind: str  # new | renewal | upgrade
    credit_paise: int = 0


def plan_purchase(
    sub: Subscription | None,
    plan_id: str,
    billing_period: str,
    price: Callable[[str, str], int | None],
    *,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> Purchase:
    """Decide a purchase of ``plan_id``/``billing_period`` (``price(plan, period)`` is the list price).

    No running paid period (none, free or lapsed): new.  The same plan and period: a renewal, from
    ``RENEWAL_WINDOW`` before the end or in the grace (``check_renewal``).  A dearer plan for the same
    period: an upgrade at once, with credit.  Anything else (a cheaper plan, another period): 409."""
    if sub is None or sub.current_period_end is None or status_at(sub, now, grace) not in OPEN:
        return Purchase("new")
    if _renews(sub, plan_id, billing_period):
        check_renewal(sub, now, grace)
        return Purchase("renewal")
    old_price = price(sub.plan_id, sub.billing_period)
    if old_price is not None and _dearer(sub, plan_id, billing_period, price):
        end = sub.current_period_end
        start = max(sub.current_period_start, add_months(end, -PERIOD_MONTHS[parse_period(sub.billing_period)]))
        return Purchase("upgrade", unused_credit(old_price, start, end, now))
    raise PlanChangeNotAvailable(
        f"Your {sub.plan_id} plan ({sub.billing_period}) runs until {end_date(sub)}. A downgrade or a switch"
        " between monthly and annual takes effect at the period end: schedule it (POST /billing/change),"
        " then renew in the last 7 days.",
        extra={
            "plan": sub.plan_id,
            "billing_period": sub.billing_period,
            "period_end": sub.current_period_end.isoformat(),
        },
    )


def _renews(sub: Subscription, plan_id: str, billing_period: str) -> bool:
    """Paying for this renews ``sub``: it is the plan it has, or the change scheduled for its end."""
    return (plan_id, billing_period) in {
        (sub.plan_id, sub.billing_period),
        (sub.scheduled_plan_id, sub.scheduled_billing_period),
    }


def _dearer(sub: Subscription, plan_id: str, billing_period: str, price: Callable[[str, str], int | None]) -> bool:
    """An upgrade of ``sub``: a plan with a higher list price for the same billing period."""
    if billing_period != sub.billing_period:
        return False
    old_price, new_price = price(sub.plan_id, sub.billing_period), price(plan_id, billing_period)
    return old_price is not None and new_price is not None and new_price > old_price


def end_date(sub: Subscription) -> str:
    return sub.current_period_end.date().isoformat() if sub.current_period_end else "-"


def is_upgrade_of(
    current: Subscription | None, plan_id: str, billing_period: str, now: datetime, grace: timedelta
) -> bool:
    """A grant for another plan while a paid period runs, other than the change scheduled for the
    end: only an upgrade gets this far."""
    return (
        current is not None
        and current.current_period_end is not None
        and status_at(current, now, grace) in OPEN
        and not _renews(current, plan_id, billing_period)
        and current.plan_id != FREE_PLAN
    )


class ChangeNotScheduled(Conflict):
    """409: what ``POST /billing/change`` cannot schedule (see ``schedule_change``)."""

    code = "change_not_schedulable"
    title = "Change not schedulable"


def schedule_change(
    sub: Subscription,
    plan_id: str,
    billing_period: str,
    price: Callable[[str, str], int | None],
    *,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> Subscription:
    """A downgrade or a monthly/annual switch for the period end: ``sub`` with the change scheduled
    (or cleared, when asked for the plan it has while a change is scheduled).  Refused (409): no
    running paid period, a cancelled plan (resume first), the plan it already has, the free plan
    (cancel, then choose free), or an upgrade (paid now, through ``POST /initiate_payment``)."""
    end = sub.current_period_end
    if end is None or status_at(sub, now, grace) is not SubscriptionStatus.ACTIVE:
        raise ChangeNotScheduled("There is no running paid period to change at its end.")
    if sub.cancel_at_period_end:
        raise ChangeNotScheduled("The plan is cancelled; resume it (POST /billing/resume) before changing it.")
    if (plan_id, billing_period) == (sub.plan_id, sub.billing_period):
        if sub.scheduled_plan_id is None:
            raise ChangeNotScheduled(f"The workspace is already on the {plan_id} plan ({billing_period}).")
        return replace(sub, scheduled_plan_id=None, scheduled_billing_period=None)  # undo the scheduled change
    if plan_id == FREE_PLAN:
        raise ChangeNotScheduled(
            "To move to the free plan, cancel (POST /billing/cancel) and choose free when the plan ends."
        )
    if _dearer(sub, plan_id, billing_period, price):
        raise ChangeNotScheduled(
            "An upgrade takes effect at once: pay for it with POST /initiate_payment (with credit for the unused days)."
        )
    return replace(sub, scheduled_plan_id=plan_id, scheduled_billing_period=billing_period)


def unused_credit(paid_paise: int, start: datetime, end: datetime, now: datetime) -> int:
    """The unused part of a paid period, pro rata by seconds, rounded down to the paisa (the
    customer is never credited more than they paid; docs/decisions.md)."""
    total = int((end - start).total_seconds())
    left = int((end - now).total_seconds())
    if total <= 0 or left <= 0:
        return 0
    return min(paid_paise, paid_paise * min(left, total) // total)
