"""PhonePe's official Python SDK (``phonepe-pg-sdk-python`` 3.0.1) against our simulator.

The simulator is what the local suite and the tests trust to speak PhonePe's
API, so the official client must succeed against it with its own defaults:
pay with only the required arguments (the SDK sends ``expireAfter``,
``message``, ``disablePaymentRetry`` and the redirect URL as null), order
status, refund, refund status, and ``validate_callback`` on every webhook the
simulator sends.  The SDK runs in its own pinned environment
(``tools/phonepe_sdk/requirements.lock``, built by ``make test`` under
``.venv/phonepe-sdk``) through ``tools/phonepe_sdk/drive.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from devtools.local.phonepe_sim import create_app
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


@pytest.fixture
def stack() -> Iterator[tuple[str, RecordingReceiver]]:
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
