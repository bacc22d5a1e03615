"""UPI AutoPay over the in-memory store and PhonePe: the mandate at checkout, the notice, the
debit 24 hours later, a failed debit, a stopped mandate, a cancel, a renewal paid by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from lib.errors import AppError
from lib.services.payments import subscriptions
from lib.services.payments.autopay import refresh_mandate, run_autopay
from lib.services.payments.initiate import InitiateCommand, initiate_payment
from lib.services.payments.reconcile import ReconcileCommand, reconcile_order
from lib.testing.fake_autopay import FakeAutoPay
from lib.testing.fake_payments import FakeGateway, FakePayments, FakePaymentsUnit, payment_deps
from lib.testing.fakes import FakeTaskQueue, ManualClock

HOUR = 3600.0
DAY = 24 * HOUR


class Rig:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.repo = FakePayments(self.clock)
        self.autopay = FakeAutoPay(self.clock)
        self.deps = replace(
            payment_deps(self.repo, lambda: FakePaymentsUnit(self.repo), self.clock), autopay=self.autopay
        )
        assert isinstance(self.deps.gateway, FakeGateway)
        self.gateway: FakeGateway = self.deps.gateway
        self.user, self.ws = self.repo.add_user("ada@example.com", "Ada")

    def checkout(self, *, autopay: Any = True, plan: str = "starter") -> dict[str, Any]:
        body, status = initiate_payment(InitiateCommand(self.user, self.ws, plan, "monthly", autopay), deps=self.deps)
        assert status == 201
        return body

    def reconcile(self, mid: str) -> dict[str, Any]:
        return reconcile_order(ReconcileCommand(mid), deps=self.deps)

    def subscribed(self) -> str:
        mid = str(self.checkout()["merchant_order_id"])
        self.autopay.approve(mid)
        assert self.reconcile(mid)["outcome"] == "granted"
        return mid

    def end(self) -> Any:
        end = self.repo.subscriptions[self.ws].current_period_end
        assert end is not None
        return end

    def at(self, when: Any) -> None:
        self.clock.advance((when - self.clock.now()).total_seconds())

    def emails(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.repo.outbox.values() if r["kind"] == kind]

    def debit_asked(self) -> tuple[Any, Any]:
        """(the period end, its redemption): subscribed with AutoPay, notified 47 h before the end,
        and the debit asked for 5 minutes after it."""
        self.subscribed()
        end = self.end()
        self.at(end - timedelta(hours=47))
        run_autopay(deps=self.deps)
        self.at(end + timedelta(minutes=5))
        run_autopay(deps=self.deps)
        [redemption] = self.repo.redemption_rows.values()
        return end, redemption

    def mandate(self) -> Any:
        [mandate] = self.repo.mandate_rows.values()
        return mandate


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_checkout_with_autopay_sets_up_a_mandate_that_pays_the_first_period(rig: Rig) -> None:
    body = rig.checkout()
    assert body["autopay"] is True
    assert body["checkout_url"].startswith("upi://mandate")
    mid = body["merchant_order_id"]
    assert rig.repo.orders[mid].kind == "mandate_setup"
    assert rig.mandate().state == "PENDING"
    assert rig.mandate().max_amount_paise == 249900  # the dearest monthly plan: upgrades need no new mandate
    rig.autopay.approve(mid)
    assert rig.reconcile(mid)["outcome"] == "granted"
    assert rig.mandate().state == "ACTIVE"
    assert rig.repo.subscriptions[rig.ws].status == "active"
    view = subscriptions.billing_overview(rig.ws, deps=rig.deps)
    assert view["subscription"]["autopay"]["on"] is True


def test_a_renewal_is_noticed_48_hours_ahead_and_debited_at_the_end_once(rig: Rig) -> None:
    rig.subscribed()
    end = rig.end()
    rig.at(end - timedelta(hours=49))
    assert run_autopay(deps=rig.deps).notified == 0
    rig.at(end - timedelta(hours=47))
    assert run_autopay(deps=rig.deps).notified == 1
    assert run_autopay(deps=rig.deps).notified == 0  # one notice per period
    [notice] = rig.emails("autopay-pre-debit")
    assert "₹999.00" in notice["subject"]
    [redemption] = rig.repo.redemption_rows.values()
    mid = redemption.merchant_order_id
    assert rig.repo.orders[mid].kind == "redemption"
    rig.at(end - timedelta(hours=1))
    assert run_autopay(deps=rig.deps).redeemed == 0  # not due yet
    rig.at(end + timedelta(minutes=5))
    assert run_autopay(deps=rig.deps).redeemed == 1
    assert run_autopay(deps=rig.deps).redeemed == 0
    assert rig.autopay.calls["redeem"] == 1
    rig.autopay.settle(mid)
    assert rig.reconcile(mid)["outcome"] == "granted"
    sub = rig.repo.subscriptions[rig.ws]
    assert sub.current_period_end is not None
    assert sub.current_period_end > end  # extended from the old end
    assert rig.repo.orders[mid].period_start == end
    assert len(rig.repo.receipt_rows) == 2


def test_the_debit_waits_for_24_hours_after_a_late_notice(rig: Rig) -> None:
    rig.subscribed()
    end = rig.end()
    rig.at(end - timedelta(hours=2))  # the scheduler was down until now
    assert run_autopay(deps=rig.deps).notified == 1
    rig.at(end + timedelta(hours=1))
    assert run_autopay(deps=rig.deps).redeemed == 0
    rig.at(end + timedelta(hours=22, minutes=1))
    assert run_autopay(deps=rig.deps).redeemed == 1


def test_a_failed_debit_fails_the_order_with_the_manual_renewal_email_and_the_period_runs_out(rig: Rig) -> None:
    _end, redemption = rig.debit_asked()
    rig.autopay.settle(redemption.merchant_order_id, "FAILED")
    assert rig.reconcile(redemption.merchant_order_id)["state"] == "FAILED"
    [failed] = rig.emails("payment-failed")
    assert failed["payload"]["retry_url"].endswith("/billing")
    subscriptions.sweep_subscriptions(deps=rig.deps)
    assert rig.repo.subscriptions[rig.ws].status == "past_due"


def test_a_revoked_mandate_turns_autopay_off_once_and_nothing_is_charged(rig: Rig) -> None:
    rig.subscribed()
    msid = rig.mandate().merchant_subscription_id
    rig.autopay.set_state(msid, "REVOKED")
    assert refresh_mandate(rig.deps, msid) == "revoked"
    assert refresh_mandate(rig.deps, msid) == "revoked"
    assert len(rig.emails("autopay-off")) == 1
    rig.at(rig.end() - timedelta(hours=47))
    assert run_autopay(deps=rig.deps).notified == 0
    assert subscriptions.billing_overview(rig.ws, deps=rig.deps)["subscription"]["autopay"] is None


def test_cancelling_the_plan_cancels_the_mandate_at_phonepe(rig: Rig) -> None:
    rig.subscribed()
    subscriptions.cancel_subscription(rig.ws, deps=rig.deps)
    assert rig.autopay.mandates[rig.mandate().merchant_subscription_id]["state"] == "CANCELLED"
    assert rig.mandate().autopay_off_at is not None
    rig.at(rig.end() - timedelta(hours=47))
    assert run_autopay(deps=rig.deps).notified == 0


def test_a_renewal_paid_by_hand_after_the_notice_is_not_debited_again(rig: Rig) -> None:
    rig.subscribed()
    end = rig.end()
    rig.at(end - timedelta(hours=47))
    run_autopay(deps=rig.deps)
    # The customer renews by hand anyway (checkout, not AutoPay).
    body = rig.checkout(autopay=False)
    rig.gateway.complete(body["merchant_order_id"])
    rig.reconcile(body["merchant_order_id"])
    rig.at(end + timedelta(hours=1))
    run = run_autopay(deps=rig.deps)
    assert (run.redeemed, run.skipped) == (0, 1)
    [redemption] = rig.repo.redemption_rows.values()
    assert rig.repo.orders[redemption.merchant_order_id].state == "EXPIRED"
    assert rig.autopay.calls.get("redeem", 0) == 0


def test_a_renewal_above_the_mandate_turns_autopay_off(rig: Rig) -> None:
    rig.subscribed()
    sub = rig.repo.subscriptions[rig.ws]
    rig.repo.subscriptions[rig.ws] = replace(sub, scheduled_plan_id="growth", scheduled_billing_period="annual")
    rig.at(rig.end() - timedelta(hours=47))
    assert run_autopay(deps=rig.deps).turned_off == 1
    assert rig.mandate().autopay_off_at is not None
    assert len(rig.emails("autopay-off")) == 1


@pytest.mark.parametrize(("value", "status", "code"), [("yes", 422, "invalid_autopay"), (1, 422, "invalid_autopay")])
def test_autopay_must_be_a_boolean(rig: Rig, value: Any, status: int, code: str) -> None:
    with pytest.raises(AppError) as caught:
        rig.checkout(autopay=value)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert rig.repo.orders == {}


def test_a_second_mandate_while_one_is_live_is_409_and_writes_nothing(rig: Rig) -> None:
    rig.subscribed()
    orders = len(rig.repo.orders)
    with pytest.raises(AppError) as caught:
        rig.checkout()
    assert (caught.value.status, caught.value.code) == (409, "autopay_not_available")
    assert len(rig.repo.orders) == orders


def _hook(rig: Rig, event: str, payload: dict[str, Any]) -> None:
    import json

    from lib.domain.payments import webhook_authorization
    from lib.services.payments.webhook import WebhookCommand, apply_webhook

    body = json.dumps({"event": event, "payload": payload}).encode()
    assert apply_webhook(WebhookCommand(body, webhook_authorization("u", "p")), deps=rig.deps)["received"] is True


def test_subscription_callbacks_are_hints_checked_with_phonepe(rig: Rig) -> None:
    mid = str(rig.checkout()["merchant_order_id"])
    # A forged or early "completed" moves nothing: PhonePe's status says PENDING.
    _hook(rig, "subscription.setup.order.completed", {"merchantOrderId": mid, "state": "PENDING"})
    assert rig.repo.orders[mid].state == "PENDING"
    rig.autopay.approve(mid)
    _hook(rig, "subscription.setup.order.completed", {"merchantOrderId": mid, "state": "COMPLETED"})
    assert rig.repo.orders[mid].state == "COMPLETED"
    assert rig.mandate().state == "ACTIVE"
    msid = rig.mandate().merchant_subscription_id
    rig.autopay.set_state(msid, "PAUSED")
    _hook(rig, "subscription.paused", {"merchantSubscriptionId": msid, "state": "PAUSED"})
    assert rig.mandate().state == "PAUSED"
    assert rig.mandate().autopay_off_at is None  # a pause is not the end
    rig.autopay.set_state(msid, "ACTIVE")
    _hook(rig, "subscription.unpaused", {"merchantSubscriptionId": msid, "state": "ACTIVE"})
    assert rig.mandate().state == "ACTIVE"
    rig.autopay.set_state(msid, "CANCELLED")
    _hook(rig, "subscription.cancelled", {"merchantSubscriptionId": msid, "state": "CANCELLED"})
    assert rig.mandate().autopay_off_at is not None
    assert len(rig.emails("autopay-off")) == 1


def test_fifty_duplicate_redemption_callbacks_extend_the_period_once(rig: Rig) -> None:
    import threading

    end, redemption = rig.debit_asked()
    mid = redemption.merchant_order_id
    rig.autopay.settle(mid)
    barrier = threading.Barrier(50)

    def deliver(i: int) -> None:
        barrier.wait()
        _hook(rig, "subscription.redemption.order.completed", {"merchantOrderId": mid, "state": "COMPLETED", "n": i})

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sub = rig.repo.subscriptions[rig.ws]
    order = rig.repo.orders[mid]
    assert sub.current_period_end == order.period_end
    assert order.period_start == end
    assert len([r for r in rig.emails("payment-confirmed") if r["payload"]["merchant_order_id"] == mid]) == 1


def test_failed_and_stuck_debits_are_logged_for_their_alerts(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    from lib import ops_events

    end, redemption = rig.debit_asked()
    rig.at(end + timedelta(minutes=30))
    assert run_autopay(deps=rig.deps).stuck == 0
    rig.at(end + timedelta(hours=1, minutes=10))
    with caplog.at_level("WARNING"):
        assert run_autopay(deps=rig.deps).stuck == 1
        rig.autopay.settle(redemption.merchant_order_id, "FAILED")
        rig.reconcile(redemption.merchant_order_id)
        assert run_autopay(deps=rig.deps).stuck == 0
    events = [getattr(r, "event", None) for r in caplog.records]
    assert events.count(ops_events.REDEMPTION_STUCK) == 1
    assert events.count(ops_events.REDEMPTION_FAILED) == 1


def test_a_notice_phonepe_could_not_take_is_sent_by_the_next_run_once(rig: Rig) -> None:
    rig.subscribed()
    rig.at(rig.end() - timedelta(hours=47))
    rig.autopay.down = True
    assert run_autopay(deps=rig.deps).notified == 0
    [redemption] = rig.repo.redemption_rows.values()
    assert redemption.notified_at is None
    rig.autopay.down = False
    rig.at(rig.end() - timedelta(hours=46))
    assert run_autopay(deps=rig.deps).notified == 1
    assert run_autopay(deps=rig.deps).notified == 0
    assert len(rig.emails("autopay-pre-debit")) == 1
    assert rig.repo.redemption_rows[redemption.merchant_order_id].notified_at is not None


def test_a_notice_phonepe_refuses_turns_autopay_off_so_the_customer_renews_by_hand(rig: Rig) -> None:
    rig.subscribed()
    msid = rig.mandate().merchant_subscription_id
    rig.autopay.mandates[msid]["max"] = 100  # PhonePe now refuses the amount
    rig.at(rig.end() - timedelta(hours=47))
    assert run_autopay(deps=rig.deps).notified == 0
    [redemption] = rig.repo.redemption_rows.values()
    assert rig.repo.orders[redemption.merchant_order_id].state == "FAILED"
    assert rig.mandate().autopay_off_at is not None
    assert len(rig.emails("autopay-off")) == 1


def test_the_order_sweep_leaves_a_charge_awaiting_its_notice_or_debit_to_autopay(rig: Rig) -> None:
    from lib.services.payments.reconcile import sweep_stale_orders

    rig.subscribed()
    rig.at(rig.end() - timedelta(hours=47))
    rig.autopay.down = True
    run_autopay(deps=rig.deps)  # the notice did not go out: the charge waits, CREATED
    rig.autopay.down = False
    rig.clock.advance(3 * HOUR)
    sweep_stale_orders(deps=rig.deps)
    [redemption] = rig.repo.redemption_rows.values()
    tasks = rig.deps.tasks
    assert isinstance(tasks, FakeTaskQueue)
    assert [t for t in tasks.tasks if t.payload.get("merchant_order_id") == redemption.merchant_order_id] == []
    assert rig.repo.orders[redemption.merchant_order_id].state == "CREATED"
    assert rig.emails("payment-failed") == []
    assert run_autopay(deps=rig.deps).notified == 1  # and AutoPay's next run sends it
