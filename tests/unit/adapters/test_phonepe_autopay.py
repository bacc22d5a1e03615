"""PhonePeClient's AutoPay calls (Subscriptions v2) over httpx.MockTransport: the paths and
bodies the official SDK sends, lenient parsing into the port's values, not-found as
``found=False``, and no blind retry of the writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from lib.adapters.phonepe import PhonePeOrderNotFound, PhonePeRejected, PhonePeUnavailable
from lib.errors import Missing
from lib.services.payments.autopay_ports import (
    SUBSCRIPTION_CALLBACKS,
    AutoPayGateway,
    AutoPayOrderStatus,
    MandateStatus,
)
from lib.testing.fakes import FakeKeyValue, ManualClock
from tests.unit.adapters.test_phonepe_client import FakePhonePe, make_client, raises, reply

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T0_MS = 1_735_689_600_000


@pytest.fixture
def gateway(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> AutoPayGateway:
    return make_client(phonepe, kv, clock)


def sent(phonepe: FakePhonePe) -> tuple[str, str, object]:
    request = phonepe.requests[-1]
    return request.method, request.url.path, json.loads(request.content) if request.content else None


# --- setup --------------------------------------------------------------------------------


def test_setup_intent_sends_the_sdks_body_and_parses_the_answer(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script(
        "POST /subscriptions/v2/setup",
        reply(
            200, {"orderId": "OMO1", "state": "PENDING", "expireAt": T0_MS, "intentUrl": "upi://mandate?x", "new": 1}
        ),
    )
    result = gateway.setup_mandate(
        merchant_order_id="so_1",
        merchant_subscription_id="ms_1",
        amount_paise=100,
        max_amount_paise=99900,
        frequency="MONTHLY",
        amount_type="VARIABLE",
        auth_workflow_type="TRANSACTION",
        target_app="com.phonepe.app",
    )
    assert (result.phonepe_order_id, result.state, result.expire_at) == ("OMO1", "PENDING", T0)
    assert (result.intent_url, result.redirect_url) == ("upi://mandate?x", None)
    assert sent(phonepe) == (
        "POST",
        "/apis/pg-sandbox/subscriptions/v2/setup",
        {
            "merchantOrderId": "so_1",
            "amount": 100,
            "paymentFlow": {
                "type": "SUBSCRIPTION_SETUP",
                "merchantSubscriptionId": "ms_1",
                "authWorkflowType": "TRANSACTION",
                "amountType": "VARIABLE",
                "maxAmount": 99900,
                "frequency": "MONTHLY",
                "paymentMode": {"type": "UPI_INTENT", "targetApp": "com.phonepe.app"},
            },
        },
    )
    assert phonepe.requests[-1].headers["authorization"] == "O-Bearer tok-1"


def test_setup_collect_with_expiries_and_meta(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script("POST /subscriptions/v2/setup", reply(200, {"orderId": "OMO2", "state": "PENDING"}))
    result = gateway.setup_mandate(
        merchant_order_id="so_2",
        merchant_subscription_id="ms_2",
        amount_paise=200,
        max_amount_paise=200,
        frequency="ON_DEMAND",
        amount_type="FIXED",
        auth_workflow_type="PENNY_DROP",
        mandate_expire_at=datetime(2030, 1, 1, tzinfo=UTC),
        order_expire_at=T0,
        meta_info={"udf1": "ws_1"},
        vpa="someone@ybl",
    )
    assert (result.state, result.expire_at, result.intent_url) == ("PENDING", None, None)
    _, _, body = sent(phonepe)
    assert body == {
        "merchantOrderId": "so_2",
        "amount": 200,
        "expireAt": T0_MS,
        "metaInfo": {"udf1": "ws_1"},
        "paymentFlow": {
            "type": "SUBSCRIPTION_SETUP",
            "merchantSubscriptionId": "ms_2",
            "authWorkflowType": "PENNY_DROP",
            "amountType": "FIXED",
            "maxAmount": 200,
            "frequency": "ON_DEMAND",
            "expireAt": 1_893_456_000_000,
            "paymentMode": {"type": "UPI_COLLECT", "details": {"type": "VPA", "vpa": "someone@ybl"}},
        },
    }


@pytest.mark.parametrize("status", [401, 500, 503, 429])
def test_writes_are_never_retried(phonepe: FakePhonePe, gateway: AutoPayGateway, status: int) -> None:
    for key in ("POST /subscriptions/v2/setup", "POST /subscriptions/v2/notify", "POST /subscriptions/v2/redeem"):
        phonepe.script(key, reply(status, {"code": "INTERNAL_SERVER_ERROR"}))
    phonepe.script("POST /subscriptions/v2/ms_1/cancel", reply(status))
    calls = [
        lambda: gateway.setup_mandate(
            merchant_order_id="so",
            merchant_subscription_id="ms",
            amount_paise=100,
            max_amount_paise=100,
            frequency="DAILY",
            amount_type="FIXED",
            auth_workflow_type="TRANSACTION",
        ),
        lambda: gateway.notify_redemption(merchant_order_id="n", merchant_subscription_id="ms", amount_paise=100),
        lambda: gateway.redeem("n"),
        lambda: gateway.cancel_mandate("ms_1"),
    ]
    for call in calls:
        with pytest.raises(PhonePeUnavailable):
            call()
    for path in ("/setup", "/notify", "/redeem", "/cancel"):
        assert phonepe.count(path) == 1, path


# --- mandate status -------------------------------------------------------------------------


def test_mandate_status_is_parsed_into_the_port_value(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script(
        "GET /subscriptions/v2/ms_1/status",
        reply(
            200,
            {
                "merchantSubscriptionId": "ms_1",
                "subscriptionId": "OMS1",
                "state": "paused",
                "authWorkflowType": "TRANSACTION",
                "amountType": "VARIABLE",
                "maxAmount": "99900",
                "frequency": "SOME_NEW_FREQUENCY",
                "expireAt": T0_MS,
                "pauseStartDate": T0_MS,
                "pauseEndDate": T0_MS + 86_400_000,
                "productType": "UPI_MANDATE",
            },
        ),
    )
    status = gateway.mandate_status("ms_1")
    assert status == MandateStatus(
        found=True,
        merchant_subscription_id="ms_1",
        subscription_id="OMS1",
        state="PAUSED",
        auth_workflow_type="TRANSACTION",
        amount_type="VARIABLE",
        max_amount_paise=99900,
        frequency="SOME_NEW_FREQUENCY",
        expire_at=T0,
        pause_start=T0,
        pause_end=datetime(2025, 1, 2, tzinfo=UTC),
    )
    assert sent(phonepe)[:2] == ("GET", "/apis/pg-sandbox/subscriptions/v2/ms_1/status")


@pytest.mark.parametrize("code", ["SUBSCRIPTION_NOT_FOUND", "MERCHANT_ORDER_MAPPING_NOT_FOUND"])
def test_an_unknown_subscription_is_not_found(phonepe: FakePhonePe, gateway: AutoPayGateway, code: str) -> None:
    phonepe.script("GET /subscriptions/v2/nope/status", reply(400, {"code": code, "message": "No subscription"}))
    assert gateway.mandate_status("nope") == MandateStatus(found=False)


def test_mandate_status_401_is_retried_once_with_a_new_token(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script("GET /subscriptions/v2/ms_1/status", reply(401), reply(200, {"state": "ACTIVE"}))
    status = gateway.mandate_status("ms_1")
    assert (status.found, status.state, status.merchant_subscription_id, status.pause_start) == (
        True,
        "ACTIVE",
        "ms_1",
        None,
    )
    assert phonepe.count("/oauth/token") == 2


def test_subscription_ids_are_escaped_in_paths(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    gateway.mandate_status("a/../b")
    assert phonepe.requests[-1].url.raw_path == b"/apis/pg-sandbox/subscriptions/v2/a%2F..%2Fb/status"
    gateway.cancel_mandate("a/b")
    assert phonepe.requests[-1].url.raw_path == b"/apis/pg-sandbox/subscriptions/v2/a%2Fb/cancel"
    gateway.redemption_status("o/1")
    assert phonepe.requests[-1].url.raw_path == b"/apis/pg-sandbox/subscriptions/v2/order/o%2F1/status"


# --- notify and redeem ------------------------------------------------------------------------


def test_notify_sends_the_redemption_flow(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script("POST /subscriptions/v2/notify", reply(200, {"orderId": "OMO3", "state": "PENDING"}))
    phonepe.script("POST /subscriptions/v2/notify", reply(200, {"orderId": "OMO4", "expireAt": T0_MS}))
    notice = gateway.notify_redemption(merchant_order_id="n_1", merchant_subscription_id="ms_1", amount_paise=49900)
    assert (notice.phonepe_order_id, notice.state, notice.expire_at) == ("OMO3", "PENDING", None)
    assert sent(phonepe) == (
        "POST",
        "/apis/pg-sandbox/subscriptions/v2/notify",
        {
            "merchantOrderId": "n_1",
            "amount": 49900,
            "paymentFlow": {
                "type": "SUBSCRIPTION_REDEMPTION",
                "merchantSubscriptionId": "ms_1",
                "redemptionRetryStrategy": "STANDARD",
                "autoDebit": False,
            },
        },
    )
    notice = gateway.notify_redemption(
        merchant_order_id="n_2",
        merchant_subscription_id="ms_1",
        amount_paise=100,
        expire_at=T0,
        retry_strategy="CUSTOM",
        auto_debit=True,
        meta_info={"udf2": "cycle-3"},
    )
    assert (notice.state, notice.expire_at) == ("PENDING", T0)  # PhonePe left the state out: still pending
    _, _, body = sent(phonepe)
    assert body == {
        "merchantOrderId": "n_2",
        "amount": 100,
        "expireAt": T0_MS,
        "metaInfo": {"udf2": "cycle-3"},
        "paymentFlow": {
            "type": "SUBSCRIPTION_REDEMPTION",
            "merchantSubscriptionId": "ms_1",
            "redemptionRetryStrategy": "CUSTOM",
            "autoDebit": True,
        },
    }


def test_redeem_sends_only_the_order_id(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script("POST /subscriptions/v2/redeem", reply(200, {"transactionId": "OM9", "state": "PENDING"}))
    result = gateway.redeem("n_1")
    assert (result.transaction_id, result.state) == ("OM9", "PENDING")
    assert sent(phonepe) == ("POST", "/apis/pg-sandbox/subscriptions/v2/redeem", {"merchantOrderId": "n_1"})


def test_a_refused_redemption_is_rejected_with_phonepes_code(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script("POST /subscriptions/v2/redeem", reply(400, {"code": "BAD_REQUEST", "message": "Too early"}))
    phonepe.script("POST /subscriptions/v2/redeem", reply(400, {"code": "MERCHANT_ORDER_MAPPING_NOT_FOUND"}))
    with pytest.raises(PhonePeRejected) as err:
        gateway.redeem("n_1")
    assert (err.value.code, err.value.status) == ("BAD_REQUEST", 400)
    assert "Too early" in str(err.value)
    with pytest.raises(PhonePeOrderNotFound) as missing:
        gateway.redeem("nope")
    assert isinstance(missing.value, Missing)


# --- order status and cancel ------------------------------------------------------------------


def test_redemption_status_reads_the_redemption_flow(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script(
        "GET /subscriptions/v2/order/n_1/status",
        reply(
            200,
            {
                "merchantId": "MID",
                "merchantOrderId": "n_1",
                "orderId": "OMO5",
                "state": "FAILED",
                "amount": 49900,
                "expireAt": T0_MS,
                "errorCode": "PAYMENT_DECLINED",
                "detailedErrorCode": "ZM",
                "metaInfo": {"udf1": "ws"},
                "paymentFlow": {
                    "type": "SUBSCRIPTION_REDEMPTION",
                    "merchantSubscriptionId": "ms_1",
                    "redemptionRetryStrategy": "STANDARD",
                    "autoDebit": False,
                    "validAfter": T0_MS + 86_400_000,
                    "validUpto": T0_MS + 172_800_000,
                    "notifiedAt": T0_MS,
                },
                "paymentDetails": [{"transactionId": "OM1", "paymentMode": "UPI_AUTO_PAY", "state": "FAILED"}, 7],
            },
        ),
    )
    assert gateway.redemption_status("n_1") == AutoPayOrderStatus(
        found=True,
        merchant_order_id="n_1",
        phonepe_order_id="OMO5",
        state="FAILED",
        amount_paise=49900,
        expire_at=T0,
        error_code="PAYMENT_DECLINED",
        detailed_error_code="ZM",
        payment_details=[{"transactionId": "OM1", "paymentMode": "UPI_AUTO_PAY", "state": "FAILED"}],
        meta_info={"udf1": "ws"},
        flow_type="SUBSCRIPTION_REDEMPTION",
        merchant_subscription_id="ms_1",
        subscription_id=None,
        notified_at=T0,
        valid_after=datetime(2025, 1, 2, tzinfo=UTC),
        valid_upto=datetime(2025, 1, 3, tzinfo=UTC),
    )


def test_redemption_status_of_a_setup_order_and_of_garbage(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    setup_flow = {"type": "SUBSCRIPTION_SETUP", "merchantSubscriptionId": "ms_1", "subscriptionId": "OMS1"}
    phonepe.script(
        "GET /subscriptions/v2/order/so_1/status", reply(200, {"state": "COMPLETED", "paymentFlow": setup_flow})
    )
    phonepe.script("GET /subscriptions/v2/order/x/status", reply(200, {"amount": "lots", "paymentFlow": [1]}))
    phonepe.script("GET /subscriptions/v2/order/nope/status", reply(400, {"code": "MERCHANT_ORDER_MAPPING_NOT_FOUND"}))
    setup = gateway.redemption_status("so_1")
    assert (setup.flow_type, setup.subscription_id, setup.merchant_subscription_id, setup.valid_after) == (
        "SUBSCRIPTION_SETUP",
        "OMS1",
        "ms_1",
        None,
    )
    garbage = gateway.redemption_status("x")
    assert (garbage.found, garbage.state, garbage.amount_paise, garbage.flow_type) == (True, None, None, None)
    assert gateway.redemption_status("nope") == AutoPayOrderStatus(found=False)


def test_cancel_posts_no_body_and_accepts_an_empty_answer(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script("POST /subscriptions/v2/ms_1/cancel", reply(200, text=""))
    phonepe.script("POST /subscriptions/v2/ms_1/cancel", reply(400, {"code": "BAD_REQUEST", "message": "CANCELLED"}))
    phonepe.script("POST /subscriptions/v2/nope/cancel", reply(400, {"code": "SUBSCRIPTION_NOT_FOUND"}))
    assert gateway.cancel_mandate("ms_1") is None
    assert sent(phonepe) == ("POST", "/apis/pg-sandbox/subscriptions/v2/ms_1/cancel", None)
    with pytest.raises(PhonePeRejected):
        gateway.cancel_mandate("ms_1")
    with pytest.raises(PhonePeOrderNotFound) as err:
        gateway.cancel_mandate("nope")
    assert err.value.details["code"] == "SUBSCRIPTION_NOT_FOUND"


def test_the_callback_names_follow_phonepes_pattern() -> None:
    assert len(SUBSCRIPTION_CALLBACKS) == 12
    assert SUBSCRIPTION_CALLBACKS["subscription.setup.order.completed"] == "SUBSCRIPTION_SETUP_ORDER_COMPLETED"
    assert SUBSCRIPTION_CALLBACKS["subscription.cancelled"] == "SUBSCRIPTION_CANCELLED"
    assert all(t.startswith("SUBSCRIPTION_") for t in SUBSCRIPTION_CALLBACKS.values())


def test_parse_failures_never_leak_httpx(phonepe: FakePhonePe, gateway: AutoPayGateway) -> None:
    phonepe.script("GET /subscriptions/v2/ms_1/status", reply(200, text="<html>not json</html>"))
    phonepe.script("GET /subscriptions/v2/ms_2/status", raises(httpx.ReadTimeout("slow")))
    assert gateway.mandate_status("ms_1") == MandateStatus(found=True, merchant_subscription_id="ms_1")
    with pytest.raises(PhonePeUnavailable) as err:
        gateway.mandate_status("ms_2")
    assert err.value.details["timeout"] is True
