"""Refunds over the in-memory payments store and PhonePe: request, ladder, webhook, effects."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from lib.domain.payment_records import NewOrder
from lib.domain.payments import webhook_authorization
from lib.domain.refunds import RefundRequest
from lib.errors import AppError, Rejected
from lib.services.payments.refunds import (
    RefundCheck,
    check_refund,
    parse_refund_check,
    request_refund,
    settle_refund,
    sweep_stale_refunds,
)
from lib.services.payments.webhook import WebhookCommand, apply_webhook
from tests.unit.services.payments.payments_support import DAY, PaymentsRig


class Rig(PaymentsRig):
    def refund(self, mid: str, rid: str = "rf_1", amount: int | None = None) -> Any:
        return request_refund(RefundRequest(mid, rid, "charged twice", "ops@example.com", amount), deps=self.deps)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_full_refund_completes_refunds_the_order_ends_the_plan_and_emails_once(rig: Rig) -> None:
    mid = rig.buy()
    rig.clock.advance(5 * DAY)
    outcome = rig.refund(mid)
    assert outcome.created
    assert (outcome.refund.state, outcome.refund.amount_paise) == ("PENDING", 99900)
    assert rig.gateway.calls["start_refund"] == 1
    assert [t.name for t in rig.tasks.tasks] == ["refund-rf_1-req-0"]
    assert rig.repo.orders[mid].state == "COMPLETED"  # money not back yet: nothing taken
    rig.gateway.settle_refund("rf_1")
    assert check_refund(RefundCheck("rf_1"), deps=rig.deps) == {"state": "COMPLETED"}
    assert rig.repo.orders[mid].state == "REFUNDED"
    sub = rig.repo.subscriptions[rig.ws]
    assert sub.status == "cancelled"
    assert sub.current_period_end == rig.clock.now()
    assert sub.next_sweep_at is None
    [email] = rig.emails("refund-completed")
    assert email["idempotency_key"] == "refund-completed/rf_1"
    assert "₹999.00" in email["payload"]["paragraphs"][0]
    assert "ended" in email["payload"]["paragraphs"][2]
    # A second check, a webhook or a settle again changes nothing and sends nothing more.
    assert check_refund(RefundCheck("rf_1", step=1), deps=rig.deps) == {"state": "COMPLETED"}
    settle_refund(rig.deps, "rf_1", rig.gateway.refund_state("rf_1"))
    assert len(rig.emails("refund-completed")) == 1


def test_a_partial_refund_takes_back_its_share_of_the_time_and_keeps_the_order_completed(rig: Rig) -> None:
    mid = rig.buy()
    order = rig.repo.orders[mid]
    assert order.period_start is not None
    assert order.period_end is not None
    bought = order.period_end - order.period_start
    end_before = rig.repo.subscriptions[rig.ws].current_period_end
    assert end_before is not None
    rig.clock.advance(DAY)
    rig.refund(mid, amount=24975)  # a quarter
    rig.gateway.settle_refund("rf_1")
    check_refund(RefundCheck("rf_1"), deps=rig.deps)
    sub = rig.repo.subscriptions[rig.ws]
    assert sub.status == "active"
    assert sub.current_period_end == end_before - bought / 4
    assert rig.repo.orders[mid].state == "COMPLETED"
    # The rest, in a second refund: now all of it is back and the order is REFUNDED.
    rig.refund(mid, rid="rf_2")
    assert rig.repo.refund_rows["rf_2"].amount_paise == 99900 - 24975
    rig.gateway.settle_refund("rf_2")
    check_refund(RefundCheck("rf_2"), deps=rig.deps)
    assert rig.repo.orders[mid].state == "REFUNDED"
    assert rig.repo.subscriptions[rig.ws].status == "cancelled"


def test_a_refund_of_time_already_used_leaves_the_subscription_alone(rig: Rig) -> None:
    first = rig.buy()
    rig.clock.advance(25 * DAY)
    rig.buy()  # the renewal: extends from the first period's end
    rig.clock.advance(10 * DAY)  # the first order's month is over
    end = rig.repo.subscriptions[rig.ws].current_period_end
    rig.refund(first)
    rig.gateway.settle_refund("rf_1")
    check_refund(RefundCheck("rf_1"), deps=rig.deps)
    assert rig.repo.orders[first].state == "REFUNDED"
    assert rig.repo.subscriptions[rig.ws].current_period_end == end
    assert "unchanged" in rig.emails("refund-completed")[0]["payload"]["paragraphs"][2]


@pytest.mark.parametrize(
    ("setup", "request_", "status", "code"),
    [
        ("none", RefundRequest("ord_missing", "rf_x", "r", "ops"), 404, "order_not_found"),
        ("unpaid", RefundRequest("ord_open", "rf_x", "r", "ops"), 409, "order_not_refundable"),
        ("paid", RefundRequest("ord_0", "rf_x", "r", "ops", 99901), 422, "refund_exceeds_paid"),
        ("paid", RefundRequest("ord_0", "rf_x", "r", "ops", 0), 422, "invalid_refund"),
        ("paid", RefundRequest("ord_0", "bad id!", "r", "ops"), 422, "invalid_refund"),
        ("paid", RefundRequest("ord_0", "rf_x", "  ", "ops"), 422, "invalid_refund"),
    ],
)
def test_bad_refunds_are_refused_with_the_reason_and_write_nothing(
    rig: Rig, setup: str, request_: RefundRequest, status: int, code: str
) -> None:
    if setup == "paid":
        rig.buy()
    if setup == "unpaid":
        rig.repo.create_order(NewOrder("ord_open", rig.ws, rig.user, "starter", "monthly", 99900))
    with pytest.raises(AppError) as caught:
        request_refund(request_, deps=rig.deps)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert rig.repo.refund_rows == {}
    assert rig.gateway.calls["start_refund"] == 0


def test_the_field_is_named_when_the_amount_is_too_large(rig: Rig) -> None:
    mid = rig.buy()
    rig.refund(mid, amount=90000)
    with pytest.raises(AppError) as caught:
        rig.refund(mid, rid="rf_2", amount=9901)
    assert [e.path for e in caught.value.errors] == ["amount_paise"]
    assert "at most 9900" in caught.value.errors[0].message


def test_the_same_request_again_is_the_same_refund_and_another_use_of_its_id_is_409(rig: Rig) -> None:
    mid = rig.buy()
    rig.refund(mid, amount=100)
    again = rig.refund(mid, amount=100)
    assert not again.created
    assert len(rig.repo.refund_rows) == 1
    assert rig.gateway.calls["start_refund"] == 1  # PENDING already: PhonePe is not asked twice
    with pytest.raises(AppError) as caught:
        rig.refund(mid, amount=200)
    assert (caught.value.status, caught.value.code) == (409, "refund_id_conflict")


def test_a_fully_refunded_order_has_nothing_left_409(rig: Rig) -> None:
    mid = rig.buy()
    rig.refund(mid)
    with pytest.raises(AppError) as caught:
        rig.refund(mid, rid="rf_2")
    assert (caught.value.status, caught.value.code) == (409, "order_not_refundable")


def test_a_lost_answer_leaves_it_requested_and_the_ladder_finds_it_at_phonepe(rig: Rig) -> None:
    mid = rig.buy()
    rig.gateway.lose_next_refund_answer = True
    outcome = rig.refund(mid)
    assert outcome.refund.state == "REQUESTED"
    check_refund(RefundCheck("rf_1"), deps=rig.deps)
    assert rig.repo.refund_rows["rf_1"].state == "PENDING"
    assert rig.gateway.calls["start_refund"] == 1
    assert len(rig.gateway.refunds) == 1


def test_a_request_phonepe_never_got_is_sent_again_by_the_ladder_with_the_same_id(rig: Rig) -> None:
    mid = rig.buy()
    rig.gateway.down = True
    assert rig.refund(mid).refund.state == "REQUESTED"
    rig.gateway.down = False
    check_refund(RefundCheck("rf_1"), deps=rig.deps)
    assert rig.repo.refund_rows["rf_1"].state == "PENDING"
    assert list(rig.gateway.refunds) == ["rf_1"]
    assert [t.name for t in rig.tasks.tasks] == ["refund-rf_1-req-0", "refund-rf_1-req-1"]


def test_a_refused_refund_fails_and_gives_its_amount_back(rig: Rig) -> None:
    mid = rig.buy()
    rig.gateway.orders[mid]["state"] = "PENDING"  # PhonePe will refuse it
    assert rig.refund(mid).refund.state == "FAILED"
    rig.gateway.orders[mid]["state"] = "COMPLETED"
    assert rig.refund(mid, rid="rf_2").refund.amount_paise == 99900


def test_a_retry_refused_as_a_duplicate_follows_the_refund_phonepe_holds(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    mid = rig.buy()
    rig.gateway.lose_next_refund_answer = True
    assert rig.refund(mid).refund.state == "REQUESTED"  # PhonePe has it; we do not know

    def refuse(**_: Any) -> Any:
        raise Rejected("DUPLICATE_REFUND", "phonepe", code="BAD_REQUEST")

    monkeypatch.setattr(rig.gateway, "start_refund", refuse)
    assert rig.refund(mid).refund.state == "PENDING"  # the operator's retry: not FAILED


def test_a_refund_webhook_is_a_hint_checked_with_phonepe(rig: Rig) -> None:
    mid = rig.buy()
    rig.refund(mid)
    auth = webhook_authorization("u", "p")

    def deliver(event: str, state: str) -> None:
        body = {"event": event, "payload": {"merchantRefundId": "rf_1", "state": state}}
        assert apply_webhook(WebhookCommand(json.dumps(body).encode(), auth), deps=rig.deps) == {"received": True}

    # The webhook says COMPLETED but PhonePe's status API still says PENDING: nothing moves on its word.
    deliver("pg.refund.completed", "COMPLETED")
    assert rig.repo.refund_rows["rf_1"].state == "PENDING"
    assert rig.repo.events[("phonepe", "pg.refund.completed:rf_1:COMPLETED")]["outcome"] == "pending"
    rig.gateway.settle_refund("rf_1")
    deliver("pg.refund.accepted", "CONFIRMED")  # any later refund event is checked again
    assert rig.repo.refund_rows["rf_1"].state == "COMPLETED"
    assert rig.repo.orders[mid].state == "REFUNDED"


def test_a_webhook_for_a_refund_we_did_not_ask_for_is_kept_and_ignored(rig: Rig) -> None:
    body = {"event": "pg.refund.completed", "payload": {"merchantRefundId": "dash_1", "state": "COMPLETED"}}
    apply_webhook(WebhookCommand(json.dumps(body).encode(), webhook_authorization("u", "p")), deps=rig.deps)
    assert rig.repo.events[("phonepe", "pg.refund.completed:dash_1:COMPLETED")]["outcome"] == "ignored"
    assert rig.gateway.calls["refund_state"] == 0


def test_fifty_concurrent_settlements_send_one_email_and_end_the_plan_once(rig: Rig) -> None:
    mid = rig.buy()
    rig.refund(mid)
    rig.gateway.settle_refund("rf_1")
    answer = rig.gateway.refund_state("rf_1")
    barrier = threading.Barrier(50)

    def settle() -> None:
        barrier.wait()
        settle_refund(rig.deps, "rf_1", answer)

    threads = [threading.Thread(target=settle) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(rig.emails("refund-completed")) == 1
    assert rig.repo.orders[mid].state == "REFUNDED"


def test_the_sweep_requeues_refunds_nobody_checked_for_an_hour(rig: Rig) -> None:
    mid = rig.buy()
    rig.refund(mid)
    assert sweep_stale_refunds(deps=rig.deps) == 0
    rig.clock.advance(3601)
    assert sweep_stale_refunds(deps=rig.deps) == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"merchant_refund_id": 1}, {"merchant_refund_id": "r", "step": -1}, {"merchant_refund_id": "r", "step": True}],
)
def test_a_malformed_ladder_task_is_a_400(body: dict[str, Any]) -> None:
    with pytest.raises(AppError) as caught:
        parse_refund_check(body)
    assert caught.value.code == "bad_task"
