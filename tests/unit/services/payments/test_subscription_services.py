"""Sweep, cancel, resume and the billing view over the in-memory payments store."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from lib.domain.payments import add_months
from lib.errors import AppError
from lib.services.payments import grants, subscriptions
from lib.services.payments.emails import message_for
from tests.unit.services.payments.payments_support import DAY, PaymentsRig


class Rig(PaymentsRig):
    def kinds(self) -> list[str]:
        return [r["kind"] for r in sorted(self.repo.outbox.values(), key=lambda r: r["created_at"])]

    def sweep(self) -> subscriptions.SweepResult:
        return subscriptions.sweep_subscriptions(deps=self.deps)

    def status(self) -> str:
        return self.repo.subscriptions[self.ws].status


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_an_unpaid_month_reminds_twice_goes_past_due_then_expires_with_one_email_each(rig: Rig) -> None:
    rig.buy()
    end = rig.repo.subscriptions[rig.ws].current_period_end
    assert end is not None
    for _ in range(24 * 45):  # hourly, 45 days
        rig.clock.advance(3600)
        rig.sweep()
    assert rig.status() == "expired"
    assert rig.kinds() == [
        "payment-confirmed",
        "renewal-reminder-7d",
        "renewal-reminder-1d",
        "subscription-expired",
    ]
    assert rig.repo.subscriptions[rig.ws].next_sweep_at is None
    expired = next(r for r in rig.repo.outbox.values() if r["kind"] == "subscription-expired")
    assert expired["idempotency_key"] == f"subscription-expired/{rig.ws}/{end.isoformat()}"
    assert "ended on" in expired["payload"]["paragraphs"][0]


def test_a_sweep_reads_only_what_is_due(rig: Rig) -> None:
    rig.buy()
    assert rig.sweep().examined == 0
    rig.clock.advance(24 * DAY)
    first = rig.sweep()
    assert (first.examined, first.emails, first.moved) == (1, 1, 0)
    assert rig.sweep().examined == 0  # nothing due until the 1-day reminder


def test_cancel_runs_to_the_end_then_ends_and_resume_undoes_it(rig: Rig) -> None:
    rig.buy()
    view = subscriptions.cancel_subscription(rig.ws, deps=rig.deps)["subscription"]
    assert view["cancel_at_period_end"] is True
    assert view["next_charge_at"] is None
    assert view["status"] == "active"
    with pytest.raises(AppError) as err:
        subscriptions.cancel_subscription(rig.ws, deps=rig.deps)
    assert (err.value.status, err.value.code) == (409, "nothing_to_cancel")
    resumed = subscriptions.resume_subscription(rig.ws, deps=rig.deps)["subscription"]
    assert resumed["cancel_at_period_end"] is False
    assert resumed["next_charge_at"] is not None
    with pytest.raises(AppError) as err:
        subscriptions.resume_subscription(rig.ws, deps=rig.deps)
    assert err.value.code == "nothing_to_resume"
    rig.clock.advance(60)
    subscriptions.cancel_subscription(rig.ws, deps=rig.deps)
    rig.clock.advance(31 * DAY)
    rig.sweep()
    assert rig.status() == "cancelled"
    with pytest.raises(AppError) as err:
        subscriptions.resume_subscription(rig.ws, deps=rig.deps)
    assert err.value.code == "nothing_to_resume"
    assert rig.kinds().count("subscription-cancelled") == 2
    assert rig.kinds()[-1] == "subscription-ended"


def test_cancel_refuses_free_none_and_lapsed(rig: Rig) -> None:
    with pytest.raises(AppError) as err:
        subscriptions.cancel_subscription(rig.ws, deps=rig.deps)
    assert (err.value.status, err.value.code) == (404, "subscription_not_found")
    grants.grant_free(rig.deps, rig.ws, rig.user, "monthly")
    with pytest.raises(AppError) as err:
        subscriptions.cancel_subscription(rig.ws, deps=rig.deps)
    assert err.value.code == "nothing_to_cancel"
    other = Rig()
    other.buy()
    other.clock.advance(40 * DAY)
    with pytest.raises(AppError) as err:
        subscriptions.cancel_subscription(other.ws, deps=other.deps)
    assert err.value.code == "nothing_to_cancel"
    assert other.repo.subscriptions[other.ws].cancel_at_period_end is False


def test_the_billing_view_shows_status_next_charge_and_transactions(rig: Rig) -> None:
    assert subscriptions.billing_overview(rig.ws, deps=rig.deps)["subscription"] is None
    rig.buy()
    view = subscriptions.billing_overview(rig.ws, deps=rig.deps)
    sub = view["subscription"]
    assert sub["status"] == "active"
    assert sub["next_charge_paise"] == 99900
    assert sub["next_charge_at"] == sub["current_period_end"]
    assert [t["state"] for t in view["transactions"]] == ["COMPLETED"]
    rig.clock.advance(31 * DAY)  # not swept yet: the view says what the rules say
    late = subscriptions.billing_overview(rig.ws, deps=rig.deps)["subscription"]
    assert late["status"] == "past_due"
    assert late["grace_ends_at"] is not None


def test_notices_render_escaped_with_the_billing_link(rig: Rig) -> None:
    rig.repo.users[rig.user]["full_name"] = "<b>Ada</b>"
    rig.buy()
    rig.clock.advance(24 * DAY)
    rig.sweep()
    from lib.domain.payment_records import OutboxEmail

    row = next(r for r in rig.repo.outbox.values() if r["kind"] == "renewal-reminder-7d")
    message = message_for(
        OutboxEmail(
            **{k: row[k] for k in ("id", "kind", "to_email", "subject", "payload", "idempotency_key")}, attempts=0
        )
    )
    assert "&lt;b&gt;Ada&lt;/b&gt;" in message.html
    assert "http://app.local/billing" in message.text
    assert message.subject.startswith("Your Starter plan renews on")


def test_sweep_all_due_runs_full_batches_until_done() -> None:
    rigs = Rig()
    for _ in range(5):
        user, ws = rigs.repo.add_user(f"{uuid.uuid4().hex[:8]}@example.com", "Many")
        rigs.user, rigs.ws = user, ws
        rigs.buy()
    rigs.clock.advance(24 * DAY)
    result = subscriptions.sweep_all_due(deps=rigs.deps, limit=2)
    assert (result.examined, result.emails, result.more) == (5, 5, False)
    assert subscriptions.sweep_all_due(deps=rigs.deps, limit=2).examined == 0


def test_a_scheduled_downgrade_is_renewed_at_its_plan_and_starts_at_the_end(rig: Rig) -> None:
    rig.buy("growth")
    end = rig.repo.subscriptions[rig.ws].current_period_end
    assert end is not None
    cmd = subscriptions.ChangeCommand(rig.ws, "starter", "monthly")
    view = subscriptions.change_subscription(cmd, deps=rig.deps)["subscription"]
    assert view["plan"] == "growth"
    assert view["scheduled_change"] == {"plan": "starter", "billing_period": "monthly", "at": end.isoformat()}
    assert view["next_charge_paise"] == 99900
    rig.clock.set(end - timedelta(days=2))
    rig.buy("starter")  # the renewal pays the scheduled plan, from the end
    sub = rig.repo.subscriptions[rig.ws]
    assert (sub.plan_id, sub.scheduled_plan_id) == ("starter", None)
    assert sub.current_period_end == add_months(end, 1)


def test_change_refuses_upgrades_free_cancelled_and_bad_input_and_clears_with_the_current_plan(rig: Rig) -> None:
    rig.buy()
    for plan, period, code in [
        ("starter", "monthly", "change_not_schedulable"),  # the plan it already has
        ("growth", "monthly", "change_not_schedulable"),
        ("free", "monthly", "change_not_schedulable"),
        ("nope", "monthly", "unknown_plan"),
        ("starter", "weekly", "unknown_billing_period"),
        ("enterprise", "monthly", "plan_not_purchasable"),
    ]:
        with pytest.raises(AppError) as err:
            subscriptions.change_subscription(subscriptions.ChangeCommand(rig.ws, plan, period), deps=rig.deps)
        assert err.value.code == code, (plan, period)
    assert rig.repo.subscriptions[rig.ws].scheduled_plan_id is None
    annual = subscriptions.ChangeCommand(rig.ws, "starter", "annual")
    assert subscriptions.change_subscription(annual, deps=rig.deps)["subscription"]["scheduled_change"] is not None
    same = subscriptions.ChangeCommand(rig.ws, "starter", "monthly")
    assert subscriptions.change_subscription(same, deps=rig.deps)["subscription"]["scheduled_change"] is None
    subscriptions.cancel_subscription(rig.ws, deps=rig.deps)
    with pytest.raises(AppError) as err:
        subscriptions.change_subscription(annual, deps=rig.deps)
    assert err.value.code == "change_not_schedulable"
