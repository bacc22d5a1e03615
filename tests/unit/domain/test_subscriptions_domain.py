"""The subscription lifecycle as pure rules: status over time, entitlements, the sweep's schedule,
renewal and plan-change checks, and the upgrade credit arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lib.domain.payment_records import Subscription
from lib.domain.subscriptions import (
    CANCELLED_EMAIL,
    EXPIRED_EMAIL,
    PaidAction,
    PlanChangeNotAvailable,
    PlanLimits,
    Purchase,
    RenewalNotOpen,
    SubscriptionInactive,
    SubscriptionStatus,
    entitlement,
    limit_reached,
    next_sweep_at,
    plan_purchase,
    require_open,
    running_end,
    status_at,
    sweep_step,
    unused_credit,
)

START = datetime(2026, 1, 10, tzinfo=UTC)
END = datetime(2026, 2, 10, tzinfo=UTC)
DAY = timedelta(days=1)
GRACE = timedelta(days=3)


def paid(**kw: object) -> Subscription:
    base = Subscription("ws", "starter", "monthly", "active", START, END)
    return Subscription(**{**base.__dict__, **kw})  # type: ignore[arg-type]


FREE = Subscription("ws", "free", "monthly", "active", START, None)


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (START, SubscriptionStatus.ACTIVE),
        (END - timedelta(seconds=1), SubscriptionStatus.ACTIVE),
        (END, SubscriptionStatus.PAST_DUE),
        (END + GRACE - timedelta(seconds=1), SubscriptionStatus.PAST_DUE),
        (END + GRACE, SubscriptionStatus.EXPIRED),
        (END + 400 * DAY, SubscriptionStatus.EXPIRED),
    ],
)
def test_a_paid_period_runs_then_is_past_due_for_the_grace_then_expires(
    at: datetime, status: SubscriptionStatus
) -> None:
    assert status_at(paid(), at, GRACE) is status


def test_cancelled_at_period_end_ends_at_the_end_without_grace_and_free_never_moves() -> None:
    assert status_at(paid(cancel_at_period_end=True), END - DAY, GRACE) is SubscriptionStatus.ACTIVE
    assert status_at(paid(cancel_at_period_end=True), END, GRACE) is SubscriptionStatus.CANCELLED
    assert status_at(FREE, END + 1000 * DAY, GRACE) is SubscriptionStatus.ACTIVE
    # A stored final status stays, whatever the clock says.
    assert status_at(paid(status="expired"), START, GRACE) is SubscriptionStatus.EXPIRED


def test_running_end_is_the_end_while_active_or_past_due_and_none_once_lapsed() -> None:
    assert running_end(paid(), END - DAY, GRACE) == END
    assert running_end(paid(), END + DAY, GRACE) == END
    assert running_end(paid(), END + GRACE, GRACE) is None
    assert running_end(None, END, GRACE) is None
    assert running_end(FREE, END, GRACE) is None


def test_entitlement_is_open_in_the_grace_and_says_until_when() -> None:
    limits = PlanLimits(1, 2, 3)
    active = entitlement("ws", paid(), limits, START, GRACE)
    assert active.open
    assert active.valid_until == END
    grace = entitlement("ws", paid(), limits, END + DAY, GRACE)
    assert grace.open
    assert grace.status is SubscriptionStatus.PAST_DUE
    assert grace.valid_until == END + GRACE
    lapsed = entitlement("ws", paid(), limits, END + GRACE, GRACE)
    assert not lapsed.open
    with pytest.raises(SubscriptionInactive) as err:
        require_open(lapsed, PaidAction.EXPORT)
    assert err.value.status == 402
    assert err.value.extra["subscription_status"] == "expired"
    assert err.value.extra["period_end"] == END.isoformat()
    assert "stay readable" in err.value.detail
    none = entitlement("ws", None, limits, START, GRACE)
    with pytest.raises(SubscriptionInactive) as err:
        require_open(none, PaidAction.ONBOARDING)
    assert err.value.extra["subscription_status"] is None
    assert entitlement("ws", FREE, limits, END, GRACE).valid_until is None


def test_limit_reached_is_429_with_retry_after_until_midnight_utc() -> None:
    ent = entitlement("ws", paid(), PlanLimits(rebuilds_per_day=10), START, GRACE)
    at = datetime(2026, 1, 20, 23, 0, tzinfo=UTC)
    err = limit_reached(ent, PaidAction.REBUILD, at)
    assert err.status == 429
    assert err.code == "plan_limit_reached"
    assert err.headers["Retry-After"] == "3600"
    assert err.extra["limit_per_day"] == 10
    assert PlanLimits().per_day(PaidAction.REBUILD) is None
    assert PlanLimits(1, 2, 3).per_day(PaidAction.FINALIZE) is None


def test_the_sweep_schedule_visits_each_reminder_the_end_and_the_grace_end_once() -> None:
    sub = paid()
    visits = []
    at = START
    while (nxt := next_sweep_at(sub, at, GRACE)) is not None:
        step = sweep_step(sub, nxt, GRACE)
        visits.append((nxt, step.status, step.email))
        sub = Subscription(**{**sub.__dict__, "status": step.status.value})
        at = nxt
    assert visits == [
        (END - 7 * DAY, SubscriptionStatus.ACTIVE, "renewal-reminder-7d"),
        (END - DAY, SubscriptionStatus.ACTIVE, "renewal-reminder-1d"),
        (END, SubscriptionStatus.PAST_DUE, None),
        (END + GRACE, SubscriptionStatus.EXPIRED, EXPIRED_EMAIL),
    ]


def test_a_late_sweep_sends_only_the_latest_notice_and_keys_are_per_period() -> None:
    late = sweep_step(paid(), END - timedelta(hours=2), GRACE)
    assert late.email == "renewal-reminder-1d"
    assert late.email_key == f"renewal-reminder-1d/ws/{END.isoformat()}"
    assert sweep_step(paid(), END - timedelta(hours=2), GRACE).email_key == late.email_key  # repeat: same key
    ended = sweep_step(paid(cancel_at_period_end=True), END + DAY, GRACE)
    assert ended.status is SubscriptionStatus.CANCELLED
    assert ended.email == CANCELLED_EMAIL
    assert ended.next_sweep_at is None
    assert next_sweep_at(FREE, START, GRACE) is None


PRICES = {("starter", "monthly"): 99900, ("growth", "monthly"): 249900, ("starter", "annual"): 999000}


def price(plan: str, period: str) -> int | None:
    return PRICES.get((plan, period))


def purchase(sub: Subscription | None, plan: str, period: str, at: datetime) -> str:
    return plan_purchase(sub, plan, period, price, now=at, grace=GRACE).kind


def test_purchases_renewal_window_and_plan_changes() -> None:
    assert purchase(None, "starter", "monthly", START) == "new"
    assert purchase(FREE, "growth", "monthly", START) == "new"  # from free: a plain purchase
    with pytest.raises(RenewalNotOpen) as err:
        purchase(paid(), "starter", "monthly", END - 8 * DAY)
    assert err.value.extra["renewal_opens_at"] == (END - 7 * DAY).isoformat()
    assert purchase(paid(), "starter", "monthly", END - 7 * DAY) == "renewal"
    assert purchase(paid(), "starter", "monthly", END + DAY) == "renewal"  # past due: renew any time
    assert purchase(paid(), "growth", "monthly", START + DAY) == "upgrade"
    with pytest.raises(PlanChangeNotAvailable):
        purchase(paid(), "starter", "annual", START + DAY)  # a period switch waits for the end
    with pytest.raises(PlanChangeNotAvailable):
        purchase(paid(plan_id="growth"), "starter", "monthly", START + DAY)  # a downgrade too
    assert purchase(paid(), "growth", "monthly", END + GRACE) == "new"  # lapsed: anything goes


def test_an_upgrade_credits_the_unused_part_of_the_current_period_only() -> None:
    half = START + (END - START) / 2
    assert plan_purchase(paid(), "growth", "monthly", price, now=half, grace=GRACE) == Purchase("upgrade", 49950)
    # A subscription renewed twice keeps its first start: the credit counts the last period only.
    renewed = paid(current_period_start=START - 62 * DAY)
    assert plan_purchase(renewed, "growth", "monthly", price, now=half, grace=GRACE).credit_paise == 49950


def test_unused_credit_is_pro_rata_by_seconds_rounded_down_and_never_more_than_paid() -> None:
    assert unused_credit(99900, START, END, START) == 99900
    assert unused_credit(99900, START, END, END) == 0
    half = START + (END - START) / 2
    assert unused_credit(99900, START, END, half) == 49950
    third = START + (END - START) / 3
    assert unused_credit(100, START, END, third) == 66  # 66.67 rounds down
    assert unused_credit(99900, START, END, START - DAY) == 99900
