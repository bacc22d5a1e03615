"""The pure payment rules: transitions (checked exhaustively, as properties over every
state pair and every short sequence of reports), prices, ids, periods, the webhook
header and the reconciliation ladder."""

from __future__ import annotations

import hashlib
import itertools
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lib.domain.payments import (
    ALLOWED_TRANSITIONS,
    EXPIRY_GRACE_S,
    FINAL_STATES,
    OPEN_STATES,
    SALES_CONTACT_HINT,
    BillingPeriod,
    PaymentState,
    Plan,
    PlanNotPurchasable,
    TransitionKind,
    UnknownBillingPeriod,
    UnknownPlan,
    WebhookEventName,
    add_months,
    is_expired,
    is_valid_merchant_id,
    new_merchant_order_id,
    new_merchant_refund_id,
    next_check_delay,
    next_state,
    parse_event,
    parse_state,
    plans_by_id,
    quote,
    reconciliation_delays,
    subscription_period,
    webhook_authorization,
    webhook_authorization_ok,
)
from lib.errors import Unprocessable

S = PaymentState
# A rank that only ever grows along an allowed edge: the "forward" in forward-only.
RANK = {S.CREATED: 0, S.PENDING: 1, S.COMPLETED: 2, S.FAILED: 2, S.EXPIRED: 2, S.REFUNDED: 3, S.NEEDS_REVIEW: 3}
REPORTS = [*list(S), "SOMETHING_NEW", "", "completed"]


# --- transitions: properties over every pair --------------------------------------------


@pytest.mark.parametrize(("current", "reported"), list(itertools.product(list(S), REPORTS)))
def test_every_transition_is_allowed_by_the_database_and_never_backward(current: S, reported: str) -> None:
    t = next_state(current, reported)
    assert t.current is current
    assert t.reason
    if t.changes:
        assert t.to in ALLOWED_TRANSITIONS[current], f"the trigger would refuse {current} -> {t.to}"
        assert RANK[t.to] > RANK[current]
    else:
        assert t.to is current
    # Applying the same report again never changes anything (duplicate webhooks, repeated polls).
    again = next_state(t.to, reported)
    assert not again.changes or (t.kind is TransitionKind.IGNORED and again.kind is TransitionKind.IGNORED)
    assert not again.changes


@pytest.mark.parametrize("state", list(S))
def test_same_state_is_a_noop(state: S) -> None:
    t = next_state(state, state.value)
    assert (t.kind, t.to, t.changes) == (TransitionKind.NOOP, state, False)


@pytest.mark.parametrize("current", [S.FAILED, S.EXPIRED])
def test_completed_after_failed_or_expired_needs_review(current: S) -> None:
    t = next_state(current, "COMPLETED")
    assert (t.kind, t.to) == (TransitionKind.REVIEW, S.NEEDS_REVIEW)
    assert t.changes


@pytest.mark.parametrize(
    ("current", "reported", "to"),
    [
        (S.CREATED, "PENDING", S.PENDING),
        (S.CREATED, "COMPLETED", S.COMPLETED),
        (S.PENDING, "COMPLETED", S.COMPLETED),
        (S.PENDING, "FAILED", S.FAILED),
        (S.PENDING, "EXPIRED", S.EXPIRED),
        (S.COMPLETED, "REFUNDED", S.REFUNDED),
    ],
)
def test_forward_moves(current: S, reported: str, to: S) -> None:
    t = next_state(current, reported)
    assert (t.kind, t.to) == (TransitionKind.MOVE, to)


@pytest.mark.parametrize(
    ("current", "reported"),
    [
        (S.COMPLETED, "FAILED"),
        (S.COMPLETED, "PENDING"),
        (S.COMPLETED, "EXPIRED"),
        (S.FAILED, "PENDING"),
        (S.FAILED, "EXPIRED"),
        (S.EXPIRED, "FAILED"),
        (S.PENDING, "CREATED"),
        (S.REFUNDED, "COMPLETED"),
        (S.PENDING, "REFUNDED"),
    ],
)
def test_backward_or_sideways_is_ignored_with_a_reason(current: S, reported: str) -> None:
    t = next_state(current, reported)
    assert (t.kind, t.to) == (TransitionKind.IGNORED, current)
    assert reported in t.reason


def test_unknown_and_lowercase_reports() -> None:
    unknown = next_state(S.PENDING, "AUTHORIZED_NEW_STATE")
    assert (unknown.kind, unknown.to) == (TransitionKind.IGNORED, S.PENDING)
    assert "unknown" in unknown.reason
    assert next_state(S.PENDING, None).kind is TransitionKind.IGNORED
    assert next_state("PENDING", "completed").to is S.COMPLETED
    assert parse_state(" failed ") is S.FAILED
    assert parse_state("NOPE") is None
    assert parse_state(None) is None


def _fold(reports: tuple[str, ...], start: S = S.CREATED) -> tuple[S, list[S]]:
    seen = [start]
    state = start
    for r in reports:
        state = next_state(state, r).to
        seen.append(state)
    return state, seen


@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_any_sequence_of_reports_is_monotone_and_never_loses_a_payment(length: int) -> None:
    phonepe_states = ["PENDING", "COMPLETED", "FAILED", "EXPIRED", "REFUNDED", "WEIRD"]
    for reports in itertools.product(phonepe_states, repeat=length):
        final, seen = _fold(reports)
        ranks = [RANK[s] for s in seen]
        assert ranks == sorted(ranks), (reports, seen)
        if "COMPLETED" in reports:
            # Money that arrived is never dropped: it is held, refunded or flagged.
            assert final in (S.COMPLETED, S.REFUNDED, S.NEEDS_REVIEW), (reports, final)


def test_open_and_final_states_partition() -> None:
    assert set(S) == OPEN_STATES | FINAL_STATES
    assert not OPEN_STATES & FINAL_STATES


def test_event_names() -> None:
    assert parse_event("checkout.order.completed") is WebhookEventName.ORDER_COMPLETED
    assert parse_event("pg.refund.accepted") is WebhookEventName.REFUND_ACCEPTED
    assert parse_event("CHECKOUT_ORDER_COMPLETED") is None  # the deprecated ``type`` spelling
    assert parse_event(None) is None


# --- webhook header ----------------------------------------------------------------------------


def test_webhook_header_is_lowercase_sha256_of_user_colon_password() -> None:
    expected = hashlib.sha256(b"hookuser:hookpass123").hexdigest()
    assert webhook_authorization("hookuser", "hookpass123") == expected
    assert webhook_authorization_ok(expected, "hookuser", "hookpass123")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        hashlib.sha256(b"hookuser:hookpass123").hexdigest().upper(),
        "SHA256 " + hashlib.sha256(b"hookuser:hookpass123").hexdigest(),
        hashlib.sha256(b"hookuser:hookpass123").hexdigest() + " ",
        hashlib.sha256(b"hookuser:other").hexdigest(),
        "\u00e9" * 64,
    ],
)
def test_webhook_header_rejects_anything_else(header: str | None) -> None:
    assert not webhook_authorization_ok(header, "hookuser", "hookpass123")


# --- plans ------------------------------------------------------------------------------------

ROWS = [
    {"id": "free", "name": "Free", "monthly_paise": 0, "annual_paise": 0, "purchasable": True, "sort": 0},
    {"id": "starter", "name": "Starter", "monthly_paise": 99900, "annual_paise": 999000, "purchasable": True},
    {"id": "growth", "name": "Growth", "monthly_paise": 249900, "annual_paise": 2499000, "purchasable": True},
    {"id": "enterprise", "name": "Enterprise", "monthly_paise": None, "annual_paise": None, "purchasable": False},
]
PLANS = plans_by_id(ROWS)


@pytest.mark.parametrize(
    ("plan", "period", "amount"),
    [
        ("starter", "monthly", 99900),
        ("starter", "annual", 999000),
        ("growth", "monthly", 249900),
        ("growth", "ANNUAL", 2499000),
    ],
)
def test_prices_come_from_the_rows(plan: str, period: str, amount: int) -> None:
    q = quote(PLANS, plan, period)
    assert (q.amount_paise, q.currency, q.needs_checkout) == (amount, "INR", True)
    assert q.billing_period in BillingPeriod


def test_free_needs_no_checkout() -> None:
    q = quote(PLANS, "free", "monthly")
    assert (q.amount_paise, q.needs_checkout) == (0, False)


def test_enterprise_is_not_purchasable_with_a_contact_hint() -> None:
    with pytest.raises(PlanNotPurchasable) as err:
        quote(PLANS, "enterprise", "annual")
    assert isinstance(err.value, Unprocessable)
    assert err.value.status == 422
    assert err.value.code == "plan_not_purchasable"
    assert err.value.extra["contact"] == SALES_CONTACT_HINT
    assert err.value.errors[0].path == "plan"


def test_unknown_plan_and_period() -> None:
    with pytest.raises(UnknownPlan) as plan_err:
        quote(PLANS, "platinum", "monthly")
    assert plan_err.value.errors[0].path == "plan"
    with pytest.raises(UnknownBillingPeriod) as period_err:
        quote(PLANS, "starter", "weekly")
    assert period_err.value.errors[0].path == "billing_period"


def test_a_paid_plan_below_phonepes_minimum_is_refused() -> None:
    plans = plans_by_id([Plan("cheap", "Cheap", 50, 500, True)])
    with pytest.raises(PlanNotPurchasable):
        quote(plans, "cheap", "monthly")
    assert quote(plans, "cheap", "annual").amount_paise == 500


# --- merchant order ids ------------------------------------------------------------------------

NOW = datetime(2025, 3, 9, 14, 5, 7, tzinfo=UTC)


def test_order_id_shape() -> None:
    oid = new_merchant_order_id(NOW, "abc123")
    assert oid == "ord_20250309140507_abc123"
    assert is_valid_merchant_id(oid)
    assert new_merchant_refund_id(NOW, "x1").startswith("rfd_20250309140507_")


def test_order_ids_are_unique_valid_and_sortable_by_time() -> None:
    ids = [new_merchant_order_id(NOW + timedelta(seconds=i)) for i in range(50)]
    assert len(set(ids)) == 50
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,63}", i) for i in ids)


def test_order_id_uses_utc_and_stays_within_63_chars() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    assert new_merchant_order_id(NOW.astimezone(ist), "r") == "ord_20250309140507_r"
    assert len(new_merchant_order_id(NOW, "a" * 200)) == 63
    with pytest.raises(ValueError, match="timezone-aware"):
        new_merchant_order_id(NOW.replace(tzinfo=None), "r")
    with pytest.raises(ValueError, match="letters and digits"):
        new_merchant_order_id(NOW, "bad/char")


# --- subscription periods ----------------------------------------------------------------------


def _d(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (_d(2025, 1, 31), 1, _d(2025, 2, 28)),
        (_d(2024, 1, 31), 1, _d(2024, 2, 29)),
        (_d(2025, 12, 15), 1, _d(2026, 1, 15)),
        (_d(2024, 2, 29), 12, _d(2025, 2, 28)),
        (_d(2025, 3, 31), 1, _d(2025, 4, 30)),
    ],
)
def test_add_months_clamps_the_day(start: datetime, months: int, end: datetime) -> None:
    assert add_months(start, months) == end


def test_new_subscription_starts_now() -> None:
    now = _d(2025, 1, 31)
    assert subscription_period(None, "monthly", now) == (now, _d(2025, 2, 28))
    assert subscription_period(None, BillingPeriod.ANNUAL, now) == (now, _d(2026, 1, 31))


def test_renewal_while_active_extends_from_the_current_end() -> None:
    now, current_end = _d(2025, 1, 20), _d(2025, 2, 10)
    assert subscription_period(current_end, "monthly", now) == (current_end, _d(2025, 3, 10))


def test_a_period_paid_in_its_grace_extends_from_its_end_and_none_starts_now() -> None:
    now = _d(2025, 4, 2)
    assert subscription_period(_d(2025, 4, 1), "monthly", now) == (_d(2025, 4, 1), _d(2025, 5, 1))
    assert subscription_period(None, "monthly", now) == (now, _d(2025, 5, 2))


def test_subscription_period_rejects_unknown_period() -> None:
    with pytest.raises(UnknownBillingPeriod):
        subscription_period(None, "weekly", NOW)


# --- reconciliation ladder ---------------------------------------------------------------------


def test_ladder_checkpoints() -> None:
    checks, elapsed = [], 0.0
    while elapsed < 300:
        delay = next_check_delay(elapsed)
        assert delay is not None
        elapsed += delay
        checks.append(elapsed)
    assert checks[0] == 20  # first check 20 s after pay
    assert checks[1:11] == [23, 26, 29, 32, 35, 38, 41, 44, 47, 50]  # every 3 s for 30 s
    assert checks[11:21] == [56, 62, 68, 74, 80, 86, 92, 98, 104, 110]  # every 6 s for 60 s
    assert checks[21:27] == [120, 130, 140, 150, 160, 170]  # every 10 s for 60 s
    assert checks[27:29] == [200, 230]  # every 30 s for 60 s
    assert checks[29:] == [290, 350]  # then every minute


def test_ladder_resumes_from_any_elapsed_time() -> None:
    assert next_check_delay(5) == 15
    assert next_check_delay(24.5) == 3
    assert next_check_delay(109) == 6
    assert next_check_delay(1000) == 60


def test_ladder_stops_after_expiry_plus_grace() -> None:
    assert next_check_delay(500, until_expiry_s=10) == 60  # the minute tick comes first
    assert next_check_delay(500, until_expiry_s=-30) == EXPIRY_GRACE_S - 30  # then one last check at expiry + grace
    assert next_check_delay(500, until_expiry_s=-EXPIRY_GRACE_S) is None
    assert next_check_delay(500, until_expiry_s=-1) == EXPIRY_GRACE_S - 1
    delays = reconciliation_delays(1200)
    assert sum(delays) == 1200 + EXPIRY_GRACE_S  # the last check lands at expireAt + grace
    assert all(d > 0 for d in delays)
    # The 29-step ladder to 230 s, a check a minute to 1250 s, a last one at 1260 s.
    assert len(delays) == 29 + 17 + 1
    assert delays[-2:] == [60, 10]


def test_is_expired() -> None:
    expire_at = _d(2025, 1, 1)
    assert not is_expired(None, expire_at)
    assert not is_expired(expire_at, expire_at + timedelta(seconds=EXPIRY_GRACE_S))
    assert is_expired(expire_at, expire_at + timedelta(seconds=EXPIRY_GRACE_S + 1))


def test_plan_price_accepts_the_plain_period_string() -> None:
    plan = Plan(id="starter", name="Starter", monthly_paise=99_900, annual_paise=999_000, purchasable=True)
    assert plan.price("monthly") == 99_900
    assert plan.price("annual") == 999_000
    with pytest.raises(ValueError, match="not a valid BillingPeriod"):
        plan.price("weekly")
