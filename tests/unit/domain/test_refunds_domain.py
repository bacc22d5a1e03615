"""The refund rules: amounts, and what a completed refund takes back from the subscription."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lib.domain.payment_records import Order, Subscription
from lib.domain.refunds import (
    Refund,
    RefundState,
    after_refund,
    fully_refunded,
    gateway_refund_state,
    refunded_so_far,
    time_taken_back,
)

T0 = datetime(2027, 1, 5, tzinfo=UTC)
GRACE = timedelta(days=3)


def _order(amount: int = 1000, *, days: int = 30, start: datetime = T0) -> Order:
    return Order(
        "o1",
        "ord_1",
        "ws",
        "u",
        "starter",
        "monthly",
        amount,
        "INR",
        "COMPLETED",
        None,
        None,
        None,
        None,
        None,
        start,
        start,
        start,
        period_start=start,
        period_end=start + timedelta(days=days),
    )


def _refund(amount: int, state: RefundState) -> Refund:
    return Refund("r", f"rf_{amount}", "ord_1", "ws", amount, "r", "ops", state.value, None, None, None, T0)


def _sub(end: datetime) -> Subscription:
    return Subscription("ws", "starter", "monthly", "active", T0, end)


def test_phonepe_states_map_to_ours_and_unknown_ones_stay_open() -> None:
    assert gateway_refund_state("CONFIRMED") is RefundState.PENDING
    assert gateway_refund_state("COMPLETED") is RefundState.COMPLETED
    assert gateway_refund_state("FAILED") is RefundState.FAILED
    assert gateway_refund_state("SOMETHING_NEW") is None


def test_failed_refunds_do_not_count_and_only_completed_ones_finish_the_order() -> None:
    refunds = [_refund(600, RefundState.COMPLETED), _refund(300, RefundState.FAILED), _refund(400, RefundState.PENDING)]
    assert refunded_so_far(refunds) == 1000
    assert not fully_refunded(_order(), refunds)
    assert fully_refunded(_order(), [_refund(1000, RefundState.COMPLETED)])


def test_the_time_taken_back_is_the_refunds_share_rounded_up_to_the_second() -> None:
    assert time_taken_back(_order(1000, days=30), 1000) == timedelta(days=30)
    assert time_taken_back(_order(1000, days=30), 250) == timedelta(days=7, hours=12)
    assert time_taken_back(_order(3, days=1), 1) == timedelta(seconds=28800)
    assert time_taken_back(_order(7, days=1), 1) == timedelta(seconds=12343)  # 86400/7 = 12342.86, rounded up


def test_a_partial_refund_moves_the_end_and_the_next_sweep() -> None:
    end = T0 + timedelta(days=30)
    shortened = after_refund(_sub(end), _order(), 500, T0 + timedelta(days=1), GRACE)
    assert shortened is not None
    assert shortened.current_period_end == end - timedelta(days=15)
    assert shortened.status == "active"
    assert shortened.next_sweep_at is not None


def test_nothing_left_ends_it_now_without_grace() -> None:
    now = T0 + timedelta(days=20)
    ended = after_refund(_sub(T0 + timedelta(days=30)), _order(), 500, now, GRACE)
    assert ended is not None
    assert (ended.status, ended.current_period_end, ended.next_sweep_at) == ("cancelled", now, None)


@pytest.mark.parametrize(
    ("sub", "now"),
    [
        (None, T0),
        (Subscription("ws", "free", "monthly", "active", T0, None), T0),
        (Subscription("other", "starter", "monthly", "active", T0, T0 + timedelta(days=30)), T0),
        (_sub(T0 + timedelta(days=60)), T0 + timedelta(days=31)),  # the order's month is used up
    ],
)
def test_no_change_without_a_paid_period_of_this_workspace_or_once_the_time_is_used(
    sub: Subscription | None, now: datetime
) -> None:
    assert after_refund(sub, _order(), 1000, now, GRACE) is None
