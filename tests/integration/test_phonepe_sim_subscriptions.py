"""The real PhonePeClient's AutoPay calls against the PhonePe simulator served over HTTP:
mandate setup and the customer's answer, the 24 h pre-debit notice, redemptions that
succeed, fail or wait, the customer's pause/unpause/revoke, cancel, idempotent repeats,
faults, and the callbacks the simulator sends for each."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.local.phonepe_sim import CALLBACK_TYPES, FAULT_OPS
from lib.adapters.phonepe import PhonePeClient, PhonePeOrderNotFound, PhonePeRejected, PhonePeUnavailable
from lib.services.payments.autopay_ports import (
    PRE_DEBIT_NOTICE_S,
    SUBSCRIPTION_CALLBACKS,
    AutoPayGateway,
    MandateStatus,
)
from lib.testing.fakes import FakeKeyValue, ManualClock
from lib.testing.receiver import RecordingReceiver
from tests.integration.test_phonepe_sim import HOOK_HEADER, READ_TIMEOUT_S, Sim, served_sim


@pytest.fixture
def sim() -> Iterator[Sim]:
    with RecordingReceiver() as hooks, served_sim(hooks, ManualClock()) as served:
        yield served


def setup(gateway: AutoPayGateway, msid: str = "ms_1", mid: str | None = None, **more: Any) -> Any:
    args: dict[str, Any] = {
        "merchant_order_id": mid or f"so_{msid}",
        "merchant_subscription_id": msid,
        "amount_paise": 100,
        "max_amount_paise": 99900,
        "frequency": "MONTHLY",
        "amount_type": "VARIABLE",
        "auth_workflow_type": "TRANSACTION",
        **more,
    }
    return gateway.setup_mandate(**args)


def act(sim: Sim, path: str, status: int = 200, **params: Any) -> dict[str, Any]:
    response = sim.control(path, **params)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def active(sim: Sim, msid: str = "ms_1") -> AutoPayGateway:
    """A client and an ACTIVE mandate (the approval's callback dropped)."""
    gateway: AutoPayGateway = sim.client()
    setup(gateway, msid)
    act(sim, f"/mandates/{msid}/approve", webhook="drop")
    return gateway


def notify(gateway: AutoPayGateway, mid: str, amount: int = 49900, msid: str = "ms_1", **more: Any) -> Any:
    return gateway.notify_redemption(merchant_order_id=mid, merchant_subscription_id=msid, amount_paise=amount, **more)


def callbacks(sim: Sim, count: int) -> list[dict[str, Any]]:
    received = sim.hooks.wait_for(count)
    assert all(r.headers["Authorization"] == HOOK_HEADER for r in received)
    return [json.loads(r.body) for r in received]


def no_more_callbacks(sim: Sim, count: int) -> None:
    with pytest.raises(TimeoutError):
        sim.hooks.wait_for(count + 1, timeout=0.3)


def events(sim: Sim, count: int) -> list[str]:
    return sorted(c["event"] for c in callbacks(sim, count))


def by_type(hooks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The payloads of one callback type (callbacks sent after an answer may overtake others)."""
    return [h["payload"] for h in hooks if h["type"] == kind]


# --- setup --------------------------------------------------------------------------------


def test_setup_then_the_customer_approves_the_mandate(sim: Sim) -> None:
    gateway: AutoPayGateway = sim.client()
    created = setup(gateway, meta_info={"udf1": "ws_1"})
    assert created.state == "PENDING"
    assert created.phonepe_order_id
    assert created.intent_url
    assert created.intent_url.startswith("upi://mandate?")
    assert created.expire_at is not None
    assert created.expire_at.timestamp() == sim.clock.now().timestamp() + 1200
    pending = gateway.mandate_status("ms_1")
    assert (pending.state, pending.max_amount_paise, pending.frequency) == ("ACTIVATION_IN_PROGRESS", 99900, "MONTHLY")

    approved = act(sim, "/mandates/ms_1/approve")
    assert approved["state"] == "ACTIVE"
    assert approved["webhook"] == {"mode": "deliver", "sent": 1, "statuses": [200]}
    status = gateway.mandate_status("ms_1")
    assert (status.found, status.state, status.amount_type, status.auth_workflow_type) == (
        True,
        "ACTIVE",
        "VARIABLE",
        "TRANSACTION",
    )
    assert status.subscription_id
    assert status.subscription_id.startswith("OMS")
    order = gateway.redemption_status("so_ms_1")
    assert (order.state, order.flow_type, order.subscription_id, order.amount_paise) == (
        "COMPLETED",
        "SUBSCRIPTION_SETUP",
        status.subscription_id,
        100,
    )
    assert order.payment_details[0]["paymentMode"] == "UPI_INTENT"
    assert order.meta_info == {"udf1": "ws_1"}

    (hook,) = callbacks(sim, 1)
    assert (hook["event"], hook["type"]) == ("subscription.setup.order.completed", "SUBSCRIPTION_SETUP_ORDER_COMPLETED")
    payload = hook["payload"]
    assert (payload["merchantOrderId"], payload["state"], payload["amount"]) == ("so_ms_1", "COMPLETED", 100)
    assert payload["paymentFlow"]["type"] == "SUBSCRIPTION_SETUP"
    assert payload["paymentFlow"]["merchantSubscriptionId"] == "ms_1"
    assert payload["paymentFlow"]["subscriptionId"] == status.subscription_id
    assert payload["paymentDetails"][0]["state"] == "COMPLETED"


def test_collect_setup_the_customer_declines(sim: Sim) -> None:
    gateway: AutoPayGateway = sim.client()
    created = setup(gateway, "ms_no", vpa="someone@ybl")
    assert created.intent_url is None
    declined = act(sim, "/mandates/ms_no/decline", error_code="AUTHORIZATION_DECLINED")
    assert declined["state"] == "FAILED"
    order = gateway.redemption_status("so_ms_no")
    assert (order.state, order.error_code) == ("FAILED", "AUTHORIZATION_DECLINED")
    assert order.payment_details[0]["paymentMode"] == "UPI_COLLECT"
    assert gateway.mandate_status("ms_no").state == "FAILED"
    (hook,) = callbacks(sim, 1)
    assert (hook["type"], hook["payload"]["errorCode"]) == ("SUBSCRIPTION_SETUP_ORDER_FAILED", "AUTHORIZATION_DECLINED")
    assert act(sim, "/mandates/ms_no/approve", 409)["code"] == "MANDATE_STATE"  # the setup is over


def test_an_unapproved_setup_expires(sim: Sim) -> None:
    gateway: AutoPayGateway = sim.client()
    setup(gateway, "ms_late")
    sim.clock.advance(1199)
    assert gateway.mandate_status("ms_late").state == "ACTIVATION_IN_PROGRESS"
    sim.clock.advance(1)
    assert gateway.mandate_status("ms_late").state == "FAILED"
    order = gateway.redemption_status("so_ms_late")
    assert (order.state, order.error_code, order.detailed_error_code) == (
        "FAILED",
        "TXN_NOT_COMPLETED",
        "TXN_AUTO_FAILED",
    )
    assert act(sim, "/mandates/ms_late/approve", 409)["code"] == "MANDATE_STATE"


@pytest.mark.parametrize(
    "more",
    [
        {"amount_paise": 99},
        {"max_amount_paise": 99},
        {"frequency": "HOURLY"},
        {"amount_type": "SOMETIMES"},
        {"auth_workflow_type": "TRUST_ME"},
        {"merchant_subscription_id": "bad id"},
        {"meta_info": {"udf16": "x"}},
    ],
)
def test_setup_is_validated_like_phonepe(sim: Sim, more: dict[str, Any]) -> None:
    with pytest.raises(PhonePeRejected) as err:
        setup(sim.client(), **more)
    assert err.value.code == "BAD_REQUEST"
    assert httpx.get(f"{sim.base}/mandates").json() == {"mandates": [], "orders": []}


def test_ids_are_used_once(sim: Sim) -> None:
    gateway = sim.client()
    setup(gateway, "ms_1", mid="so_1")
    gateway.create_checkout_order("ord_1", 1000, redirect_url="http://a/b", expire_after_s=600)
    for mid, msid in (("so_1", "ms_2"), ("so_2", "ms_1"), ("ord_1", "ms_3")):
        with pytest.raises(PhonePeRejected):
            setup(gateway, msid, mid=mid)
    with pytest.raises(PhonePeRejected):  # a checkout may not reuse a subscription order's id either
        gateway.create_checkout_order("so_1", 1000, redirect_url="http://a/b", expire_after_s=600)
    assert len(httpx.get(f"{sim.base}/mandates").json()["mandates"]) == 1


# --- notify and redeem: the 24 h rule ---------------------------------------------------------


def test_redemption_runs_only_24_hours_after_the_notice(sim: Sim) -> None:
    gateway = active(sim)
    notice = notify(gateway, "n_1", meta_info={"udf1": "ws_1"})
    assert notice.state == "PENDING"
    assert notice.phonepe_order_id
    assert notice.expire_at is not None
    assert notice.expire_at.timestamp() == sim.clock.now().timestamp() + 48 * 3600
    order = gateway.redemption_status("n_1")
    assert (order.state, order.flow_type, order.merchant_subscription_id) == (
        "NOTIFIED",
        "SUBSCRIPTION_REDEMPTION",
        "ms_1",
    )
    assert order.notified_at == sim.clock.now()
    assert order.valid_after is not None
    assert order.valid_after.timestamp() - sim.clock.now().timestamp() == PRE_DEBIT_NOTICE_S
    (hook,) = callbacks(sim, 1)
    assert (hook["type"], hook["payload"]["state"]) == ("SUBSCRIPTION_NOTIFICATION_COMPLETED", "NOTIFIED")
    assert hook["payload"]["paymentFlow"]["validAfter"] == int(order.valid_after.timestamp() * 1000)

    with pytest.raises(PhonePeRejected) as early:
        gateway.redeem("n_1")
    assert early.value.code == "BAD_REQUEST"
    sim.clock.advance(PRE_DEBIT_NOTICE_S - 1)
    with pytest.raises(PhonePeRejected):
        gateway.redeem("n_1")
    assert gateway.redemption_status("n_1").state == "NOTIFIED"
    sim.clock.advance(1)

    debit = gateway.redeem("n_1")
    assert debit.state == "PENDING"
    assert debit.transaction_id
    done = gateway.redemption_status("n_1")
    assert (done.state, done.amount_paise, done.error_code) == ("COMPLETED", 49900, None)
    assert [(d["transactionId"], d["paymentMode"], d["state"]) for d in done.payment_details] == [
        (debit.transaction_id, "UPI_AUTO_PAY", "COMPLETED")
    ]
    hooks = callbacks(sim, 3)[1:]
    assert sorted(h["type"] for h in hooks) == [
        "SUBSCRIPTION_REDEMPTION_ORDER_COMPLETED",
        "SUBSCRIPTION_REDEMPTION_TRANSACTION_COMPLETED",
    ]
    assert all(h["payload"]["merchantOrderId"] == "n_1" and h["payload"]["state"] == "COMPLETED" for h in hooks)


def test_notify_rules(sim: Sim) -> None:
    gateway = sim.client()
    setup(gateway, "ms_1")
    with pytest.raises(PhonePeRejected):  # not ACTIVE yet
        notify(gateway, "n_pending")
    act(sim, "/mandates/ms_1/approve", webhook="drop")
    with pytest.raises(PhonePeRejected) as over:
        notify(gateway, "n_big", amount=100_000)
    assert "maxAmount" in str(over.value)
    with pytest.raises(PhonePeRejected):
        notify(gateway, "n_small", amount=99)
    with pytest.raises(PhonePeOrderNotFound) as unknown:
        notify(gateway, "n_who", msid="ms_nobody")
    assert unknown.value.details["code"] == "SUBSCRIPTION_NOT_FOUND"
    assert notify(gateway, "n_max", amount=99900).state == "PENDING"  # the maximum itself is allowed
    with pytest.raises(PhonePeRejected):  # a setup order's id is not a new notice
        notify(gateway, "so_ms_1")


def test_notify_and_redeem_are_idempotent_per_merchant_order_id(sim: Sim) -> None:
    gateway = active(sim)
    first = notify(gateway, "n_1")
    again = notify(gateway, "n_1")
    assert again.phonepe_order_id == first.phonepe_order_id
    assert again.state == "NOTIFIED"  # the order as it stands
    callbacks(sim, 1)
    no_more_callbacks(sim, 1)  # one notice reached the customer
    with pytest.raises(PhonePeRejected):  # the same id for another charge
        notify(gateway, "n_1", amount=100)

    sim.clock.advance(PRE_DEBIT_NOTICE_S)
    debit = gateway.redeem("n_1")
    repeat = gateway.redeem("n_1")
    assert (repeat.transaction_id, repeat.state) == (debit.transaction_id, "COMPLETED")
    assert len(gateway.redemption_status("n_1").payment_details) == 1  # debited once
    callbacks(sim, 3)
    no_more_callbacks(sim, 3)


def test_a_failed_redemption(sim: Sim) -> None:
    gateway = active(sim)
    notify(gateway, "n_1")
    assert act(sim, "/_control/next-outcome", op="redeem", outcome="fail", error_code="INSUFFICIENT_FUNDS") == {
        "op": "redeem",
        "outcome": "fail",
        "pending": 1,
    }
    sim.clock.advance(PRE_DEBIT_NOTICE_S)
    debit = gateway.redeem("n_1")
    assert debit.state == "PENDING"  # PhonePe's answer; the outcome comes by status and callback
    failed = gateway.redemption_status("n_1")
    assert (failed.state, failed.error_code) == ("FAILED", "INSUFFICIENT_FUNDS")
    assert failed.payment_details[0]["state"] == "FAILED"
    assert gateway.redeem("n_1").transaction_id == debit.transaction_id  # STANDARD: PhonePe already retried
    hooks = callbacks(sim, 3)
    (order_failed,) = by_type(hooks, "SUBSCRIPTION_REDEMPTION_ORDER_FAILED")
    (attempt_failed,) = by_type(hooks, "SUBSCRIPTION_REDEMPTION_TRANSACTION_FAILED")
    assert (order_failed["state"], order_failed["errorCode"]) == ("FAILED", "INSUFFICIENT_FUNDS")
    assert attempt_failed["paymentDetails"][0]["errorCode"] == "INSUFFICIENT_FUNDS"


def test_custom_retries_are_the_merchants_up_to_four_attempts(sim: Sim) -> None:
    gateway = active(sim)
    notify(gateway, "n_custom", retry_strategy="CUSTOM")
    notify(gateway, "n_gives_up", retry_strategy="CUSTOM")
    act(sim, "/_control/next-outcome", op="redeem", outcome="fail", count=2)
    sim.clock.advance(PRE_DEBIT_NOTICE_S)
    first = gateway.redeem("n_custom")
    assert gateway.redemption_status("n_custom").state == "PENDING"  # one failed attempt, not the order
    second = gateway.redeem("n_custom")
    third = gateway.redeem("n_custom")
    assert len({first.transaction_id, second.transaction_id, third.transaction_id}) == 3
    status = gateway.redemption_status("n_custom")
    assert status.state == "COMPLETED"
    assert [d["state"] for d in status.payment_details] == ["FAILED", "FAILED", "COMPLETED"]

    act(sim, "/_control/next-outcome", op="redeem", outcome="fail", count=4)
    for attempt in range(4):
        gateway.redeem("n_gives_up")
        assert gateway.redemption_status("n_gives_up").state == ("FAILED" if attempt == 3 else "PENDING")
    assert len(gateway.redemption_status("n_gives_up").payment_details) == 4
    # 2 notices, 2 failed + 1 completed attempt (+1 order), 4 failed attempts (+1 order)
    assert events(sim, 11).count("subscription.redemption.transaction.failed") == 6


def test_a_redemption_held_pending_then_settled(sim: Sim) -> None:
    gateway = active(sim)
    notify(gateway, "n_1")
    act(sim, "/_control/next-outcome", op="redeem", outcome="pending")
    sim.clock.advance(PRE_DEBIT_NOTICE_S)
    debit = gateway.redeem("n_1")
    assert gateway.redemption_status("n_1").state == "PENDING"
    assert gateway.redeem("n_1") == debit  # in flight: the same attempt
    callbacks(sim, 1)
    no_more_callbacks(sim, 1)
    sim.clock.advance(48 * 3600)  # a debit in flight does not expire with its order
    assert gateway.redemption_status("n_1").state == "PENDING"
    settled = act(sim, "/redemptions/n_1/complete", webhook="duplicate:2")
    assert settled["state"] == "COMPLETED"
    assert [w["statuses"] for w in settled["webhooks"]] == [[200, 200], [200, 200]]
    assert gateway.redemption_status("n_1").state == "COMPLETED"
    assert act(sim, "/redemptions/n_1/fail", 409)["code"] == "NO_PENDING_REDEMPTION"


def test_a_notice_not_redeemed_in_time_expires(sim: Sim) -> None:
    gateway = active(sim)
    notify(gateway, "n_1")
    sim.clock.advance(48 * 3600)
    assert gateway.redemption_status("n_1").state == "FAILED"
    with pytest.raises(PhonePeRejected):
        gateway.redeem("n_1")


def test_a_failed_notification(sim: Sim) -> None:
    gateway = active(sim)
    act(sim, "/_control/next-outcome", op="notify", outcome="fail")
    assert notify(gateway, "n_1").state == "PENDING"
    order = gateway.redemption_status("n_1")
    assert (order.state, order.error_code, order.valid_after) == ("FAILED", "NOTIFICATION_FAILED", None)
    (hook,) = callbacks(sim, 1)
    assert hook["type"] == "SUBSCRIPTION_NOTIFICATION_FAILED"
    sim.clock.advance(PRE_DEBIT_NOTICE_S)
    with pytest.raises(PhonePeRejected):
        gateway.redeem("n_1")


# --- what the customer does: revoke, pause, unpause; and cancel -------------------------------------


def test_the_customer_revokes_the_mandate(sim: Sim) -> None:
    gateway = active(sim)
    notify(gateway, "n_1")
    revoked = act(sim, "/mandates/ms_1/revoke")
    assert revoked["state"] == "REVOKED"
    assert gateway.mandate_status("ms_1").state == "REVOKED"
    sim.clock.advance(PRE_DEBIT_NOTICE_S)
    with pytest.raises(PhonePeRejected):  # a notice given before the revocation is no licence to debit
        gateway.redeem("n_1")
    with pytest.raises(PhonePeRejected):
        notify(gateway, "n_2")
    hooks = callbacks(sim, 2)
    (payload,) = by_type(hooks, "SUBSCRIPTION_REVOKED")
    assert "subscription.revoked" in [h["event"] for h in hooks]
    assert (payload["merchantSubscriptionId"], payload["state"]) == ("ms_1", "REVOKED")
    assert "merchantOrderId" not in payload
    assert act(sim, "/mandates/ms_1/unpause", 409)["code"] == "MANDATE_STATE"


def test_the_customer_pauses_and_unpauses(sim: Sim) -> None:
    gateway = active(sim)
    now_ms = int(sim.clock.now().timestamp() * 1000)
    until = now_ms + 7 * 86_400_000
    assert act(sim, "/mandates/ms_1/pause", until=str(until))["state"] == "PAUSED"
    paused = gateway.mandate_status("ms_1")
    assert paused.state == "PAUSED"
    assert paused.pause_start == sim.clock.now()
    assert paused.pause_end is not None
    assert int(paused.pause_end.timestamp() * 1000) == until
    with pytest.raises(PhonePeRejected):
        notify(gateway, "n_1")
    assert act(sim, "/mandates/ms_1/unpause")["state"] == "ACTIVE"
    assert gateway.mandate_status("ms_1") == MandateStatus(
        found=True,
        merchant_subscription_id="ms_1",
        subscription_id=paused.subscription_id,
        state="ACTIVE",
        auth_workflow_type="TRANSACTION",
        amount_type="VARIABLE",
        max_amount_paise=99900,
        frequency="MONTHLY",
        expire_at=paused.expire_at,
    )
    assert notify(gateway, "n_1").state == "PENDING"
    hooks = callbacks(sim, 3)
    assert by_type(hooks, "SUBSCRIPTION_PAUSED")[0]["pauseEndDate"] == until
    assert by_type(hooks, "SUBSCRIPTION_UNPAUSED")[0]["pauseStartDate"] is None


def test_a_pause_ends_by_itself(sim: Sim) -> None:
    gateway = active(sim)
    act(sim, "/mandates/ms_1/pause", webhook="drop")
    assert gateway.mandate_status("ms_1").state == "PAUSED"
    sim.clock.advance(30 * 86_400)  # the default pause
    assert gateway.mandate_status("ms_1").state == "ACTIVE"


def test_the_merchant_cancels(sim: Sim) -> None:
    gateway = active(sim)
    assert gateway.cancel_mandate("ms_1") is None
    assert gateway.mandate_status("ms_1").state == "CANCELLED"
    (hook,) = callbacks(sim, 1)
    assert (hook["event"], hook["payload"]["state"]) == ("subscription.cancelled", "CANCELLED")
    with pytest.raises(PhonePeRejected):
        gateway.cancel_mandate("ms_1")
    with pytest.raises(PhonePeRejected):
        notify(gateway, "n_1")
    with pytest.raises(PhonePeOrderNotFound):
        gateway.cancel_mandate("ms_nobody")
    assert gateway.mandate_status("ms_nobody") == MandateStatus(found=False)
    assert gateway.redemption_status("n_nobody").found is False
    with pytest.raises(PhonePeOrderNotFound):
        gateway.redeem("n_nobody")


def test_a_mandate_expires(sim: Sim) -> None:
    gateway: AutoPayGateway = sim.client()
    setup(gateway, mandate_expire_at=sim.clock.now().replace(year=2026))
    act(sim, "/mandates/ms_1/approve", webhook="drop")
    sim.clock.advance(365 * 86_400)
    assert gateway.mandate_status("ms_1").state == "EXPIRED"
    with pytest.raises(PhonePeRejected):
        notify(gateway, "n_1")


# --- callbacks: plans and shape ----------------------------------------------------------------


def test_callback_plans_for_what_phonepe_sends_on_its_own(sim: Sim) -> None:
    gateway = active(sim)
    assert act(sim, "/_control/subscription-webhooks", webhook="drop")["webhook"]["mode"] == "drop"
    notify(gateway, "n_drop")
    deadline = time.monotonic() + 5
    while len(log := httpx.get(f"{sim.base}/_control/webhooks").json()["webhooks"]) < 2:  # sent after the answer
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert [(w["event"], w["outcome"], w["merchant_order_id"]) for w in log] == [
        ("subscription.setup.order.completed", "dropped", "so_ms_1"),
        ("subscription.notification.completed", "dropped", "n_drop"),
    ]
    assert log[1]["merchant_subscription_id"] == "ms_1"
    act(sim, "/_control/subscription-webhooks", webhook="duplicate:3")
    notify(gateway, "n_dup")
    assert len({r.body for r in sim.hooks.wait_for(3)}) == 1
    act(sim, "/_control/subscription-webhooks", webhook="delay:1")
    notify(gateway, "n_late")
    no_more_callbacks(sim, 3)
    assert json.loads(sim.hooks.wait_for(4)[3].body)["payload"]["merchantOrderId"] == "n_late"


def test_every_subscription_callback_is_named_as_the_port_says() -> None:
    sim_names = {event: kind for event, kind in CALLBACK_TYPES.items() if kind.startswith("SUBSCRIPTION_")}
    assert sim_names == dict(SUBSCRIPTION_CALLBACKS)


# --- faults, state and controls -------------------------------------------------------------------


def test_faults_on_the_new_endpoints(sim: Sim) -> None:
    assert {"setup", "notify", "redeem", "subscription_status", "subscription_order_status", "cancel"} <= FAULT_OPS
    gateway = active(sim)
    act(sim, "/_control/fail-next", op="notify", mode="500")
    with pytest.raises(PhonePeUnavailable):
        notify(gateway, "n_1")
    assert gateway.redemption_status("n_1").found is False  # a 500 created nothing
    notify(gateway, "n_1")
    assert sim.app.calls["notify"] == 2  # never retried by the client

    act(sim, "/_control/fail-next", op="subscription_status", mode="503")
    with pytest.raises(PhonePeUnavailable):
        gateway.mandate_status("ms_1")

    sim.clock.advance(PRE_DEBIT_NOTICE_S)
    act(sim, "/_control/fail-next", op="redeem", mode="timeout", stall_s=5)
    slow: PhonePeClient = sim.client(read_timeout_s=READ_TIMEOUT_S)
    with pytest.raises(PhonePeUnavailable):
        slow.redeem("n_1")
    assert gateway.redemption_status("n_1").state == "COMPLETED"  # the debit happened; the answer was lost
    assert gateway.redeem("n_1").state == "COMPLETED"  # asking again is safe


def test_state_survives_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "phonepe" / "state.json"
    kv = FakeKeyValue(clock)
    with RecordingReceiver() as hooks:
        with served_sim(hooks, clock, path) as sim:
            gateway = sim.client(kv)
            setup(gateway)
            act(sim, "/mandates/ms_1/approve", webhook="drop")
            notify(gateway, "n_1")
        with served_sim(hooks, clock, path) as sim:
            gateway = sim.client(kv)
            assert gateway.mandate_status("ms_1").state == "ACTIVE"
            assert gateway.redemption_status("n_1").state == "NOTIFIED"
            clock.advance(PRE_DEBIT_NOTICE_S)
            assert gateway.redeem("n_1").state == "PENDING"


def test_control_inputs_are_checked(sim: Sim) -> None:
    assert sim.control("/_control/next-outcome", op="notify", outcome="pending").status_code == 400
    assert sim.control("/_control/next-outcome", op="refund", outcome="fail").status_code == 400
    assert sim.control("/_control/next-outcome", op="redeem", outcome="fail", count="x").status_code == 400
    assert sim.control("/_control/subscription-webhooks", webhook="sometimes").status_code == 400
    assert sim.control("/mandates/ms_nobody/approve").json()["code"] == "SUBSCRIPTION_NOT_FOUND"
    assert sim.control("/redemptions/n_nobody/complete").json()["code"] == "MERCHANT_ORDER_MAPPING_NOT_FOUND"
    active(sim)
    assert sim.control("/mandates/ms_1/pause", until="soon").status_code == 400
    assert sim.control("/mandates/ms_1/approve", webhook="duplicate:0").status_code == 400
    assert sim.control("/mandates/ms_1/unpause").status_code == 409
    mandate = httpx.get(f"{sim.base}/mandates/ms_1").json()
    assert mandate["mandate"]["state"] == "ACTIVE"
    assert [o["merchant_order_id"] for o in mandate["orders"]] == ["so_ms_1"]
    stats = httpx.get(f"{sim.base}/_control/stats").json()
    assert (stats["mandates"], stats["subscription_orders"]) == (1, 1)
    assert sim.control("/_control/reset").json() == {"reset": True}
    assert httpx.get(f"{sim.base}/mandates").json() == {"mandates": [], "orders": []}
