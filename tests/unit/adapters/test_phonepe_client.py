"""PhonePeClient over httpx.MockTransport with a FakeKeyValue: the token cache and its
lock, error translation, no retry of pay, one 401 retry of reads, lenient parsing,
and no secret in the logs."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from lib.adapters.phonepe import (
    TOKEN_KEY,
    TOKEN_LOCK_KEY,
    TOKEN_REFRESH_MARGIN_S,
    PhonePeClient,
    PhonePeOrderNotFound,
    PhonePeRejected,
    PhonePeUnavailable,
)
from lib.errors import Missing, Rejected, Unavailable
from lib.services.payments.ports import PaymentGateway
from lib.testing.fakes import FakeKeyValue, ManualClock

API = "https://pp.test/apis/pg-sandbox"
TOKEN_URL = f"{API}/v1/oauth/token"
SECRET = "super-secret-client-value"
Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakePhonePe:
    """Answers like PhonePe; ``routes`` maps 'METHOD /path' to scripted handlers."""

    clock: ManualClock
    token_ttl_s: int = 3600
    requests: list[httpx.Request] = field(default_factory=list)
    routes: dict[str, list[Handler]] = field(default_factory=dict)
    issued: int = 0

    def count(self, suffix: str) -> int:
        return sum(1 for r in self.requests if r.url.path.endswith(suffix))

    def script(self, key: str, *handlers: Handler) -> None:
        self.routes.setdefault(key, []).extend(handlers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/apis/pg-sandbox")
        key = f"{request.method} {path}"
        if self.routes.get(key):
            return self.routes[key].pop(0)(request)
        if key == "POST /v1/oauth/token":
            return self.token(request)
        return httpx.Response(200, json={"orderId": "OMO1", "state": "PENDING"})

    def token(self, request: httpx.Request) -> httpx.Response:
        self.issued += 1
        now = int(self.clock.now().timestamp())
        return httpx.Response(
            200,
            json={
                "access_token": f"tok-{self.issued}",
                "encrypted_access_token": "enc",
                "expires_in": None,
                "issued_at": now,
                "expires_at": now + self.token_ttl_s,
                "session_expires_at": now + self.token_ttl_s,
                "token_type": "O-Bearer",
            },
        )


def reply(status: int, body: Any = None, text: str | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body if body is not None else {})

    return handler


def raises(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def make_client(
    phonepe: FakePhonePe, kv: FakeKeyValue | None, clock: ManualClock, sleeps: list[float] | None = None
) -> PhonePeClient:
    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return PhonePeClient(
        api_base=API,
        token_url=TOKEN_URL,
        client_id="CLIENT_1",
        client_secret=SECRET,
        client_version=1,
        kv=kv,
        http=httpx.Client(transport=httpx.MockTransport(phonepe)),
        clock=clock,
        sleep=sleep,
    )


def pay(client: PhonePeClient, mid: str = "ord_1") -> Any:
    return client.create_checkout_order(
        mid, 99900, redirect_url="https://app.test/done", expire_after_s=1200, meta_info={"udf1": "ws1"}
    )


# --- token --------------------------------------------------------------------------------


def test_token_request_is_a_form_post_and_is_reused(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    client = make_client(phonepe, kv, clock)
    for i in range(5):
        client.fetch_order_status(f"ord_{i}")
    assert phonepe.count("/oauth/token") == 1
    token_request = phonepe.requests[0]
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(token_request.content.decode())
    assert form == {
        "client_id": ["CLIENT_1"],
        "client_version": ["1"],
        "client_secret": [SECRET],
        "grant_type": ["client_credentials"],
    }
    assert all(r.headers["authorization"] == "O-Bearer tok-1" for r in phonepe.requests[1:])
    assert kv.get(TOKEN_KEY) is not None
    ttl = kv.ttl(TOKEN_KEY)
    assert ttl is not None
    assert 3500 < ttl <= 3600


def test_token_is_shared_between_instances(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    make_client(phonepe, kv, clock).fetch_order_status("ord_1")
    make_client(phonepe, kv, clock).fetch_order_status("ord_1")
    assert phonepe.count("/oauth/token") == 1


def test_token_is_refreshed_before_it_expires(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    client = make_client(phonepe, kv, clock)
    client.fetch_order_status("ord_1")
    clock.advance(3600 - TOKEN_REFRESH_MARGIN_S - 1)
    client.fetch_order_status("ord_1")
    assert phonepe.count("/oauth/token") == 1
    clock.advance(2)  # now inside the margin
    client.fetch_order_status("ord_1")
    assert phonepe.count("/oauth/token") == 2
    assert phonepe.requests[-1].headers["authorization"] == "O-Bearer tok-2"
    assert kv.get(TOKEN_LOCK_KEY) is None  # the refresher released its lock


def test_while_another_refreshes_a_still_valid_token_is_used(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    make_client(phonepe, kv, clock).fetch_order_status("ord_1")
    clock.advance(3600 - TOKEN_REFRESH_MARGIN_S + 10)  # needs a refresh, still valid
    assert kv.set_if_absent(TOKEN_LOCK_KEY, b"other-instance", ttl_s=15)
    sleeps: list[float] = []
    make_client(phonepe, kv, clock, sleeps).fetch_order_status("ord_1")
    assert phonepe.count("/oauth/token") == 1
    assert sleeps == []  # no waiting either
    assert phonepe.requests[-1].headers["authorization"] == "O-Bearer tok-1"


def test_without_a_token_a_caller_waits_for_the_refresher(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    kv.set_if_absent(TOKEN_LOCK_KEY, b"other-instance", ttl_s=15)
    sleeps: list[float] = []
    client = make_client(phonepe, kv, clock, sleeps)

    real_sleep = client._sleep

    def refresher_finishes(seconds: float) -> None:
        real_sleep(seconds)
        if len(sleeps) == 3:
            expires = clock.now().timestamp() + 3600
            kv.set(TOKEN_KEY, json.dumps({"access_token": "from-other", "expires_at": expires}).encode(), ttl_s=3600)

    client._sleep = refresher_finishes
    client.fetch_order_status("ord_1")
    assert len(sleeps) == 3
    assert phonepe.count("/oauth/token") == 0
    assert phonepe.requests[-1].headers["authorization"] == "O-Bearer from-other"


def test_a_stuck_refresher_does_not_block_forever(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    kv.set_if_absent(TOKEN_LOCK_KEY, b"crashed-instance", ttl_s=15)
    sleeps: list[float] = []
    make_client(phonepe, kv, clock, sleeps).fetch_order_status("ord_1")
    assert 0 < sum(sleeps) <= 2.5
    assert phonepe.count("/oauth/token") == 1


def test_redis_down_falls_back_to_an_in_process_token(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    kv.down = True
    client = make_client(phonepe, kv, clock)
    result = pay(client)
    assert result.order_id == "OMO1"
    client.fetch_order_status("ord_1")
    client.fetch_order_status("ord_2")
    assert phonepe.count("/oauth/token") == 1


def test_redis_down_mid_life_keeps_using_the_valid_token(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    client = make_client(phonepe, kv, clock)
    client.fetch_order_status("ord_1")
    kv.down = True
    clock.advance(3600 - TOKEN_REFRESH_MARGIN_S + 1)  # refresh due, Redis gone: token still valid
    client.fetch_order_status("ord_1")
    assert phonepe.count("/oauth/token") == 1
    clock.advance(TOKEN_REFRESH_MARGIN_S)  # now expired: fetched in process
    client.fetch_order_status("ord_1")
    assert phonepe.count("/oauth/token") == 2


def test_works_without_any_keyvalue(phonepe: FakePhonePe, clock: ManualClock) -> None:
    client = make_client(phonepe, None, clock)
    client.fetch_order_status("a")
    client.fetch_order_status("b")
    assert phonepe.count("/oauth/token") == 1


def test_bad_credentials_are_rejected(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    phonepe.script("POST /v1/oauth/token", reply(401, {"code": "INVALID_CLIENT", "message": "bad client"}))
    with pytest.raises(PhonePeRejected) as err:
        make_client(phonepe, kv, clock).fetch_order_status("ord_1")
    assert err.value.code == "INVALID_CLIENT"
    assert err.value.retryable is False


def test_token_response_without_fields_is_unavailable(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    phonepe.script("POST /v1/oauth/token", reply(200, {"token_type": "O-Bearer"}))
    with pytest.raises(PhonePeUnavailable):
        make_client(phonepe, kv, clock).fetch_order_status("ord_1")


def test_token_endpoint_timeout_is_unavailable(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    phonepe.script("POST /v1/oauth/token", raises(httpx.ConnectTimeout("slow")))
    with pytest.raises(PhonePeUnavailable) as err:
        make_client(phonepe, kv, clock).fetch_order_status("ord_1")
    assert err.value.details["timeout"] is True


# --- pay ------------------------------------------------------------------------------------


def test_pay_sends_phonepes_body_and_parses_the_answer(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    phonepe.script(
        "POST /checkout/v2/pay",
        reply(
            200,
            {
                "orderId": "OMO123",
                "state": "PENDING",
                "expireAt": 1735690800000,
                "redirectUrl": "https://pp/checkout",
                "newField": 1,
            },
        ),
    )
    client = make_client(phonepe, kv, clock)
    result = client.create_checkout_order(
        "ord_1", 99900, redirect_url="https://app/ret", expire_after_s=1200, meta_info={"udf1": "ws"}, message="Starter"
    )
    assert (result.order_id, result.state, result.expire_at_ms, result.redirect_url) == (
        "OMO123",
        "PENDING",
        1735690800000,
        "https://pp/checkout",
    )
    assert result.expire_at is not None
    assert result.expire_at.year == 2025
    request = phonepe.requests[-1]
    assert request.url.path == "/apis/pg-sandbox/checkout/v2/pay"
    assert json.loads(request.content) == {
        "merchantOrderId": "ord_1",
        "amount": 99900,
        "expireAfter": 1200,
        "metaInfo": {"udf1": "ws"},
        "paymentFlow": {
            "type": "PG_CHECKOUT",
            "message": "Starter",
            "merchantUrls": {"redirectUrl": "https://app/ret"},
        },
    }


@pytest.mark.parametrize(
    "handler",
    [
        reply(500, {"code": "INTERNAL_SERVER_ERROR"}),
        reply(503, text="<html>busy</html>"),
        reply(429, {"code": "TOO_MANY_REQUESTS"}),
        raises(httpx.ReadTimeout("slow")),
        raises(httpx.ConnectError("refused")),
    ],
)
def test_pay_failures_are_unavailable_and_never_retried(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock, handler: Handler
) -> None:
    phonepe.script("POST /checkout/v2/pay", handler)
    with pytest.raises(PhonePeUnavailable) as err:
        pay(make_client(phonepe, kv, clock))
    assert isinstance(err.value, Unavailable)
    assert err.value.retryable is True
    assert err.value.__cause__ is None or isinstance(err.value.__cause__, httpx.HTTPError)
    assert phonepe.count("/checkout/v2/pay") == 1


def test_duplicate_order_is_rejected_with_phonepes_code(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    phonepe.script("POST /checkout/v2/pay", reply(400, {"code": "BAD_REQUEST", "message": "Duplicate order"}))
    with pytest.raises(PhonePeRejected) as err:
        pay(make_client(phonepe, kv, clock))
    assert isinstance(err.value, Rejected)
    assert (err.value.code, err.value.status, err.value.retryable) == ("BAD_REQUEST", 400, False)


def test_pay_401_is_not_retried_but_the_token_is_dropped(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    phonepe.script("POST /checkout/v2/pay", reply(401, {"code": "UNAUTHORIZED"}))
    client = make_client(phonepe, kv, clock)
    with pytest.raises(PhonePeUnavailable):
        pay(client)
    assert phonepe.count("/checkout/v2/pay") == 1
    assert kv.get(TOKEN_KEY) is None
    client.fetch_order_status("ord_1")  # the next call gets a fresh token
    assert phonepe.count("/oauth/token") == 2
    assert phonepe.requests[-1].headers["authorization"] == "O-Bearer tok-2"


# --- status -------------------------------------------------------------------------------


def test_status_401_refreshes_once_and_retries(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    phonepe.script("GET /checkout/v2/order/ord_1/status", reply(401), reply(200, {"state": "COMPLETED", "amount": 1}))
    status = make_client(phonepe, kv, clock).fetch_order_status("ord_1")
    assert status.state == "COMPLETED"
    assert phonepe.count("/oauth/token") == 2
    assert [r.headers["authorization"] for r in phonepe.requests if r.url.path.endswith("/status")] == [
        "O-Bearer tok-1",
        "O-Bearer tok-2",
    ]


def test_status_401_twice_gives_up(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    phonepe.script("GET /checkout/v2/order/ord_1/status", reply(401), reply(401))
    with pytest.raises(PhonePeRejected) as err:
        make_client(phonepe, kv, clock).fetch_order_status("ord_1")
    assert err.value.status == 401
    assert phonepe.count("/status") == 2


def test_unknown_order_is_not_found(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    phonepe.script(
        "GET /checkout/v2/order/nope/status",
        reply(404, {"code": "MERCHANT_ORDER_MAPPING_NOT_FOUND", "message": "No order"}),
    )
    with pytest.raises(PhonePeOrderNotFound) as err:
        make_client(phonepe, kv, clock).fetch_order_status("nope")
    assert isinstance(err.value, Missing)


def test_status_is_parsed_leniently(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    body = {
        "orderId": "OMO9",
        "state": "SOME_NEW_STATE",
        "amount": "99900",
        "expireAt": 1735690800000,
        "errorCode": None,
        "metaInfo": {"udf1": "ws1"},
        "paymentDetails": [{"transactionId": "T1", "paymentMode": "FUTURE_MODE", "extra": [1]}, "junk", 3],
        "brandNewTopLevel": {"x": 1},
    }
    phonepe.script("GET /checkout/v2/order/ord_9/status", reply(200, body))
    status = make_client(phonepe, kv, clock).fetch_order_status("ord_9")
    assert (status.order_id, status.state, status.amount) == ("OMO9", "SOME_NEW_STATE", 99900)
    assert status.payment_details == [{"transactionId": "T1", "paymentMode": "FUTURE_MODE", "extra": [1]}]
    assert status.meta_info == {"udf1": "ws1"}
    assert status.raw["brandNewTopLevel"] == {"x": 1}
    query = parse_qs(phonepe.requests[-1].url.query.decode())
    assert query == {"details": ["false"], "errorContext": ["false"]}
    assert phonepe.requests[-1].headers["content-type"] == "application/json"  # as PhonePe's SDK sends it


def test_an_unknown_order_answered_400_with_its_code_is_not_found(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    """PhonePe answers an unknown merchantOrderId with 400 and MERCHANT_ORDER_MAPPING_NOT_FOUND."""
    phonepe.script(
        "GET /checkout/v2/order/nope/status",
        reply(400, {"code": "MERCHANT_ORDER_MAPPING_NOT_FOUND", "message": "No order"}),
    )
    with pytest.raises(PhonePeOrderNotFound):
        make_client(phonepe, kv, clock).fetch_order_status("nope")


def test_status_with_garbage_fields_does_not_break(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    phonepe.script("GET /checkout/v2/order/ord_9/status", reply(200, {"amount": "lots", "paymentDetails": {"a": 1}}))
    status = make_client(phonepe, kv, clock).fetch_order_status("ord_9")
    assert (status.state, status.amount, status.payment_details, status.meta_info) == ("", None, [], {})


def test_status_path_is_escaped(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    make_client(phonepe, kv, clock).fetch_order_status("a/../b")
    assert phonepe.requests[-1].url.raw_path.startswith(b"/apis/pg-sandbox/checkout/v2/order/a%2F..%2Fb/status")


# --- refunds --------------------------------------------------------------------------------


def test_refund_and_refund_status(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    phonepe.script("POST /payments/v2/refund", reply(200, {"refundId": "OMR1", "amount": 500, "state": "PENDING"}))
    phonepe.script(
        "GET /payments/v2/refund/rfd_1/status",
        reply(
            200,
            {
                "merchantRefundId": "rfd_1",
                "originalMerchantOrderId": "ord_1",
                "refundId": "OMR1",
                "amount": 500,
                "state": "CONFIRMED",
                "timestamp": 1735690800000,
            },
        ),
    )
    client = make_client(phonepe, kv, clock)
    created = client.refund("rfd_1", "ord_1", 500)
    assert (created.refund_id, created.amount, created.state) == ("OMR1", 500, "PENDING")
    assert json.loads(phonepe.requests[-1].content) == {
        "merchantRefundId": "rfd_1",
        "originalMerchantOrderId": "ord_1",
        "amount": 500,
    }
    status = client.refund_status("rfd_1")
    assert (status.state, status.original_merchant_order_id, status.timestamp_ms, status.error_code) == (
        "CONFIRMED",
        "ord_1",
        1735690800000,
        None,
    )


def test_refund_status_401_is_retried_but_refund_is_not(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    phonepe.script("GET /payments/v2/refund/r/status", reply(401), reply(200, {"state": "COMPLETED"}))
    phonepe.script("POST /payments/v2/refund", reply(401))
    client = make_client(phonepe, kv, clock)
    assert client.refund_status("r").state == "COMPLETED"
    with pytest.raises(PhonePeUnavailable):
        client.refund("r2", "ord_1", 100)
    assert phonepe.count("/payments/v2/refund") == 1


# --- secrets and wiring -----------------------------------------------------------------------


def test_no_secret_or_token_reaches_the_logs(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    phonepe.script("POST /checkout/v2/pay", reply(500), raises(httpx.ReadTimeout("slow")))
    phonepe.script("GET /checkout/v2/order/o/status", reply(401), reply(200, {"state": "PENDING"}))
    client = make_client(phonepe, kv, clock)
    for _ in range(2):
        with pytest.raises(PhonePeUnavailable):
            pay(client)
    client.fetch_order_status("o")
    kv.down = True
    clock.advance(4000)
    client.fetch_order_status("o")
    assert caplog.records, "the client logs its calls"
    dumped = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (SECRET, "tok-1", "tok-2", "tok-3"):
        assert secret not in dumped
    assert SECRET not in repr(client)


def test_the_client_is_the_payment_gateway(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    """The services' PaymentGateway port, implemented by the client itself (keyword arguments in, port values out)."""
    phonepe.script(
        "POST /checkout/v2/pay",
        reply(200, {"orderId": "OMO7", "state": "PENDING", "expireAt": 1735690800000, "redirectUrl": "https://c"}),
    )
    phonepe.script("GET /checkout/v2/order/nope/status", reply(404, {"code": "MERCHANT_ORDER_MAPPING_NOT_FOUND"}))
    gateway: PaymentGateway = make_client(phonepe, kv, clock)
    result = gateway.pay(
        merchant_order_id="ord_7",
        amount_paise=99900,
        redirect_url="https://r",
        expire_after_s=900,
        meta_info={"udf1": "w"},
    )
    assert (result.phonepe_order_id, result.redirect_url) == ("OMO7", "https://c")
    assert result.expire_at is not None
    assert json.loads(phonepe.requests[-1].content)["metaInfo"] == {"udf1": "w"}
    assert gateway.order_status("nope").found is False


def test_concurrent_instances_fetch_one_token(phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock) -> None:
    """Eight instances (no shared process lock) start at once with an empty cache: the
    KeyValue lock lets one refresh while the others wait for its token."""

    def slow_token(request: httpx.Request) -> httpx.Response:
        time.sleep(0.2)
        return phonepe.token(request)

    phonepe.script("POST /v1/oauth/token", slow_token)
    clients = [
        PhonePeClient(
            api_base=API,
            token_url=TOKEN_URL,
            client_id="CLIENT_1",
            client_secret=SECRET,
            kv=kv,
            http=httpx.Client(transport=httpx.MockTransport(phonepe)),
            clock=clock,
        )
        for _ in range(8)
    ]
    barrier = threading.Barrier(len(clients))
    errors: list[BaseException] = []

    def run(client: PhonePeClient) -> None:
        barrier.wait()
        try:
            client.fetch_order_status("ord_1")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert phonepe.count("/oauth/token") == 1
    assert phonepe.count("/status") == 8


def test_the_gateway_status_is_lenient_and_unknown_orders_are_not_found(
    phonepe: FakePhonePe, kv: FakeKeyValue, clock: ManualClock
) -> None:
    """What the gateway adapter's own tests held: epoch milliseconds, amounts as text, states we do not know,
    and PhonePe's not-found code (as 404 or 400) as ``found=False``."""
    phonepe.script(
        "GET /checkout/v2/order/ord_1/status",
        reply(
            200,
            {
                "state": "something_new",
                "amount": "99900",
                "expireAt": 1_735_689_600_000,
                "metaInfo": {"udf1": "ws"},
                "extra": [1],
                "paymentDetails": [{"paymentMode": "UPI_QR"}],
            },
        ),
    )
    phonepe.script("GET /checkout/v2/order/missing/status", reply(404, {"code": "MERCHANT_ORDER_MAPPING_NOT_FOUND"}))
    phonepe.script("GET /checkout/v2/order/coded/status", reply(400, {"code": "MERCHANT_ORDER_MAPPING_NOT_FOUND"}))
    gateway: PaymentGateway = make_client(phonepe, kv, clock)
    status = gateway.order_status("ord_1")
    assert status.found
    assert status.state == "SOMETHING_NEW"
    assert status.amount_paise == 99900
    assert status.meta_info == {"udf1": "ws"}
    assert status.expire_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert status.payment_details == [{"paymentMode": "UPI_QR"}]
    assert not gateway.order_status("missing").found
    assert not gateway.order_status("coded").found
