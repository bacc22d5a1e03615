"""The entitlement gate over the fake store: open answers cached (never past the rule's next
change), closed ones never; counted actions use the plan's daily allowance atomically."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib.domain.subscriptions import PaidAction, PlanLimitReached, SubscriptionInactive
from lib.services.entitlements.gate import Entitlements
from lib.testing.fake_entitlements import FakeEntitlements
from lib.testing.fakes import ManualClock


class Mono:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def gate() -> tuple[Entitlements, FakeEntitlements, ManualClock, Mono]:
    clock, store, mono = ManualClock(), FakeEntitlements(), Mono()
    return Entitlements(store, clock, ttl_s=30, monotonic=mono), store, clock, mono


def test_no_subscription_is_402_and_not_cached() -> None:
    g, store, clock, _ = gate()
    for _ in range(2):
        with pytest.raises(SubscriptionInactive):
            g.check("ws", PaidAction.ONBOARDING)
    assert store.reads == 2
    store.grant("ws", "free", now=clock.now())
    assert g.check("ws", PaidAction.ONBOARDING).open  # paid just now: in at once


def test_an_open_answer_is_cached_for_the_ttl_but_never_past_the_period_and_grace() -> None:
    g, store, clock, mono = gate()
    store.grant("ws", now=clock.now(), days=1)
    g.check("ws", PaidAction.FINALIZE)
    g.check("ws", PaidAction.FINALIZE)
    assert store.reads == 1
    mono.t = 31
    g.check("ws", PaidAction.FINALIZE)
    assert store.reads == 2
    clock.advance(timedelta(days=1).total_seconds())  # the period ended: the rule is asked again
    assert g.check("ws", PaidAction.FINALIZE).status is not None
    assert store.reads == 3
    clock.advance(timedelta(days=3).total_seconds())  # the grace is over
    with pytest.raises(SubscriptionInactive):
        g.check("ws", PaidAction.FINALIZE)


def test_counted_actions_stop_at_the_plan_limit_and_reset_the_next_day() -> None:
    g, store, clock, _ = gate()
    store.grant("ws", "free", now=clock.now())  # free: 2 rebuilds a day
    g.check("ws", PaidAction.REBUILD)
    g.check("ws", PaidAction.REBUILD)
    with pytest.raises(PlanLimitReached) as err:
        g.check("ws", PaidAction.REBUILD)
    assert err.value.status == 429
    assert int(err.value.headers["Retry-After"]) > 0
    g.check("ws", PaidAction.EXPORT)  # another action's allowance is its own
    g.check("ws", PaidAction.GUARDRAILS)  # not counted
    assert store.used("ws", clock.now().date()) == {"rebuild": 2, "export": 1}
    clock.advance(86400)
    g.check("ws", PaidAction.REBUILD)


def test_a_zero_limit_refuses_without_counting_and_unlimited_never_counts() -> None:
    g, store, clock, _ = gate()
    store.grant("ws", "enterprise", now=clock.now())
    for _ in range(5):
        g.check("ws", PaidAction.AI_SUGGESTION)
    assert store.usage == {}
    from lib.domain.subscriptions import PlanLimits

    store.limits["enterprise"] = PlanLimits(ai_suggestions_per_day=0)
    g.forget("ws")
    with pytest.raises(PlanLimitReached):
        g.check("ws", PaidAction.AI_SUGGESTION)
    assert store.usage == {}
