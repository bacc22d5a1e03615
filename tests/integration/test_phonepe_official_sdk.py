"""PhonePe's official Python SDK (``phonepe-pg-sdk-python`` 3.0.1) against our simulator.

The simulator is what the local suite and the tests trust to speak PhonePe's
API, so the official client must succeed against it with its own defaults:
pay with only the required arguments (the SDK sends ``expireAfter``,
``message``, ``disablePaymentRetry`` and the redirect URL as null), order
status, refund, refund status, and ``validate_callback`` on every webhook the
simulator sends.  The same for AutoPay (``SubscriptionClient``): setup, notify, redeem,
the subscription's, order's and transaction's status, cancel, and every SUBSCRIPTION_*
callback type the SDK knows; each answer is parsed into the SDK's models and nothing
the simulator sent is lost or changed on the way.  The SDK runs in its own pinned
environment (``tools/phonepe_sdk/requirements.lock``, built by ``make test`` under
``.venv/phonepe-sdk``) through ``tools/phonepe_sdk/drive.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from devtools.local.phonepe_sim import create_app
from lib.ports import Clock
from lib.services.payments.autopay_ports import PRE_DEBIT_NOTICE_S, SUBSCRIPTION_CALLBACKS
from lib.testing.fakes import ManualClock
from lib.testing.receiver import RecordingReceiver

REPO = Path(__file__).resolve().parents[2]
SDK_PYTHON = REPO / ".venv" / "phonepe-sdk" / "bin" / "python"
DRIVER = REPO / "tools" / "phonepe_sdk" / "drive.py"
MOUNT = "/_dev/phonepe"
HOOK_USER, HOOK_PASS = "sdkhook", "sdkhook1234"
CLIENT_ID, CLIENT_SECRET = "SDK_CLIENT", "sdk-client-secret"


def drive(command: str, args: dict[str, Any]) -> Any:
    done = subprocess.run(
        [str(SDK_PYTHON), str(DRIVER), command, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",  # nothing of the repository on the SDK's path
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def serving(clock: Clock | None = None) -> Iterator[tuple[str, RecordingReceiver]]:
    if not SDK_PYTHON.exists():
        if os.environ.get("REQUIRE_EMULATORS") == "1":
            pytest.fail(f"{SDK_PYTHON} is missing: `make test` builds it from tools/phonepe_sdk/requirements.lock")
        pytest.skip("the PhonePe SDK's environment is not built (`make test` builds it)")
    with RecordingReceiver() as hooks:
        app = create_app(
            webhook_url=f"{hooks.url}/payment_webhook/",
            webhook_username=HOOK_USER,
            webhook_password=HOOK_PASS,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            clock=clock,
        )
        server = make_server(
            "127.0.0.1", 0, DispatcherMiddleware(Response("no", status=404), {MOUNT: app}), threaded=True
        )
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}{MOUNT}", hooks
        finally:
            app.close()
            server.shutdown()
            server.server_close()


@pytest.fixture
def stack() -> Iterator[tuple[str, RecordingReceiver]]:
    with serving() as served:
        yield served


@pytest.fixture
def sub_stack() -> Iterator[tuple[str, RecordingReceiver, ManualClock]]:
    """The simulator on a clock the test moves (from now: the SDK checks its token against real time)."""
    clock = ManualClock(datetime.now(UTC))
    with serving(clock) as (base, hooks):
        yield base, hooks, clock


def _args(base: str, mid: str, **more: Any) -> dict[str, Any]:
    return {
        "base": f"{base}/apis/pg-sandbox",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "merchant_order_id": mid,
        **more,
    }


def test_the_sdk_pays_reads_status_refunds_and_reads_the_refund_with_its_defaults(
    stack: tuple[str, RecordingReceiver],
) -> None:
    base, _ = stack
    mid = f"sdk_{uuid.uuid4().hex[:12]}"
    paid = drive("pay", _args(base, mid))
    assert paid["pay"]["state"] == "PENDING"
    assert paid["pay"]["redirectUrl"].startswith(base)  # the hosted checkout page
    assert paid["status"]["state"] == "PENDING"
    assert paid["status"]["amount"] == 10000
    completed = httpx.post(f"{base}/orders/{mid}/complete", params={"webhook": "drop"}, timeout=10)
    assert completed.status_code == 200, completed.text

    rid = f"rf_{uuid.uuid4().hex[:12]}"
    refunded = drive("refund", _args(base, mid, merchant_refund_id=rid, amount=2500))
    assert refunded["refund"]["state"] == "PENDING"
    assert refunded["refund"]["amount"] == 2500
    assert refunded["status"]["state"] == "CONFIRMED"  # PhonePe's states: PENDING -> CONFIRMED -> COMPLETED
    assert refunded["status"]["originalMerchantOrderId"] == mid
    settled = httpx.post(f"{base}/refunds/{rid}/complete", params={"webhook": "drop"}, timeout=10)
    assert settled.status_code == 200, settled.text
    assert drive("refund_status", _args(base, mid, merchant_refund_id=rid))["status"]["state"] == "COMPLETED"


def test_an_unknown_order_is_phonepe_s_400_with_its_code(stack: tuple[str, RecordingReceiver]) -> None:
    base, _ = stack
    token = httpx.post(
        f"{base}/apis/pg-sandbox/v1/oauth/token",
        data={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "client_version": "1",
            "grant_type": "client_credentials",
        },
        timeout=10,
    ).json()["access_token"]
    answer = httpx.get(
        f"{base}/apis/pg-sandbox/checkout/v2/order/nobody/status",
        headers={"Authorization": f"O-Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "MERCHANT_ORDER_MAPPING_NOT_FOUND"


def test_validate_callback_accepts_every_webhook_the_simulator_sends(stack: tuple[str, RecordingReceiver]) -> None:
    base, hooks = stack
    paid, failed = f"sdk_{uuid.uuid4().hex[:12]}", f"sdk_{uuid.uuid4().hex[:12]}"
    for mid in (paid, failed):
        drive("pay", _args(base, mid))
    assert httpx.post(f"{base}/orders/{paid}/complete", timeout=10).status_code == 200
    assert httpx.post(f"{base}/orders/{failed}/fail", timeout=10).status_code == 200
    hooks.wait_for(2)
    callbacks = [{"authorization": r.headers.get("Authorization", ""), "body": r.body.decode()} for r in hooks.requests]
    assert all(c["authorization"] == hashlib.sha256(f"{HOOK_USER}:{HOOK_PASS}".encode()).hexdigest() for c in callbacks)
    parsed = drive(
        "validate", {**_args(base, paid), "username": HOOK_USER, "password": HOOK_PASS, "callbacks": callbacks}
    )
    assert [p["type"] for p in parsed] == ["CHECKOUT_ORDER_COMPLETED", "CHECKOUT_ORDER_FAILED"]
    assert [p["event"] for p in parsed] == ["checkout.order.completed", "checkout.order.failed"]


# --- AutoPay: the SDK's SubscriptionClient -----------------------------------------------------

# What the SDK's models keep no field for: its ``PaymentFlowResponse`` subclasses take
# ``type`` only to choose the class, so a parsed ``paymentFlow`` has no ``type``.
SDK_DROPS = frozenset({"paymentFlow.type"})


def assert_round_trip(raw: Any, parsed: Any, path: str = "") -> None:
    """Everything PhonePe's JSON (the simulator's) said, the SDK's model says the same way."""
    if isinstance(raw, dict):
        assert isinstance(parsed, dict), f"{path}: {parsed!r}"
        for key, value in raw.items():
            where = f"{path}.{key}".lstrip(".")
            if any(where == drop or where.endswith(f".{drop}") for drop in SDK_DROPS):
                assert key not in parsed, f"the SDK now keeps {where}: drop it from SDK_DROPS"
                continue
            assert key in parsed, f"the SDK dropped {where}"
            assert_round_trip(value, parsed[key], where)
    elif isinstance(raw, list):
        assert isinstance(parsed, list), f"{path}: {parsed!r}"
        assert len(parsed) == len(raw), path
        for one_raw, one_parsed in zip(raw, parsed, strict=True):
            assert_round_trip(one_raw, one_parsed, f"{path}[]")
    else:
        assert parsed == raw, f"{path}: {raw!r} became {parsed!r}"


def exchanges(result: dict[str, Any]) -> dict[str, Any]:
    """Check every call's round trip; what the SDK parsed, by call."""
    for call, exchange in result.items():
        if exchange["raw"] is None:
            assert exchange["parsed"] is None, call
        else:
            assert_round_trip(exchange["raw"], exchange["parsed"], call)
    return {call: exchange["parsed"] for call, exchange in result.items()}


def control(base: str, path: str, **params: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _sub(base: str, **more: Any) -> dict[str, Any]:
    return {"base": f"{base}/apis/pg-sandbox", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **more}


def test_the_sdk_sets_up_notifies_redeems_and_cancels(sub_stack: tuple[str, RecordingReceiver, ManualClock]) -> None:
    base, _, clock = sub_stack
    msid, setup_id = f"ms_{uuid.uuid4().hex[:10]}", f"so_{uuid.uuid4().hex[:10]}"
    setup = exchanges(
        drive(
            "sub_setup",
            _sub(
                base,
                merchant_order_id=setup_id,
                merchant_subscription_id=msid,
                amount=200,
                max_amount=99900,
                frequency="MONTHLY",
                amount_type="VARIABLE",
            ),
        )
    )
    assert setup["setup"]["state"] == "PENDING"
    assert setup["setup"]["intentUrl"].startswith("upi://mandate?")
    assert setup["order_status"]["paymentFlow"]["merchantSubscriptionId"] == msid
    assert (setup["subscription_status"]["state"], setup["subscription_status"]["frequency"]) == (
        "ACTIVATION_IN_PROGRESS",
        "MONTHLY",
    )
    control(base, f"/mandates/{msid}/approve")

    mid = f"n_{uuid.uuid4().hex[:10]}"
    notified = exchanges(
        drive("sub_notify", _sub(base, merchant_order_id=mid, merchant_subscription_id=msid, amount=99900))
    )
    assert notified["notify"]["state"] == "PENDING"
    flow = notified["order_status"]["paymentFlow"]
    assert (notified["order_status"]["state"], flow["redemptionRetryStrategy"]) == ("NOTIFIED", "STANDARD")
    assert flow["validAfter"] - flow["notifiedAt"] == PRE_DEBIT_NOTICE_S * 1000

    clock.advance(PRE_DEBIT_NOTICE_S)
    redeemed = exchanges(drive("sub_redeem", _sub(base, merchant_order_id=mid)))
    assert redeemed["redeem"]["state"] == "PENDING"
    assert redeemed["order_status"]["state"] == "COMPLETED"
    (detail,) = redeemed["transaction_status"]["paymentDetails"]
    assert (detail["transactionId"], detail["paymentMode"], detail["state"]) == (
        redeemed["redeem"]["transactionId"],
        "UPI_AUTO_PAY",
        "COMPLETED",
    )

    statuses = exchanges(drive("sub_status", _sub(base, merchant_subscription_id=msid, merchant_order_id=setup_id)))
    assert statuses["subscription_status"]["state"] == "ACTIVE"
    assert (
        statuses["order_status"]["paymentFlow"]["subscriptionId"] == statuses["subscription_status"]["subscriptionId"]
    )
    cancelled = exchanges(drive("sub_cancel", _sub(base, merchant_subscription_id=msid)))
    assert cancelled["cancel"] is None
    assert cancelled["subscription_status"]["state"] == "CANCELLED"


def test_validate_callback_accepts_every_subscription_callback(
    sub_stack: tuple[str, RecordingReceiver, ManualClock],
) -> None:
    base, hooks, clock = sub_stack
    kept, declined, revoked = (f"ms_{uuid.uuid4().hex[:10]}" for _ in range(3))
    exchanges(
        drive("sub_setup", _sub(base, merchant_order_id=f"so_{kept}", merchant_subscription_id=kept, max_amount=500))
    )
    exchanges(
        drive(
            "sub_setup",
            _sub(base, merchant_order_id=f"so_{declined}", merchant_subscription_id=declined, vpa="someone@ybl"),
        )
    )
    control(base, f"/mandates/{kept}/approve")  # SUBSCRIPTION_SETUP_ORDER_COMPLETED
    control(base, f"/mandates/{declined}/decline")  # SUBSCRIPTION_SETUP_ORDER_FAILED
    control(base, "/_control/next-outcome", op="notify", outcome="fail")
    failed_notice, paid, unpaid = (f"n_{uuid.uuid4().hex[:10]}" for _ in range(3))
    for mid in (failed_notice, paid, unpaid):  # NOTIFICATION_FAILED, then NOTIFICATION_COMPLETED twice
        exchanges(drive("sub_notify", _sub(base, merchant_order_id=mid, merchant_subscription_id=kept, amount=300)))
    clock.advance(PRE_DEBIT_NOTICE_S)
    exchanges(drive("sub_redeem", _sub(base, merchant_order_id=paid)))  # REDEMPTION_{TRANSACTION,ORDER}_COMPLETED
    control(base, "/_control/next-outcome", op="redeem", outcome="fail")
    exchanges(drive("sub_redeem", _sub(base, merchant_order_id=unpaid)))  # REDEMPTION_{TRANSACTION,ORDER}_FAILED
    control(base, f"/mandates/{kept}/pause")  # SUBSCRIPTION_PAUSED
    control(base, f"/mandates/{kept}/unpause")  # SUBSCRIPTION_UNPAUSED
    exchanges(drive("sub_cancel", _sub(base, merchant_subscription_id=kept)))  # SUBSCRIPTION_CANCELLED
    exchanges(drive("sub_setup", _sub(base, merchant_order_id=f"so_{revoked}", merchant_subscription_id=revoked)))
    control(base, f"/mandates/{revoked}/approve")
    control(base, f"/mandates/{revoked}/revoke")  # SUBSCRIPTION_REVOKED

    expected = Counter(SUBSCRIPTION_CALLBACKS.values())  # each type once; two setups and two notices succeeded
    expected.update(["SUBSCRIPTION_SETUP_ORDER_COMPLETED", "SUBSCRIPTION_NOTIFICATION_COMPLETED"])
    received = hooks.wait_for(expected.total())
    callbacks = [{"authorization": r.headers.get("Authorization", ""), "body": r.body.decode()} for r in received]
    checked = drive("sub_validate", _sub(base, username=HOOK_USER, password=HOOK_PASS, callbacks=callbacks))
    assert set(checked["sdk_types"]) == set(SUBSCRIPTION_CALLBACKS.values())  # the SDK's list is the port's
    assert Counter(c["type"] for c in checked["callbacks"]) == expected
    for sent, parsed in zip(callbacks, checked["callbacks"], strict=True):
        body = json.loads(sent["body"])
        assert (parsed["event"], parsed["type"]) == (body["event"], body["type"])
        assert SUBSCRIPTION_CALLBACKS[parsed["event"]] == parsed["type"]
        assert_round_trip(body["payload"], parsed["payload"], parsed["type"])
