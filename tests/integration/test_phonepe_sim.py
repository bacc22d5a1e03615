"""The real PhonePeClient against the PhonePe simulator served over HTTP (mounted at
/_dev/phonepe as in the local suite), with webhooks sent to a recording receiver and
the token shared through a real Valkey."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from devtools.local.phonepe_sim import PhonePeSimulator, create_app
from devtools.local.services import free_port
from lib.adapters.phonepe import (
    TOKEN_KEY,
    PhonePeClient,
    PhonePeOrderNotFound,
    PhonePeRejected,
    PhonePeUnavailable,
)
from lib.adapters.redis import RedisKeyValue
from lib.config import Settings
from lib.ports import KeyValue
from lib.services.payments.ports import PaymentGateway
from lib.testing.fakes import FakeKeyValue, ManualClock
from lib.testing.receiver import RecordingReceiver

MOUNT = "/_dev/phonepe"
HOOK_USER, HOOK_PASS = "simhook", "simhook1234"
HOOK_HEADER = hashlib.sha256(f"{HOOK_USER}:{HOOK_PASS}".encode()).hexdigest()
CLIENT_ID, CLIENT_SECRET = "SIM_CLIENT", "sim-client-secret"
# The client's read timeout in these tests: a stalled simulator must fail the call this fast.
READ_TIMEOUT_S = 0.5


@dataclass
class Sim:
    app: PhonePeSimulator
    base: str  # http://127.0.0.1:<port>/_dev/phonepe
    clock: ManualClock
    hooks: RecordingReceiver

    @property
    def api(self) -> str:
        return f"{self.base}/apis/pg-sandbox"

    def client(self, kv: KeyValue | None = None, *, read_timeout_s: float = 2.0) -> PhonePeClient:
        return PhonePeClient(
            api_base=self.api,
            token_url=f"{self.api}/v1/oauth/token",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            client_version=1,
            kv=kv if kv is not None else FakeKeyValue(self.clock),
            connect_timeout_s=1.0,
            read_timeout_s=read_timeout_s,
            clock=self.clock,
        )

    def control(self, path: str, **params: Any) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", params=params, timeout=10)

    def settle(self, mid: str, action: str = "complete", **params: Any) -> dict[str, Any]:
        response = self.control(f"/orders/{mid}/{action}", **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def _serve(app: Any) -> tuple[Any, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    return server, thread


def _make_sim(hooks: RecordingReceiver, clock: ManualClock, state_path: Path | None = None) -> PhonePeSimulator:
    return create_app(
        webhook_url=f"{hooks.url}/payment_webhook/",
        webhook_username=HOOK_USER,
        webhook_password=HOOK_PASS,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        state_path=state_path,
        clock=clock,
    )


@contextlib.contextmanager
def served_sim(hooks: RecordingReceiver, clock: ManualClock, state_path: Path | None = None) -> Iterator[Sim]:
    """A simulator (keeping its state in ``state_path``, if given) served on a free port for the
    block, then stopped as a restart would stop it."""
    sim = _make_sim(hooks, clock, state_path)
    server, _ = _serve(DispatcherMiddleware(Response("not here", status=404), {MOUNT: sim}))
    try:
        yield Sim(sim, f"http://127.0.0.1:{server.server_port}{MOUNT}", clock, hooks)
    finally:
        server.shutdown()
        server.server_close()
        sim.close()


@pytest.fixture
def sim() -> Iterator[Sim]:
    with RecordingReceiver() as hooks, served_sim(hooks, ManualClock()) as served:
        yield served


@pytest.fixture
def valkey_url(own_valkey: tuple[subprocess.Popen[bytes], str]) -> str:
    return own_valkey[1]


def pay(client: PhonePeClient, mid: str, amount: int = 99900, expire_after_s: int = 1200) -> Any:
    return client.create_checkout_order(
        mid, amount, redirect_url="http://app.test/return", expire_after_s=expire_after_s, meta_info={"udf1": "ws_1"}
    )


# --- token ------------------------------------------------------------------------------------


def test_one_token_for_many_calls_shared_through_redis(sim: Sim, valkey_url: str) -> None:
    kv_a, kv_b = RedisKeyValue(valkey_url), RedisKeyValue(valkey_url)
    try:
        first, second = sim.client(kv_a), sim.client(kv_b)  # two instances, one Redis
        pay(first, "ord_tok_1")
        for _ in range(5):
            assert first.fetch_order_status("ord_tok_1").state == "PENDING"
            assert second.fetch_order_status("ord_tok_1").state == "PENDING"
        assert sim.app.calls["token"] == 1
        assert sim.app.calls["status"] == 10
        assert kv_a.get(TOKEN_KEY) is not None
    finally:
        kv_a.close()
        kv_b.close()


def test_revoked_token_is_refreshed_once_for_reads(sim: Sim) -> None:
    client = sim.client()
    pay(client, "ord_revoke")
    assert sim.control("/_control/revoke-tokens").json()["revoked"] == 1
    assert client.fetch_order_status("ord_revoke").state == "PENDING"
    assert sim.app.calls["token"] == 2


def test_bad_credentials_are_rejected(sim: Sim) -> None:
    client = PhonePeClient(
        api_base=sim.api,
        token_url=f"{sim.api}/v1/oauth/token",
        client_id=CLIENT_ID,
        client_secret="wrong",
        kv=None,
        clock=sim.clock,
    )
    with pytest.raises(PhonePeRejected) as err:
        client.fetch_order_status("x")
    assert err.value.code == "INVALID_CLIENT"


def test_token_endpoint_failure_is_unavailable(sim: Sim) -> None:
    sim.control("/_control/fail-next", op="token", mode="503")
    with pytest.raises(PhonePeUnavailable):
        sim.client().fetch_order_status("x")


# --- pay and status -------------------------------------------------------------------------


def test_pay_pending_complete_with_webhook(sim: Sim) -> None:
    client = sim.client()
    result = pay(client, "ord_happy")
    assert result.state == "PENDING"
    assert result.order_id
    assert result.order_id.startswith("OMO")
    assert result.redirect_url == f"{sim.base}/checkout/{result.order_id}"
    assert result.expire_at_ms == int(sim.clock.now().timestamp() * 1000) + 1200 * 1000

    status = client.fetch_order_status("ord_happy")
    assert (status.state, status.amount, status.payment_details) == ("PENDING", 99900, [])
    assert status.meta_info == {"udf1": "ws_1"}

    settled = sim.settle("ord_happy")
    assert settled["webhook"] == {"mode": "deliver", "sent": 1, "statuses": [200]}
    status = client.fetch_order_status("ord_happy")
    assert (status.state, status.amount, status.error_code) == ("COMPLETED", 99900, None)
    assert status.payment_details[0]["state"] == "COMPLETED"
    assert status.payment_details[0]["transactionId"]

    (hook,) = sim.hooks.wait_for(1)
    assert hook.path == "/payment_webhook/"
    assert hook.headers["Authorization"] == HOOK_HEADER
    body = json.loads(hook.body)
    assert body["event"] == "checkout.order.completed"
    assert body["payload"]["merchantOrderId"] == "ord_happy"
    assert body["payload"]["state"] == "COMPLETED"
    assert body["payload"]["amount"] == 99900


def test_failed_payment(sim: Sim) -> None:
    client = sim.client()
    pay(client, "ord_fail")
    sim.settle("ord_fail", "fail", error_code="TXN_CANCELLED")
    status = client.fetch_order_status("ord_fail")
    assert (status.state, status.error_code) == ("FAILED", "TXN_CANCELLED")
    assert json.loads(sim.hooks.wait_for(1)[0].body)["event"] == "checkout.order.failed"
    assert sim.control("/orders/ord_fail/complete").status_code == 409  # final stays final


def test_the_client_as_the_payment_gateway_reads_the_simulator(sim: Sim) -> None:
    gateway: PaymentGateway = sim.client()
    result = gateway.pay(
        merchant_order_id="ord_gw", amount_paise=99900, redirect_url="http://a/b", expire_after_s=600, meta_info={}
    )
    assert result.redirect_url
    assert result.expire_at is not None
    sim.settle("ord_gw", amount_override="100")
    status = gateway.order_status("ord_gw")
    assert (status.found, status.state, status.amount_paise) == (True, "COMPLETED", 100)  # the mismatch shows
    assert gateway.order_status("ord_missing").found is False


def test_duplicate_merchant_order_id_is_rejected(sim: Sim) -> None:
    client = sim.client()
    pay(client, "ord_dup")
    with pytest.raises(PhonePeRejected) as err:
        pay(client, "ord_dup")
    assert (err.value.code, err.value.status) == ("BAD_REQUEST", 400)
    assert sim.app.calls["pay"] == 2


def test_unknown_order_is_not_found(sim: Sim) -> None:
    with pytest.raises(PhonePeOrderNotFound):
        sim.client().fetch_order_status("ord_never")


@pytest.mark.parametrize(
    ("amount", "expire_after_s", "meta"),
    [
        (99, 1200, {}),
        (99900, 100, {}),
        (99900, 4000, {}),
        (99900, 1200, {"udf16": "x"}),
        (99900, 1200, {"udf11": "has space"}),
        (99900, 1200, {"udf2": "x" * 257}),
    ],
)
def test_pay_is_validated_like_phonepe(sim: Sim, amount: int, expire_after_s: int, meta: dict[str, str]) -> None:
    with pytest.raises(PhonePeRejected) as err:
        sim.client().create_checkout_order(
            "ord_bad", amount, redirect_url="http://a/b", expire_after_s=expire_after_s, meta_info=meta
        )
    assert err.value.code == "BAD_REQUEST"


def test_pay_rejects_a_bad_merchant_order_id(sim: Sim) -> None:
    with pytest.raises(PhonePeRejected):
        pay(sim.client(), "x" * 64)


# --- faults --------------------------------------------------------------------------------


def test_500_is_unavailable_and_the_next_call_works(sim: Sim) -> None:
    client = sim.client()
    assert sim.control("/_control/fail-next", op="status", mode="500", count=2).json()["pending"] == 2
    pay(client, "ord_500")
    for _ in range(2):
        with pytest.raises(PhonePeUnavailable) as err:
            client.fetch_order_status("ord_500")
        assert err.value.details["status"] == 500
    assert client.fetch_order_status("ord_500").state == "PENDING"


def test_pay_500_is_not_retried(sim: Sim) -> None:
    sim.control("/_control/fail-next", op="pay", mode="500")
    client = sim.client()
    with pytest.raises(PhonePeUnavailable):
        pay(client, "ord_p500")
    assert sim.app.calls["pay"] == 1
    with pytest.raises(PhonePeOrderNotFound):  # a 500 created nothing
        client.fetch_order_status("ord_p500")


def test_timeout_is_unavailable_fast_and_the_order_may_exist(sim: Sim) -> None:
    sim.control("/_control/fail-next", op="pay", mode="timeout", stall_s=10)
    client = sim.client(read_timeout_s=READ_TIMEOUT_S)
    started = time.monotonic()
    with pytest.raises(PhonePeUnavailable) as err:
        pay(client, "ord_slow")
    assert time.monotonic() - started < READ_TIMEOUT_S + 1.0
    assert err.value.details["timeout"] is True
    # The pay reached PhonePe: a status check (never a second pay) finds it.
    assert client.fetch_order_status("ord_slow").state == "PENDING"


# --- expiry ---------------------------------------------------------------------------------


def test_expired_order_reports_failed_and_a_late_payment_can_be_forced(sim: Sim) -> None:
    client = sim.client()
    pay(client, "ord_exp", expire_after_s=300)
    sim.clock.advance(299)
    assert client.fetch_order_status("ord_exp").state == "PENDING"
    sim.clock.advance(2)
    status = client.fetch_order_status("ord_exp")
    assert (status.state, status.error_code, status.detailed_error_code) == (
        "FAILED",
        "TXN_NOT_COMPLETED",
        "TXN_AUTO_FAILED",
    )
    assert sim.control("/orders/ord_exp/complete").json()["code"] == "ORDER_ALREADY_FINAL"
    sim.settle("ord_exp", force="1")  # money arrived after expiry: the NEEDS_REVIEW scenario
    assert client.fetch_order_status("ord_exp").state == "COMPLETED"


# --- webhook controls -------------------------------------------------------------------------


def test_webhook_drop(sim: Sim) -> None:
    pay(sim.client(), "ord_drop")
    assert sim.settle("ord_drop", webhook="drop")["webhook"]["sent"] == 0
    with pytest.raises(TimeoutError):
        sim.hooks.wait_for(1, timeout=0.3)
    log = httpx.get(f"{sim.base}/_control/webhooks").json()["webhooks"]
    assert [(w["merchant_order_id"], w["outcome"]) for w in log] == [("ord_drop", "dropped")]


def test_webhook_duplicate(sim: Sim) -> None:
    pay(sim.client(), "ord_twice")
    assert sim.settle("ord_twice", webhook="duplicate:3")["webhook"]["statuses"] == [200, 200, 200]
    hooks = sim.hooks.wait_for(3)
    assert len({h.body for h in hooks}) == 1
    assert all(h.headers["Authorization"] == HOOK_HEADER for h in hooks)


def test_webhook_delay(sim: Sim) -> None:
    pay(sim.client(), "ord_late")
    started = time.monotonic()
    assert sim.settle("ord_late", webhook="delay:0.5")["webhook"]["mode"] == "delay"
    assert sim.hooks.requests == []
    (hook,) = sim.hooks.wait_for(1, timeout=5)
    assert hook.at - started >= 0.45
    assert json.loads(hook.body)["payload"]["merchantOrderId"] == "ord_late"


@pytest.mark.parametrize("bad", ["sometimes", "delay:x", "duplicate:0", "duplicate:99", "drop:1"])
def test_bad_webhook_control_is_400(sim: Sim, bad: str) -> None:
    pay(sim.client(), "ord_ctl")
    assert sim.control("/orders/ord_ctl/complete", webhook=bad).status_code == 400
    assert sim.client().fetch_order_status("ord_ctl").state == "PENDING"


def test_unreachable_webhook_target_does_not_break_settling(sim: Sim) -> None:
    sim.app.webhook_url = f"http://127.0.0.1:{free_port()}/nothing"
    pay(sim.client(), "ord_nohook")
    assert sim.settle("ord_nohook")["webhook"]["statuses"] == [None]
    assert sim.client().fetch_order_status("ord_nohook").state == "COMPLETED"


# --- hosted checkout page ---------------------------------------------------------------------


def test_hosted_checkout_page_pays_and_redirects(sim: Sim) -> None:
    result = pay(sim.client(), "ord_page")
    page = httpx.get(result.redirect_url)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "ord_page" in page.text
    assert "Pay" in page.text
    assert "Fail" in page.text
    submitted = httpx.post(f"{result.redirect_url}/pay")
    assert submitted.status_code == 303
    assert submitted.headers["location"] == "http://app.test/return"
    assert sim.client().fetch_order_status("ord_page").state == "COMPLETED"
    assert json.loads(sim.hooks.wait_for(1)[0].body)["event"] == "checkout.order.completed"
    assert "COMPLETED" in httpx.get(result.redirect_url).text


def test_hosted_checkout_fail_button(sim: Sim) -> None:
    result = pay(sim.client(), "ord_page_fail")
    assert httpx.post(f"{result.redirect_url}/fail").status_code == 303
    assert sim.client().fetch_order_status("ord_page_fail").state == "FAILED"


# --- refunds --------------------------------------------------------------------------------


def test_refund_flow(sim: Sim) -> None:
    client = sim.client()
    pay(client, "ord_ref", amount=1000)
    with pytest.raises(PhonePeRejected):  # not completed yet
        client.refund("rfd_early", "ord_ref", 500)
    sim.settle("ord_ref")
    sim.hooks.wait_for(1)

    created = client.refund("rfd_1", "ord_ref", 600)
    assert (created.amount, created.state) == (600, "PENDING")
    assert created.refund_id
    assert created.refund_id.startswith("OMR")
    with pytest.raises(PhonePeRejected):  # only 400 left to refund
        client.refund("rfd_2", "ord_ref", 500)
    with pytest.raises(PhonePeRejected):  # same refund id twice
        client.refund("rfd_1", "ord_ref", 100)
    with pytest.raises(PhonePeOrderNotFound):
        client.refund("rfd_3", "ord_nope", 100)

    assert client.refund_status("rfd_1").state == "CONFIRMED"  # accepted; final once it settles
    settled = sim.control("/refunds/rfd_1/complete")
    assert settled.json()["state"] == "COMPLETED"
    status = client.refund_status("rfd_1")
    assert (status.state, status.original_merchant_order_id, status.amount) == ("COMPLETED", "ord_ref", 600)
    hook = json.loads(sim.hooks.wait_for(2)[1].body)
    assert hook["event"] == "pg.refund.completed"
    assert hook["payload"]["merchantRefundId"] == "rfd_1"
    with pytest.raises(PhonePeOrderNotFound):
        client.refund_status("rfd_unknown")


def test_failed_refund_frees_the_amount(sim: Sim) -> None:
    client = sim.client()
    pay(client, "ord_ref2", amount=1000)
    sim.settle("ord_ref2", webhook="drop")
    client.refund("rfd_a", "ord_ref2", 1000)
    sim.control("/refunds/rfd_a/fail", webhook="drop")
    status = client.refund_status("rfd_a")
    assert (status.state, status.error_code) == ("FAILED", "REFUND_FAILED")
    assert client.refund("rfd_b", "ord_ref2", 1000).state == "PENDING"


# --- persistence and wiring ---------------------------------------------------------------------


def test_state_survives_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "phonepe" / "state.json"
    kv = FakeKeyValue(clock)
    with RecordingReceiver() as hooks:
        with served_sim(hooks, clock, path) as sim:
            pay(sim.client(kv), "ord_keep")
            sim.settle("ord_keep", webhook="drop")
        with served_sim(hooks, clock, path) as sim:
            client = sim.client(kv)  # the cached token is still honoured after the restart
            assert client.fetch_order_status("ord_keep").state == "COMPLETED"
            assert sim.app.calls["token"] == 0
            with pytest.raises(PhonePeRejected):
                pay(client, "ord_keep")


def test_dev_server_factory_reads_the_settings(tmp_path: Path) -> None:
    settings = Settings(functions_base_url="http://127.0.0.1:9999", phonepe_client_id="DEV_ID")
    clock = ManualClock()
    suite = SimpleNamespace(settings=settings, state_path=tmp_path.joinpath, container=SimpleNamespace(clock=clock))
    app = create_app(suite)  # type: ignore[arg-type]
    try:
        assert app.clock is clock  # the suite's (movable) clock
        assert app.webhook_url == "http://127.0.0.1:9999/payment_webhook/"
        assert app._client_id == "DEV_ID"
        assert app._state_path == tmp_path / "phonepe" / "state.json"
    finally:
        app.close()
    with pytest.raises(TypeError):
        create_app(webhook_url="http://x")


def test_control_inputs_are_checked(sim: Sim) -> None:
    assert sim.control("/_control/fail-next", op="nope").status_code == 400
    assert sim.control("/_control/fail-next", op="pay", mode="200").status_code == 400
    pay(sim.client(), "ord_ov")
    assert sim.control("/_control/amount-override", merchant_order_id="ord_ov", amount="5").status_code == 200
    assert sim.client().fetch_order_status("ord_ov").amount == 5
    assert sim.control("/_control/amount-override", merchant_order_id="ord_ov", amount="-1").status_code == 400
    assert httpx.get(f"{sim.base}/orders/ord_ov").json()["amount_override"] == 5
    assert len(httpx.get(f"{sim.base}/orders").json()["orders"]) == 1
    assert "ord_ov" in httpx.get(f"{sim.base}/").text
    stats = httpx.get(f"{sim.base}/_control/stats").json()
    assert stats["orders"] == 1
    assert sim.control("/_control/reset").json() == {"reset": True}
    assert httpx.get(f"{sim.base}/_control/stats").json()["orders"] == 0
