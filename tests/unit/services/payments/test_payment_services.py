"""Payment services against in-memory fakes: state machine, webhook rules, ladder, outbox."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from lib import ops_events
from lib.domain import payments as domain
from lib.domain.payments import add_months, next_check_delay, webhook_authorization, webhook_authorization_ok
from lib.errors import AppError, BadRequest, NotFound, ServiceUnavailable, Unauthorized, Unprocessable
from lib.services.payments import deps as deps_module
from lib.services.payments import grants, initiate, outbox, scheduling, settlement
from lib.services.payments import webhook as webhook_service
from lib.services.payments.deps import PaymentConfig, PaymentDeps
from lib.services.payments.emails import failure_reason, render_confirmed, render_failed, rupees
from lib.services.payments.initiate import InitiateCommand, initiate_payment
from lib.services.payments.ports import GatewayStatus
from lib.services.payments.reconcile import (
    ReconcileCommand,
    parse_reconcile,
    reconcile_order,
    relay_outbox,
    sweep_stale_orders,
)
from lib.services.payments.status import StatusQuery, get_payment_status
from lib.services.payments.webhook import WebhookCommand, apply_webhook
from lib.testing.fake_payments import FakeGateway, FakeMailer, FakePayments, FakePaymentsUnit
from lib.testing.fakes import FakeKeyValue, FakeTaskQueue, ManualClock

USER, PASSWORD = "hookuser", "hookpass123"
HEADER = webhook_authorization(USER, PASSWORD)


@dataclass
class World:
    deps: PaymentDeps
    repo: FakePayments
    gateway: FakeGateway
    tasks: FakeTaskQueue
    mailer: FakeMailer
    kv: FakeKeyValue
    clock: ManualClock
    user_id: str
    workspace_id: str

    def initiate(self, plan: str = "starter", period: str = "monthly") -> dict[str, Any]:
        body, status = initiate_payment(InitiateCommand(self.user_id, self.workspace_id, plan, period), deps=self.deps)
        assert status == 201
        return body

    def webhook(self, mid: str, state: str = "COMPLETED", header: str | None = HEADER, **extra: Any) -> dict[str, Any]:
        event = "checkout.order.completed" if state == "COMPLETED" else "checkout.order.failed"
        payload = {"merchantOrderId": mid, "state": state, "amount": extra.pop("amount", 99900), **extra}
        raw = json.dumps({"event": event, "payload": payload}).encode()
        return apply_webhook(WebhookCommand(raw, header), deps=self.deps)


@pytest.fixture
def world() -> World:
    clock = ManualClock()
    repo, gateway, tasks, mailer, kv = (
        FakePayments(clock),
        FakeGateway(clock),
        FakeTaskQueue(),
        FakeMailer(),
        FakeKeyValue(clock),
    )
    user_id, workspace_id = repo.add_user("ada@example.com", "Ada <script>")
    config = PaymentConfig("http://fn.local", "http://app.local", "payment-reconcile", USER, PASSWORD, 1200)
    deps = PaymentDeps(
        repo=repo,
        unit=lambda: FakePaymentsUnit(repo),
        gateway=gateway,
        tasks=tasks,
        mailer=mailer,
        clock=clock,
        config=config,
        kv=kv,
    )
    return World(deps, repo, gateway, tasks, mailer, kv, clock, user_id, workspace_id)


# ------------------------------------------------------------ initiate ----


def test_initiate_prices_from_plans_and_schedules_reconciliation(world: World) -> None:
    body = world.initiate("growth", "annual")
    assert body["amount"] == 2499000
    assert body["state"] == "PENDING"
    assert body["currency"] == "INR"
    assert body["checkout_url"].endswith(body["merchant_order_id"])
    assert world.gateway.orders[body["merchant_order_id"]]["amount"] == 2499000
    (task,) = world.tasks.tasks
    assert task.url == "http://fn.local/payment_reconcile/"
    assert task.payload == {"merchant_order_id": body["merchant_order_id"], "step": 0, "chain": "pay", "elapsed_s": 20}
    assert task.delay_s == 20
    assert body["merchant_order_id"].startswith("ord_")
    assert domain.is_valid_merchant_id(body["merchant_order_id"])


@pytest.mark.parametrize(
    ("plan", "period", "path"),
    [("platinum", "monthly", "plan"), ("starter", "weekly", "billing_period"), (None, "monthly", "plan")],
)
def test_unknown_plan_or_period_is_422(world: World, plan: Any, period: Any, path: str) -> None:
    with pytest.raises(Unprocessable) as info:
        initiate_payment(InitiateCommand(world.user_id, world.workspace_id, plan, period), deps=world.deps)
    assert [e.path for e in info.value.errors] == [path]
    assert world.repo.orders == {}


def test_enterprise_is_422_with_contact_hint(world: World) -> None:
    with pytest.raises(Unprocessable) as info:
        initiate_payment(InitiateCommand(world.user_id, world.workspace_id, "enterprise", "monthly"), deps=world.deps)
    assert info.value.code == "plan_not_purchasable"
    assert "contact" in info.value.extra
    assert world.gateway.calls["pay"] == 0


def test_free_plan_activates_at_once(world: World) -> None:
    body, status = initiate_payment(
        InitiateCommand(world.user_id, world.workspace_id, "free", "monthly"), deps=world.deps
    )
    assert status == 200
    assert body["state"] == "COMPLETED"
    assert body["subscription"]["plan"] == "free"
    assert body["subscription"]["current_period_end"] is None
    assert world.repo.users[world.user_id]["onboarding_status"] == "payment_confirmed"
    assert world.gateway.calls["pay"] == 0
    assert world.repo.orders == {}


def test_phonepe_down_is_503_with_retry_after_and_a_reconciliation(world: World) -> None:
    world.gateway.down = True
    with pytest.raises(ServiceUnavailable) as info:
        world.initiate()
    assert info.value.headers["Retry-After"].isdigit()
    (order,) = world.repo.orders.values()
    assert order.state == "CREATED"
    assert [t.payload["merchant_order_id"] for t in world.tasks.tasks] == [order.merchant_order_id]
    # PhonePe never saw it: reconciliation fails the order once it is old enough, and never pays again.
    world.gateway.down = False
    world.clock.advance(200)
    out = reconcile_order(ReconcileCommand(order.merchant_order_id, 0), deps=world.deps)
    assert out["state"] == "FAILED"
    assert world.repo.orders[order.merchant_order_id].error_code == "ORDER_NOT_AT_GATEWAY"
    assert world.gateway.calls["pay"] == 1
    assert world.repo.outbox == {}  # it never reached PhonePe: no "payment failed" email
    assert world.mailer.sent == {}


# --------------------------------------------------------------- webhook ----


def test_webhook_completes_once_and_sends_one_email(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    for _ in range(3):
        assert world.webhook(mid)["received"] is True
    order = world.repo.orders[mid]
    assert order.state == "COMPLETED"
    sub = world.repo.subscriptions[world.workspace_id]
    assert sub.plan_id == "starter"
    assert sub.current_period_end == add_months(world.clock.now(), 1)
    assert len(world.mailer.sent) == 1
    assert len(world.repo.outbox) == 1
    (msg,) = world.mailer.sent.values()
    assert msg.idempotency_key.startswith("payment-confirmed/")
    assert "₹999.00" in msg.text
    assert "&lt;script&gt;" in msg.html
    assert "<script>" not in msg.html
    assert world.gateway.calls["order_status"] == 1  # duplicates answered from the ledger


@pytest.mark.parametrize("header", [None, "", HEADER.upper(), "x" + HEADER[1:], f"SHA256 {HEADER}", HEADER + " "])
def test_bad_header_is_401_and_records_nothing(world: World, header: str | None) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    with pytest.raises(Unauthorized) as info:
        world.webhook(mid, header=header)
    assert info.value.code == "webhook_unauthorized"
    assert world.repo.events == {}
    assert world.repo.orders[mid].state == "PENDING"


def test_header_check_is_exact() -> None:
    assert webhook_authorization_ok(webhook_authorization("u", "p"), "u", "p")
    assert not webhook_authorization_ok(webhook_authorization("u", "q"), "u", "p")
    assert not webhook_authorization_ok(webhook_authorization("u", "p").upper(), "u", "p")


def test_upper_cased_valid_header_is_401_and_nothing_recorded(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    assert HEADER.upper() != HEADER  # the digest has letters, so the case really differs
    with pytest.raises(Unauthorized):
        world.webhook(mid, header=HEADER.upper())
    assert world.repo.events == {}
    assert world.repo.orders[mid].state == "PENDING"
    assert world.repo.subscriptions == {}
    assert world.gateway.calls["order_status"] == 0


def test_one_implementation_of_each_rule() -> None:
    """The services and the fake use the domain's functions, not copies."""
    assert webhook_service.webhook_authorization_ok is domain.webhook_authorization_ok
    assert initiate.new_merchant_order_id is domain.new_merchant_order_id
    for name in ("ladder_delay", "expected_webhook_header", "EXPIRY_GRACE_S", "LADDER_TAIL_S"):
        for module in (deps_module, scheduling, settlement, outbox):
            assert not hasattr(module, name), name
    import lib.testing.fake_payments as fake

    for name in ("ALLOWED", "add_months", "PERIOD_MONTHS"):
        assert not hasattr(fake, name), name


def test_malformed_body_with_valid_header_is_400_and_recorded(world: World) -> None:
    with pytest.raises(BadRequest):
        apply_webhook(WebhookCommand(b"{not json", HEADER), deps=world.deps)
    (row,) = world.repo.events.values()
    assert row["event"].valid is False
    assert row["event"].raw_body == "{not json"
    assert row["outcome"] == "malformed"


def test_amount_mismatch_is_not_granted(world: World, caplog: pytest.LogCaptureFixture) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.status_override[mid] = GatewayStatus(True, "COMPLETED", 100, {"udf1": world.workspace_id})
    with caplog.at_level(logging.ERROR):
        world.webhook(mid)
    assert [getattr(r, "event", None) for r in caplog.records].count(ops_events.PAYMENT_MISMATCH) == 1
    order = world.repo.orders[mid]
    assert order.state == "PENDING"
    assert order.error_code == "AMOUNT_MISMATCH"
    assert world.repo.subscriptions == {}
    assert world.mailer.sent == {}


def test_other_workspace_in_meta_is_not_granted(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.status_override[mid] = GatewayStatus(True, "COMPLETED", 99900, {"udf1": "someone-else"})
    world.webhook(mid)
    assert world.repo.orders[mid].state == "PENDING"
    assert world.repo.subscriptions == {}


def test_webhook_body_is_only_a_hint(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]  # PhonePe still says PENDING
    world.webhook(mid, "COMPLETED")
    assert world.repo.orders[mid].state == "PENDING"
    assert world.repo.subscriptions == {}


def test_completed_after_failed_is_needs_review_with_error_log(world: World, caplog: pytest.LogCaptureFixture) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.fail(mid)
    world.webhook(mid, "FAILED")
    assert world.repo.orders[mid].state == "FAILED"
    world.gateway.complete(mid)
    with caplog.at_level(logging.ERROR):
        world.webhook(mid, "COMPLETED")
        world.webhook(mid, "COMPLETED")
    assert world.repo.orders[mid].state == "NEEDS_REVIEW"
    assert world.repo.subscriptions == {}
    # The failure's email only: the late payment sends no confirmation.
    assert [m.idempotency_key.split("/")[0] for m in world.mailer.sent.values()] == ["payment-failed"]
    assert any("NEEDS_REVIEW" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    # The line the NEEDS_REVIEW alert's log-based metric counts (once per webhook that hit it).
    events = [r for r in caplog.records if getattr(r, "event", None) == ops_events.PAYMENT_NEEDS_REVIEW]
    assert len(events) >= 1
    assert {r.levelno for r in events} == {logging.ERROR}


def test_webhook_before_order_is_visible_is_not_lost(world: World) -> None:
    assert world.webhook("ord_not_yet")["received"] is True
    (task,) = world.tasks.tasks
    assert task.payload["merchant_order_id"] == "ord_not_yet"
    assert world.repo.events[("phonepe", "checkout.order.completed:ord_not_yet:COMPLETED")]["processed_at"] is None


def test_database_down_during_webhook_is_503(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.repo.down = True
    with pytest.raises(ServiceUnavailable):
        world.webhook(mid)


def test_phonepe_down_during_webhook_is_503_and_retry_applies(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    world.gateway.down = True
    with pytest.raises(ServiceUnavailable):
        world.webhook(mid)
    world.gateway.down = False
    world.webhook(mid)  # PhonePe's redelivery: the unprocessed ledger row is processed now
    assert world.repo.orders[mid].state == "COMPLETED"


# ------------------------------------------------------- payment failed ----


def test_failed_payment_sends_one_payment_failed_email(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.fail(mid)
    for _ in range(3):  # PhonePe's redeliveries of the same event
        assert world.webhook(mid, "FAILED")["received"] is True
    order = world.repo.orders[mid]
    assert order.state == "FAILED"
    assert order.error_code == "PAYMENT_DECLINED"
    (row,) = world.repo.outbox.values()
    assert row["kind"] == "payment-failed"
    assert row["idempotency_key"] == f"payment-failed/{row['id']}"
    assert row["status"] == "sent"
    assert row["payload"]["reason"] == failure_reason("PAYMENT_DECLINED")
    assert row["payload"]["retry_url"] == "http://app.local/billing"
    (msg,) = world.mailer.sent.values()
    assert msg.idempotency_key == row["idempotency_key"]
    assert msg.subject == "Payment failed: Starter plan"
    assert "₹999.00" in msg.text
    assert mid in msg.text
    assert "declined" in msg.text
    assert "http://app.local/billing" in msg.text
    assert "&lt;script&gt;" in msg.html
    assert "<script>" not in msg.html
    assert world.repo.subscriptions == {}


def test_repeated_failed_status_sends_no_second_email(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.fail(mid)
    world.webhook(mid, "FAILED")
    # A reconciliation and a status check later both see FAILED again: nothing moves, nothing is written.
    out = reconcile_order(ReconcileCommand(mid, 3), deps=world.deps)
    assert out["state"] == "FAILED"
    order = world.repo.orders[mid]
    again = settlement.apply_gateway_status(world.deps, order, world.gateway.order_status(mid))
    assert again.outcome == "failed"
    assert again.outbox_id is None
    assert len(world.repo.outbox) == 1
    assert len(world.mailer.sent) == 1


def test_fail_moves_once_and_only_the_mover_gets_an_email(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    first = grants.fail(world.deps, mid, error_code="X", payment_details=None, email_subject="s")
    second = grants.fail(world.deps, mid, error_code="X", payment_details=None, email_subject="s")
    assert first[0] is not None
    assert first[0].state == "FAILED"
    assert first[1] is not None
    assert second == (None, None)
    assert len(world.repo.outbox) == 1


def test_failed_with_an_unknown_code_has_no_reason_line(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.status_override[mid] = GatewayStatus(
        found=True, state="FAILED", amount_paise=99900, error_code="SOMETHING_NEW"
    )
    world.webhook(mid, "FAILED")
    (msg,) = world.mailer.sent.values()
    assert "did not go through.\n" in msg.text
    assert world.repo.orders[mid].error_code == "SOMETHING_NEW"


def test_expired_unpaid_reported_as_failed_is_expired_without_email(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.clock.advance(1200 + 5)
    world.gateway.status_override[mid] = GatewayStatus(
        found=True, state="FAILED", amount_paise=99900, error_code="TXN_NOT_COMPLETED"
    )
    out = reconcile_order(ReconcileCommand(mid, 40), deps=world.deps)
    assert out["state"] == "EXPIRED"
    assert world.repo.outbox == {}
    assert world.mailer.sent == {}


def test_not_completed_before_expiry_is_a_failure_with_email(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.status_override[mid] = GatewayStatus(
        found=True, state="FAILED", amount_paise=99900, error_code="TXN_NOT_COMPLETED"
    )
    world.webhook(mid, "FAILED")
    assert world.repo.orders[mid].state == "FAILED"
    (msg,) = world.mailer.sent.values()
    assert "not completed" in msg.text


def test_expired_order_sends_no_email(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.clock.advance(1200 + 120)
    assert reconcile_order(ReconcileCommand(mid, 40), deps=world.deps)["state"] == "EXPIRED"
    world.gateway.fail(mid)  # a FAILED after EXPIRED never moves it back, nor writes mail
    world.webhook(mid, "FAILED")
    assert world.repo.orders[mid].state == "EXPIRED"
    assert world.repo.outbox == {}


def test_failed_email_goes_to_the_sweep_when_resend_is_down(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.fail(mid)
    world.mailer.fail_next = 1
    world.webhook(mid, "FAILED")
    assert world.mailer.sent == {}
    world.clock.advance(outbox.outbox_backoff(1) + 1)
    assert relay_outbox(deps=world.deps) == {"claimed": 1, "sent": 1, "failed": 0, "pending": 0, "oldest_age_s": 0}
    (msg,) = world.mailer.sent.values()
    assert msg.idempotency_key.startswith("payment-failed/")


# ------------------------------------------------------------ reconcile ----


def test_dropped_webhook_reconciliation_completes(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    out = reconcile_order(ReconcileCommand(mid, 0, elapsed_s=20), deps=world.deps)
    assert out["state"] == "PENDING"
    assert out["next_step"] == 1
    assert world.tasks.tasks[-1].delay_s == next_check_delay(20) == 3
    assert world.tasks.tasks[-1].payload["elapsed_s"] == 23
    world.gateway.complete(mid)
    out = reconcile_order(ReconcileCommand(mid, 1, elapsed_s=23), deps=world.deps)
    assert out["state"] == "COMPLETED"
    assert out["next_step"] is None
    assert len(world.mailer.sent) == 1


def test_reconcile_expires_after_expire_at(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.clock.advance(1200 + 120)
    out = reconcile_order(ReconcileCommand(mid, 40), deps=world.deps)
    assert out["state"] == "EXPIRED"
    assert out["next_step"] is None


def test_reconcile_finds_the_order_that_appeared_later(world: World) -> None:
    world.webhook("ord_late")
    first = reconcile_order(ReconcileCommand("ord_late", 0, "wh"), deps=world.deps)
    assert first["outcome"] == "order_unknown"
    assert first["next_step"] == 1


def test_reconcile_follows_the_domain_ladder(world: World) -> None:
    """Running every task the chain queues walks exactly ``reconciliation_delays`` (the ladder in docs/phonepe.md)."""
    world.initiate()
    delays: list[float] = []
    task = world.tasks.tasks[-1]
    while len(delays) < 40:
        delays.append(task.delay_s or 0)
        world.clock.advance(task.delay_s or 0)
        before = len(world.tasks.tasks)
        out = reconcile_order(parse_reconcile(dict(task.payload)), deps=world.deps)
        if out["next_step"] is None or len(world.tasks.tasks) == before:
            break
        task = world.tasks.tasks[-1]
    assert delays == domain.reconciliation_delays(1200)[: len(delays)]
    assert delays[:3] == [20, 3, 3]


def test_reconcile_without_elapsed_uses_time_since_creation(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.clock.advance(60)
    reconcile_order(ReconcileCommand(mid, 3), deps=world.deps)
    assert world.tasks.tasks[-1].delay_s == next_check_delay(60) == 6


def test_parse_reconcile_rejects_garbage() -> None:
    with pytest.raises(BadRequest):
        parse_reconcile({"step": 1})
    assert parse_reconcile({"merchant_order_id": "a", "step": 2}) == ReconcileCommand("a", 2, "pay")


def test_sweep_requeues_stale_open_orders(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.tasks.take()
    world.clock.advance(600)
    assert sweep_stale_orders(deps=world.deps) == {"stale": 1, "queued": 1}
    assert world.tasks.tasks[0].payload["merchant_order_id"] == mid


# ---------------------------------------------------------------- status ----


def test_status_is_owner_only(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    with pytest.raises(NotFound):
        get_payment_status(StatusQuery("someone-else", mid), deps=world.deps)
    with pytest.raises(NotFound):
        get_payment_status(StatusQuery(world.user_id, "ord_missing"), deps=world.deps)


def test_status_checks_phonepe_when_stale_rate_limited(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    fresh = get_payment_status(StatusQuery(world.user_id, mid), deps=world.deps)
    assert fresh["state"] == "PENDING"
    assert fresh["poll_after_ms"] > 0
    assert world.gateway.calls["order_status"] == 0
    world.clock.advance(11)
    done = get_payment_status(StatusQuery(world.user_id, mid), deps=world.deps)
    assert done["state"] == "COMPLETED"
    assert done["subscription"]["status"] == "active"
    assert done["poll_after_ms"] == 0
    assert len(world.mailer.sent) == 1


def test_status_live_check_once_per_interval(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.clock.advance(11)
    world.repo.touch_checked = lambda _mid: None  # type: ignore[method-assign]  # keep the order stale
    for _ in range(5):
        get_payment_status(StatusQuery(world.user_id, mid), deps=world.deps)
    assert world.gateway.calls["order_status"] == 1


# ---------------------------------------------------------------- outbox ----


def test_resend_timing_out_once_still_one_email(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    world.mailer.fail_next = 1
    world.webhook(mid)
    assert world.mailer.sent == {}
    (row,) = world.repo.outbox.values()
    assert row["status"] == "pending"
    assert row["last_error"]
    world.clock.advance(61)
    assert relay_outbox(deps=world.deps) == {"claimed": 1, "sent": 1, "failed": 0, "pending": 0, "oldest_age_s": 0}
    assert relay_outbox(deps=world.deps)["claimed"] == 0
    assert len(world.mailer.sent) == 1
    assert row["status"] == "sent"


def test_rejected_email_gives_up(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    world.mailer.reject = True
    world.webhook(mid)
    (row,) = world.repo.outbox.values()
    assert row["status"] == "failed"


def test_renewal_while_active_extends_from_period_end(world: World) -> None:
    first = world.initiate()["merchant_order_id"]
    world.gateway.complete(first)
    world.webhook(first)
    end1 = world.repo.subscriptions[world.workspace_id].current_period_end
    assert end1 is not None
    world.clock.set(end1 - timedelta(days=3))  # inside the 7-day renewal window
    second = world.initiate()["merchant_order_id"]
    world.gateway.complete(second)
    world.webhook(second)
    sub = world.repo.subscriptions[world.workspace_id]
    assert sub.current_period_end == add_months(end1, 1)
    assert sub.status == "active"


def test_paying_in_the_grace_extends_from_the_old_end_and_after_it_starts_now(world: World) -> None:
    first = world.initiate()["merchant_order_id"]
    world.gateway.complete(first)
    world.webhook(first)
    end1 = world.repo.subscriptions[world.workspace_id].current_period_end
    assert end1 is not None
    world.clock.set(end1 + timedelta(days=2))  # past due, in the 3-day grace
    second = world.initiate()["merchant_order_id"]
    world.gateway.complete(second)
    world.webhook(second)
    assert world.repo.subscriptions[world.workspace_id].current_period_end == add_months(end1, 1)
    end2 = add_months(end1, 1)
    world.clock.set(end2 + timedelta(days=10))  # expired
    third = world.initiate()["merchant_order_id"]
    world.gateway.complete(third)
    world.webhook(third)
    sub = world.repo.subscriptions[world.workspace_id]
    assert sub.current_period_start == world.clock.now()
    assert sub.current_period_end == add_months(world.clock.now(), 1)


def test_early_renewal_and_downgrades_or_period_switches_are_409_and_write_nothing(world: World) -> None:
    first = world.initiate("growth")["merchant_order_id"]
    world.gateway.complete(first)
    world.webhook(first, amount=249900)
    orders = dict(world.repo.orders)
    for plan, period, code in [
        ("growth", "monthly", "renewal_not_open"),
        ("growth", "annual", "plan_change_not_available"),
        ("starter", "monthly", "plan_change_not_available"),
    ]:
        with pytest.raises(AppError) as err:
            world.initiate(plan, period)
        assert err.value.status == 409
        assert err.value.code == code
    assert world.repo.orders == orders


def test_an_upgrade_mid_period_takes_effect_at_once_and_charges_less_the_unused_days(world: World) -> None:
    first = world.initiate()["merchant_order_id"]
    world.gateway.complete(first)
    world.webhook(first)
    old = world.repo.subscriptions[world.workspace_id]
    assert old.current_period_end is not None
    half = old.current_period_start + (old.current_period_end - old.current_period_start) / 2
    world.clock.set(half)
    body = world.initiate("growth")
    assert body["credit"] == 49950
    assert body["amount"] == 249900 - 49950
    mid = body["merchant_order_id"]
    world.gateway.complete(mid)
    world.webhook(mid, amount=body["amount"])
    sub = world.repo.subscriptions[world.workspace_id]
    assert (sub.plan_id, sub.status) == ("growth", "active")
    assert sub.current_period_start == half
    assert sub.current_period_end == add_months(half, 1)
    order = world.repo.orders[mid]
    assert order.amount_paise + order.credit_paise == 249900  # the ledger adds up to the list price


def test_rupees_and_template() -> None:
    assert rupees(99900) == "₹999.00"
    assert rupees(2499000) == "₹24,990.00"
    assert rupees(5) == "₹0.05"
    out = render_confirmed(
        "Payment confirmed",
        {
            "plan_name": "Starter",
            "amount_paise": 99900,
            "merchant_order_id": "ord_1",
            "next_billing_date": "2025-02-01",
            "workspace_name": "<b>Acme</b>",
        },
    )
    assert "&lt;b&gt;Acme&lt;/b&gt;" in out.html
    assert "<b>Acme</b>" in out.text
    assert "2025-02-01" in out.html


def test_failed_template_escapes_and_explains() -> None:
    out = render_failed(
        "Payment failed",
        {
            "plan_name": "Starter",
            "amount_paise": 99900,
            "merchant_order_id": "ord_1",
            "workspace_name": "<b>Acme</b>",
            "full_name": "A & B",
            "reason": failure_reason("payment_declined"),
            "retry_url": 'https://app.example/billing"><script>',
        },
    )
    assert "&lt;b&gt;Acme&lt;/b&gt;" in out.html
    assert "A &amp; B" in out.html
    assert "<script>" not in out.html
    assert "<b>Acme</b>" in out.text
    assert "₹999.00" in out.text
    assert "ord_1" in out.html
    assert "declined" in out.html
    assert failure_reason(None) is None


@pytest.mark.parametrize(
    ("code", "detailed", "words"),
    [
        ("INSUFFICIENT_BALANCE", None, "not enough balance"),
        ("BANK_TECHNICAL_ISSUE", None, "technical problem"),
        ("PAYMENT_ERROR", "ZM", "UPI PIN"),  # the detailed code says more
        ("PAYMENT_ERROR", "NOT_A_CODE", "could not process"),
        ("invalid_mpin", None, "UPI PIN"),
    ],
)
def test_phonepe_s_documented_failure_codes_get_a_reason(code: str, detailed: str | None, words: str) -> None:
    reason = failure_reason(code, detailed)
    assert reason is not None
    assert words in reason


def test_an_unknown_failure_code_gets_no_reason() -> None:
    assert failure_reason("SOMETHING_NEW", "ALSO_NEW") is None


def test_add_months_clamps() -> None:
    base = ManualClock().now().replace(month=1, day=31)
    assert add_months(base, 1).day == 28
    assert add_months(base, 12).year == base.year + 1
    assert add_months(base, 1) - base == timedelta(days=28)


def test_an_email_that_fails_schedules_the_outbox_relay_when_due(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    world.mailer.fail_next = 1
    world.webhook(mid)
    (row,) = world.repo.outbox.values()
    (task,) = world.tasks.in_queue("outbox-relay")
    assert task.url == "http://fn.local/maintenance/sweep-outbox"
    assert task.payload == {"outbox_id": row["id"]}
    assert task.delay_s == outbox.outbox_backoff(1)
    world.clock.advance(task.delay_s + 1)
    assert relay_outbox(deps=world.deps) == {"claimed": 1, "sent": 1, "failed": 0, "pending": 0, "oldest_age_s": 0}


def test_a_rejected_email_schedules_nothing(world: World) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    world.mailer.reject = True
    world.webhook(mid)
    assert world.tasks.in_queue("outbox-relay") == []


def test_the_outbox_sweep_reports_and_logs_the_backlog_the_alert_counts(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    mid = world.initiate()["merchant_order_id"]
    world.gateway.complete(mid)
    world.mailer.fail_next = 2  # right after commit, then the first sweep
    world.webhook(mid)
    world.clock.advance(outbox.outbox_backoff(1) + 1)
    with caplog.at_level(logging.INFO):
        result = relay_outbox(deps=world.deps)
    assert (result["claimed"], result["sent"], result["failed"], result["pending"]) == (1, 0, 1, 1)
    assert result["oldest_age_s"] == pytest.approx(outbox.outbox_backoff(1) + 1)
    (line,) = [r for r in caplog.records if getattr(r, "event", None) == ops_events.OUTBOX_BACKLOG]
    assert (line.pending, line.oldest_age_s) == (1, pytest.approx(outbox.outbox_backoff(1) + 1))  # type: ignore[attr-defined]
