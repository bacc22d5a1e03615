"""Payments end to end over HTTP: the local suite on a free port, nothing faked.

The app is the dev server's (``build_suite`` + ``build_wsgi``), served threaded
against the session's real Postgres, Valkey and emulators; the PhonePe
simulator, the mail catcher (spoken to by the ``resend`` SDK) and the Cloud
Tasks dispatcher are the real local stand-ins.  The dispatcher runs with a
small ``time_scale`` so PhonePe's reconciliation ladder (20 s, then 3 s steps...)
passes in a fraction of a second per rung.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from devtools.local.devserver import LocalApp
from devtools.local.services import ServiceSet
from lib.adapters.phonepe import PhonePeClient
from lib.clock import SystemClock
from lib.config import Settings
from lib.domain.payment_records import NewOrder
from lib.domain.payments import new_merchant_order_id, webhook_authorization
from tests.e2e.served import served_suite

pytestmark = pytest.mark.services

# The ladder at 1/20 speed: the first check (20 s) runs after 1 s, a 3 s rung after 0.15 s.
TIME_SCALE = 0.05
# How long a test waits for something the dispatcher does in the background.
SETTLE_S = 20.0
# Concurrent deliveries of one webhook (the payments rule: 50 concurrent deliveries, one grant).
CONCURRENT_DELIVERIES = 50
# The mail catcher's hang in "timeout" mode: longer than the mailer's read timeout below.
MAIL_HANG_S = 2.0
MAILER_READ_TIMEOUT_S = 0.5


@dataclass
class Suite:
    app: LocalApp
    base: str
    settings: Settings
    http: httpx.Client
    db_url: str

    @property
    def hook_header(self) -> str:
        s = self.settings
        return webhook_authorization(s.phonepe_webhook_username, s.phonepe_webhook_password.get_secret_value())

    def user(self) -> dict[str, Any]:
        email = f"pay-{uuid.uuid4().hex[:10]}@example.com"
        response = self.http.post("/_dev/token", json={"email": email, "name": "Pay <b>Tester</b>"})
        assert response.status_code == 200, response.text
        return {**response.json(), "email": email}

    def initiate(
        self, user: dict[str, Any], body: dict[str, Any] | None = None, key: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {user['access_token']}"}
        if key:
            headers["Idempotency-Key"] = key
        payload = body if body is not None else {"plan": "starter", "billing_period": "monthly"}
        return self.http.post("/initiate_payment/", json=payload, headers=headers)

    def order(self, user: dict[str, Any], plan: str = "starter") -> str:
        response = self.initiate(user, {"plan": plan, "billing_period": "monthly"})
        assert response.status_code == 201, response.text
        return str(response.json()["merchant_order_id"])

    def status(self, user: dict[str, Any], mid: str) -> httpx.Response:
        return self.http.get(f"/payment_status/{mid}", headers={"Authorization": f"Bearer {user['access_token']}"})

    def settle(self, mid: str, action: str = "complete", **params: str) -> dict[str, Any]:
        response = self.http.post(f"/_dev/phonepe/orders/{mid}/{action}", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def mail_to(self, email: str) -> list[dict[str, Any]]:
        response = self.http.get("/_dev/mail/", params={"to": email})
        assert response.status_code == 200
        return list(response.json()["data"])

    def row(self, sql: str, *args: Any) -> dict[str, Any] | None:
        with psycopg.connect(self.db_url, autocommit=True, row_factory=dict_row) as conn:
            return conn.execute(sql, args).fetchone()

    def order_row(self, mid: str) -> dict[str, Any]:
        row = self.row("select * from public.payment_transactions where merchant_order_id = %s", mid)
        assert row is not None
        return row

    def count(self, sql: str, *args: Any) -> int:
        row = self.row(f"select count(*) as n from ({sql}) q", *args)
        return int(row["n"]) if row else 0

    def wait_for(self, check: Callable[[], bool], what: str, timeout_s: float = SETTLE_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def webhook(self, body: bytes, header: str | None = None) -> httpx.Response:
        return self.http.post(
            "/payment_webhook/",
            content=body,
            headers={"Authorization": header or self.hook_header, "Content-Type": "application/json"},
        )


def signed_body(mid: str, state: str = "COMPLETED", amount: int = 99900) -> bytes:
    event = "checkout.order.completed" if state == "COMPLETED" else "checkout.order.failed"
    payload = {"merchantOrderId": mid, "state": state, "amount": amount, "orderId": f"OMO{mid}"}
    return json.dumps({"event": event, "payload": payload}).encode()


@pytest.fixture(scope="module")
def suite(services: ServiceSet, settings: Settings) -> Iterator[Suite]:
    # The dispatcher runs the ladder fast (TIME_SCALE).
    with (
        served_suite(services, settings, time_scale=TIME_SCALE, resend_timeout_s=MAILER_READ_TIMEOUT_S) as served,
        httpx.Client(base_url=served.base, timeout=30) as client,
    ):
        yield Suite(served.app, served.base, served.settings, client, services.env["DATABASE_URL"])


# --- the happy path and the webhook ------------------------------------------------------------


def test_happy_path_initiate_pay_webhook_status_one_email(suite: Suite) -> None:
    user = suite.user()
    response = suite.initiate(user, {"plan": "starter", "billing_period": "monthly"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["amount"] == 99900  # prices come from plans (a client's amount is refused: 422)
    assert body["state"] == "PENDING"
    assert body["checkout_url"].startswith(f"{suite.base}/_dev/phonepe/checkout/")
    mid = body["merchant_order_id"]

    settled = suite.settle(mid, webhook="deliver")
    assert settled["webhook"]["statuses"] == [200]

    status = suite.status(user, mid)
    assert status.status_code == 200
    out = status.json()
    assert out["state"] == "COMPLETED"
    assert out["subscription"]["status"] == "active"
    assert out["subscription"]["plan"] == "starter"
    assert out["poll_after_ms"] == 0
    user_row = suite.row("select onboarding_status from public.users where id = %s", user["user_id"])
    assert user_row == {"onboarding_status": "payment_confirmed"}
    (mail,) = suite.mail_to(user["email"])
    assert mail["idempotency_key"].startswith("payment-confirmed/")
    assert "₹999.00" in mail["text"]
    assert mid in mail["text"]
    # The reconciliation queued at initiate runs later and finds the order final: still one email.
    suite.wait_for(
        lambda: (
            suite.count(
                "select 1 from public.payment_transactions"
                " where merchant_order_id = %s and last_checked_at is not null",
                mid,
            )
            == 1
        ),
        "the order to be checked",
    )
    assert len(suite.mail_to(user["email"])) == 1


def test_fifty_concurrent_deliveries_one_activation_one_email(suite: Suite) -> None:
    user = suite.user()
    mid = suite.order(user)
    suite.settle(mid, webhook="drop")
    body = signed_body(mid)
    barrier = threading.Barrier(CONCURRENT_DELIVERIES)

    def deliver(_: int) -> int:
        with httpx.Client(base_url=suite.base, timeout=30) as client:
            barrier.wait()
            return client.post(
                "/payment_webhook/",
                content=body,
                headers={"Authorization": suite.hook_header, "Content-Type": "application/json"},
            ).status_code

    with ThreadPoolExecutor(CONCURRENT_DELIVERIES) as pool:
        codes = list(pool.map(deliver, range(CONCURRENT_DELIVERIES)))
    assert all(200 <= c < 300 for c in codes), codes
    assert suite.order_row(mid)["state"] == "COMPLETED"
    assert suite.count("select 1 from public.email_outbox where payload->>'merchant_order_id' = %s", mid) == 1
    assert len(suite.mail_to(user["email"])) == 1
    sub = suite.row(
        "select current_period_start + interval '1 month' = current_period_end as one_month"
        " from public.subscriptions where workspace_id = %s",
        user["workspace_id"],
    )
    assert sub == {"one_month": True}  # granted once, not extended fifty times
    assert suite.count("select 1 from public.webhook_events where merchant_order_id = %s", mid) == 1


@pytest.mark.parametrize("mangle", [str.upper, lambda h: "", lambda h: h[:-1] + "0", lambda h: f"Basic {h}"])
def test_wrong_or_differently_cased_header_is_401_and_nothing_recorded(
    suite: Suite, mangle: Callable[[str], str]
) -> None:
    user = suite.user()
    mid = suite.order(user)
    suite.settle(mid, webhook="drop")
    header = mangle(suite.hook_header)
    assert header != suite.hook_header
    response = suite.http.post(
        "/payment_webhook/",
        content=signed_body(mid),
        headers={"Authorization": header, "Content-Type": "application/json"} if header else {},
    )
    assert response.status_code == 401
    assert suite.count("select 1 from public.webhook_events where merchant_order_id = %s", mid) == 0
    assert suite.order_row(mid)["state"] == "PENDING"


def test_dropped_webhook_reconciliation_completes_the_order(suite: Suite) -> None:
    user = suite.user()
    mid = suite.order(user)
    assert suite.settle(mid, webhook="drop")["webhook"]["sent"] == 0
    suite.wait_for(lambda: suite.order_row(mid)["state"] == "COMPLETED", "reconciliation to complete the order")
    suite.wait_for(lambda: len(suite.mail_to(user["email"])) == 1, "the confirmation email")

    def reconciled() -> bool:
        # The task that completed the order sends the email before the dispatcher records it finished.
        tasks = suite.http.get("/_dev/tasks/").json()
        done = [t for t in tasks["finished"] if mid in t["name"]]  # named reconcile-<order>-<chain>-<step>
        return any(t["state"] == "succeeded" for t in done)

    suite.wait_for(reconciled, "the reconciliation task to be recorded as succeeded")
    assert suite.status(user, mid).json()["subscription"]["status"] == "active"


def test_webhook_before_the_order_row_is_visible_is_not_lost(suite: Suite) -> None:
    user = suite.user()
    mid = new_merchant_order_id(SystemClock().now())
    # PhonePe has the order and it is paid; our row is not committed yet when the webhook lands.
    gateway = PhonePeClient.from_settings(suite.settings, suite.app.suite.container.kv)
    paid = gateway.pay(
        merchant_order_id=mid,
        amount_paise=99900,
        redirect_url=f"{suite.base}/billing/return",
        expire_after_s=1200,
        meta_info={"udf1": user["workspace_id"]},
    )
    suite.settle(mid, webhook="drop")
    assert suite.webhook(signed_body(mid)).status_code == 200
    repo = suite.app.suite.container.payments_repo
    repo.create_order(NewOrder(mid, user["workspace_id"], user["user_id"], "starter", "monthly", 99900))
    repo.mark_pending(mid, phonepe_order_id=paid.phonepe_order_id, checkout_url=None, expires_at=paid.expire_at)
    suite.wait_for(lambda: suite.order_row(mid)["state"] == "COMPLETED", "the late row to be reconciled")
    suite.wait_for(
        lambda: (
            suite.count(
                "select 1 from public.webhook_events where merchant_order_id = %s and processed_at is not null", mid
            )
            == 1
        ),
        "the early event to be closed",
    )
    suite.wait_for(lambda: len(suite.mail_to(user["email"])) == 1, "the confirmation email")


def test_completed_after_failed_needs_review_nothing_granted(suite: Suite) -> None:
    user = suite.user()
    mid = suite.order(user)
    suite.settle(mid, "fail", webhook="deliver")
    assert suite.order_row(mid)["state"] == "FAILED"
    late = suite.settle(mid, "complete", webhook="deliver", force="1")
    assert late["webhook"]["statuses"] == [200]
    assert suite.order_row(mid)["state"] == "NEEDS_REVIEW"
    assert suite.row("select 1 as x from public.subscriptions where workspace_id = %s", user["workspace_id"]) is None
    assert suite.status(user, mid).json()["state"] == "NEEDS_REVIEW"
    # The failure's email only: the late payment sends no confirmation.
    suite.wait_for(lambda: len(suite.mail_to(user["email"])) == 1, "the payment-failed email")
    (mail,) = suite.mail_to(user["email"])
    assert mail["idempotency_key"].startswith("payment-failed/")


def test_failed_payment_one_payment_failed_email_escaped(suite: Suite) -> None:
    user = suite.user()
    mid = suite.order(user)
    settled = suite.settle(mid, "fail", webhook="deliver", error_code="PAYMENT_DECLINED")
    assert settled["webhook"]["statuses"] == [200]
    status = suite.status(user, mid)
    assert status.status_code == 200, status.text
    assert status.json()["state"] == "FAILED"
    suite.wait_for(lambda: len(suite.mail_to(user["email"])) == 1, "the payment-failed email")
    # Redelivered FAILED webhooks and the ladder's later status checks write no second email.
    assert suite.webhook(signed_body(mid, "FAILED")).status_code == 200
    outbox = suite.row("select id, kind, status from public.email_outbox where payload->>'merchant_order_id' = %s", mid)
    assert outbox is not None
    assert outbox["kind"] == "payment-failed"
    assert suite.count("select 1 from public.email_outbox where payload->>'merchant_order_id' = %s", mid) == 1
    (mail,) = suite.mail_to(user["email"])
    assert mail["idempotency_key"] == f"payment-failed/{outbox['id']}"
    assert mail["subject"] == "Payment failed: Starter plan"
    assert "₹999.00" in mail["text"]
    assert mid in mail["text"]
    assert "declined" in mail["text"]
    assert "/billing" in mail["text"]
    assert "Pay <b>Tester</b>" in mail["text"]
    assert "Pay &lt;b&gt;Tester&lt;/b&gt;" in mail["html"]
    assert "<b>Tester</b>" not in mail["html"]
    assert suite.row("select 1 as x from public.subscriptions where workspace_id = %s", user["workspace_id"]) is None


def test_amount_differs_not_granted(suite: Suite) -> None:
    user = suite.user()
    mid = suite.order(user)
    suite.settle(mid, webhook="deliver", amount_override="100")
    row = suite.order_row(mid)
    assert row["state"] == "PENDING"
    assert row["error_code"] == "AMOUNT_MISMATCH"
    assert suite.row("select 1 as x from public.subscriptions where workspace_id = %s", user["workspace_id"]) is None
    assert suite.mail_to(user["email"]) == []


# --- outages -------------------------------------------------------------------------------------


def test_phonepe_down_at_initiate_is_503_with_a_reconciliation_scheduled(suite: Suite) -> None:
    user = suite.user()
    control = suite.http.post("/_dev/phonepe/_control/fail-next", params={"op": "pay", "mode": "503", "count": "1"})
    assert control.status_code == 200
    response = suite.initiate(user)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    mid = response.json()["merchant_order_id"]
    assert suite.order_row(mid)["state"] == "CREATED"
    tasks = suite.http.get("/_dev/tasks/").json()
    seen = [t for t in tasks["tasks"] + tasks["finished"] if mid in t["name"]]
    assert seen
    assert all(t["url"].endswith("/payment_reconcile/") for t in seen)


def test_resend_timing_out_once_still_one_email(suite: Suite) -> None:
    user = suite.user()
    mid = suite.order(user)
    fail = suite.http.post(
        "/_dev/mail/fail-next", params={"count": "1", "mode": "timeout", "seconds": str(MAIL_HANG_S)}
    )
    assert fail.status_code == 200
    suite.settle(mid, webhook="deliver")
    assert suite.order_row(mid)["state"] == "COMPLETED"
    outbox = suite.row("select id, status from public.email_outbox where payload->>'merchant_order_id' = %s", mid)
    assert outbox is not None
    # The mailer retried (same Idempotency-Key) or left the row for the sweep; either way it ends sent.
    suite.row("update public.email_outbox set next_attempt_at = now() where id = %s returning id", outbox["id"])
    queued = suite.http.post(
        f"/_dev/tasks/queues/{suite.settings.tasks_queue_outbox}/tasks",
        json={"url": f"{suite.base}/maintenance/sweep-outbox", "payload": {}},
    )
    assert queued.status_code == 201, queued.text
    suite.wait_for(
        lambda: suite.row("select status from public.email_outbox where id = %s", outbox["id"]) == {"status": "sent"},
        "the outbox row to be sent",
    )
    suite.wait_for(
        lambda: any(
            "sweep-outbox" in t["url"] and t["state"] == "succeeded"
            for t in suite.http.get("/_dev/tasks/").json()["finished"]
        ),
        "the sweep to run",
    )
    time.sleep(0.3)
    (mail,) = suite.mail_to(user["email"])
    assert mail["idempotency_key"] == f"payment-confirmed/{outbox['id']}"


# --- the initiate contract -------------------------------------------------------------------------


def test_idempotency_key_same_body_same_order_other_body_422(suite: Suite) -> None:
    user = suite.user()
    key = f"idem-{uuid.uuid4().hex}"
    first = suite.initiate(user, key=key)
    again = suite.initiate(user, key=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["merchant_order_id"] == again.json()["merchant_order_id"]
    other = suite.initiate(user, {"plan": "growth", "billing_period": "annual"}, key=key)
    assert other.status_code == 422
    assert suite.count("select 1 from public.payment_transactions where user_id = %s", user["user_id"]) == 1


def test_another_users_order_is_404(suite: Suite) -> None:
    owner, stranger = suite.user(), suite.user()
    mid = suite.order(owner)
    assert suite.status(stranger, mid).status_code == 404
    assert suite.status(owner, mid).status_code == 200
    assert suite.status(owner, "ord_nope").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"plan": "platinum", "billing_period": "monthly"},
        {"plan": "starter", "billing_period": "weekly"},
        {"plan": "enterprise", "billing_period": "annual"},
        {"billing_period": "monthly"},
    ],
)
def test_unknown_plan_or_period_is_422(suite: Suite, body: dict[str, Any]) -> None:
    user = suite.user()
    response = suite.initiate(user, body)
    assert response.status_code == 422, response.text
    assert suite.count("select 1 from public.payment_transactions where user_id = %s", user["user_id"]) == 0


def test_free_plan_activates_at_once(suite: Suite) -> None:
    user = suite.user()
    response = suite.initiate(user, {"plan": "free", "billing_period": "monthly"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "COMPLETED"
    assert body["subscription"]["plan"] == "free"
    assert body["subscription"]["status"] == "active"
    assert suite.count("select 1 from public.payment_transactions where user_id = %s", user["user_id"]) == 0
    assert suite.row("select onboarding_status from public.users where id = %s", user["user_id"]) == {
        "onboarding_status": "payment_confirmed"
    }


def test_an_operator_refund_through_the_simulator_ends_the_plan_and_emails_once(suite: Suite) -> None:
    """The real PhonePe client's refund calls against the simulator, the operator's route under
    the local OIDC signer, PhonePe's refund webhook settling it."""
    user = suite.user()
    mid = suite.order(user)
    suite.settle(mid, webhook="deliver")
    assert suite.order_row(mid)["state"] == "COMPLETED"
    rid = f"rf_{uuid.uuid4().hex[:16]}"
    audience = f"{suite.base}/maintenance"
    token = suite.app.suite.oidc.sign(audience, suite.settings.tasks_invoker_email)
    response = suite.http.post(
        f"{audience}/refunds",
        json={"merchant_order_id": mid, "merchant_refund_id": rid, "reason": "charged twice"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["refund"]["state"] == "PENDING"  # the simulator accepted it
    settled = suite.http.post(f"{suite.base}/_dev/phonepe/refunds/{rid}/complete", params={"webhook": "deliver"})
    assert settled.status_code == 200, settled.text
    assert settled.json()["webhook"]["statuses"] == [200]
    assert suite.row("select state from public.refunds where merchant_refund_id = %s", rid) == {"state": "COMPLETED"}
    assert suite.order_row(mid)["state"] == "REFUNDED"
    sub = suite.row("select status from public.subscriptions where workspace_id = %s", user["workspace_id"])
    assert sub == {"status": "cancelled"}
    refund_mails = [m for m in suite.mail_to(user["email"]) if m["idempotency_key"] == f"refund-completed/{rid}"]
    assert len(refund_mails) == 1
    assert "₹999.00" in refund_mails[0]["text"]
