"""The four payment functions (and maintenance's payment sweeps) through functions_framework.

Real HTTP layer (HS256 Supabase tokens, the local OIDC signer, Postgres
idempotency and membership), real Postgres repository; PhonePe, Resend and
Cloud Tasks are the in-memory fakes from ``lib.testing.fake_payments``.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import pytest

from devtools.local.devserver import load_function_app
from devtools.local.oidc_signer import LocalOidcSigner
from devtools.local.services import ServiceSet
from lib import bootstrap
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_payments import PostgresPayments, PostgresPaymentsUnit
from lib.clock import SystemClock
from lib.config import Settings
from lib.domain.payments import webhook_authorization
from lib.http import HttpDeps
from lib.logs import configure_logging
from lib.services.payments.deps import PaymentConfig, PaymentDeps
from lib.testing.fake_autopay import FakeAutoPay
from lib.testing.fake_payments import FakeGateway, FakeMailer
from lib.testing.fakes import FakeKeyValue, FakeTaskQueue
from tests.functions.support import AUDIENCE, INVOKER, http_deps, installed, preset, task_token, user_token

pytestmark = pytest.mark.services

SECRET = "functions-test-secret-that-is-long-enough-for-hs256"
HOOK_USER, HOOK_PASS = "hookuser", "hookpass123"
HEADER = webhook_authorization(HOOK_USER, HOOK_PASS)
PAYMENT_FUNCTIONS = ("initiate_payment", "payment_status", "payment_webhook", "payment_reconcile", "maintenance")
# Concurrent deliveries of one webhook (the number).
DELIVERIES = 50


@dataclass
class Env:
    apps: dict[str, Any]
    http: HttpDeps
    deps: PaymentDeps
    db: PostgresDatabase
    gateway: FakeGateway
    mailer: FakeMailer
    tasks: FakeTaskQueue
    signer: LocalOidcSigner
    settings: Settings


@pytest.fixture(scope="module")
def env(services: ServiceSet) -> Iterator[Env]:
    settings = Settings(
        app_env="test",
        database_url=services.env["DATABASE_URL"],
        supabase_jwt_secret=SECRET,
        functions_base_url=AUDIENCE,
        tasks_invoker_email=INVOKER,
        phonepe_webhook_username=HOOK_USER,
        phonepe_webhook_password=HOOK_PASS,
    )
    db = PostgresDatabase(services.env["DATABASE_URL"], max_size=20)
    clock = SystemClock()
    gateway, mailer, tasks = FakeGateway(clock), FakeMailer(), FakeTaskQueue()
    deps = PaymentDeps(
        repo=PostgresPayments(db),
        unit=lambda: PostgresPaymentsUnit(db),
        gateway=gateway,
        tasks=tasks,
        mailer=mailer,
        clock=clock,
        config=PaymentConfig.from_settings(settings),
        kv=FakeKeyValue(clock),
        autopay=FakeAutoPay(clock),
    )
    signer = LocalOidcSigner()
    http = http_deps(settings, signer, db=db)
    with installed(preset(bootstrap.Container(settings), http=http, payment_deps=deps)):
        apps = {name: load_function_app(name) for name in PAYMENT_FUNCTIONS}
        yield Env(apps, http, deps, db, gateway, mailer, tasks, signer, settings)
    db.close()


@pytest.fixture(autouse=True)
def _fresh_fakes(env: Env) -> None:
    env.gateway.down = False
    env.mailer.fail_next = 0


def sign_up(env: Env) -> tuple[str, str, str]:
    """A new user (the sign-up trigger makes the workspace); returns (user id, workspace id, token)."""
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    with env.db.transaction() as conn:
        row = conn.execute(
            'insert into auth.users (email, raw_user_meta_data) values (%s, \'{"full_name": "Ada"}\'::jsonb)'
            " returning id",
            (email,),
        ).fetchone()
        assert row is not None
        ws = conn.execute("select id from public.workspaces where owner_id = %s", (row["id"],)).fetchone()
        assert ws is not None
    token = user_token(SECRET, sub=str(row["id"]), email=email, issuer=env.settings.jwt_issuer)
    return str(row["id"]), str(ws["id"]), token


def scalar(env: Env, query: str, *params: Any) -> Any:
    with env.db.connection() as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return next(iter(row.values()))


def initiate(env: Env, token: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return env.apps["initiate_payment"].test_client().post("/", json=body, headers=headers)


def webhook(env: Env, mid: str, *, header: str | None = HEADER, state: str = "COMPLETED", amount: int = 99900) -> Any:
    body = {
        "event": "checkout.order.completed" if state == "COMPLETED" else "checkout.order.failed",
        "payload": {"merchantOrderId": mid, "state": state, "amount": amount},
    }
    headers = {"Authorization": header} if header is not None else {}
    return (
        env.apps["payment_webhook"]
        .test_client()
        .post("/", data=json.dumps(body), headers=headers, content_type="application/json")
    )


def internal(env: Env, function: str, path: str, body: dict[str, Any]) -> Any:
    token = task_token(env.signer, function)
    return env.apps[function].test_client().post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def paid_order(env: Env) -> tuple[str, str, str, str]:
    user, ws, token = sign_up(env)
    response = initiate(env, token, {"plan": "starter", "billing_period": "monthly"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return user, ws, token, response.get_json()["merchant_order_id"]


# ------------------------------------------------------------- initiate ----


def test_initiate_refuses_a_client_amount_prices_from_plans_and_schedules_reconcile(env: Env) -> None:
    _, ws, token = sign_up(env)
    refused = initiate(env, token, {"plan": "growth", "billing_period": "monthly", "amount": 100})
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == [{"path": "amount", "message": "is not a field of this request"}]
    assert scalar(env, "select count(*)::text from payment_transactions where workspace_id = %s", ws) == "0"
    response = initiate(env, token, {"plan": "growth", "billing_period": "monthly"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["amount"] == 249900
    assert body["state"] == "PENDING"
    assert body["checkout_url"]
    assert env.gateway.orders[body["merchant_order_id"]]["amount"] == 249900
    assert (
        scalar(
            env,
            "select workspace_id::text from payment_transactions where merchant_order_id = %s",
            body["merchant_order_id"],
        )
        == ws
    )
    assert any(t.payload["merchant_order_id"] == body["merchant_order_id"] for t in env.tasks.tasks)


def test_idempotency_key_same_body_same_order_other_body_422(env: Env) -> None:
    _, _, token = sign_up(env)
    key = uuid.uuid4().hex
    first = initiate(env, token, {"plan": "starter", "billing_period": "monthly"}, key)
    again = initiate(env, token, {"plan": "starter", "billing_period": "monthly"}, key)
    other = initiate(env, token, {"plan": "growth", "billing_period": "monthly"}, key)
    assert first.status_code == again.status_code == 201
    assert again.get_json()["merchant_order_id"] == first.get_json()["merchant_order_id"]
    assert other.status_code == 422


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"plan": "platinum", "billing_period": "monthly"}, "unknown_plan"),
        ({"plan": "starter", "billing_period": "weekly"}, "unknown_billing_period"),
        ({"plan": "enterprise", "billing_period": "annual"}, "plan_not_purchasable"),
    ],
)
def test_bad_plan_or_period_is_422(env: Env, body: dict[str, Any], code: str) -> None:
    _, _, token = sign_up(env)
    response = initiate(env, token, body)
    assert response.status_code == 422
    assert response.get_json()["code"] == code


def test_free_plan_is_200_completed(env: Env) -> None:
    user, _, token = sign_up(env)
    response = initiate(env, token, {"plan": "free", "billing_period": "monthly"})
    assert response.status_code == 200
    assert response.get_json()["subscription"]["plan"] == "free"
    assert scalar(env, "select onboarding_status from users where id = %s", user) == "payment_confirmed"


def test_phonepe_down_is_503_retry_after_and_reconcile_scheduled(env: Env) -> None:
    user, _, token = sign_up(env)
    env.gateway.down = True
    response = initiate(env, token, {"plan": "starter", "billing_period": "annual"})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    mid = scalar(env, "select merchant_order_id from payment_transactions where user_id = %s", user)
    assert scalar(env, "select state from payment_transactions where merchant_order_id = %s", mid) == "CREATED"
    assert any(t.payload["merchant_order_id"] == mid for t in env.tasks.tasks)


# --------------------------------------------------------------- status ----


def test_status_own_order_and_other_users_404(env: Env) -> None:
    _, _, token, mid = paid_order(env)
    _, _, stranger = sign_up(env)
    client = env.apps["payment_status"].test_client()
    own = client.get(f"/{mid}", headers={"Authorization": f"Bearer {token}"})
    assert own.status_code == 200
    assert own.get_json()["state"] == "PENDING"
    other = client.get(f"/{mid}", headers={"Authorization": f"Bearer {stranger}"})
    assert other.status_code == 404


# -------------------------------------------------------------- webhook ----


def test_webhook_activates_and_answers_2xx(env: Env) -> None:
    _, ws, token, mid = paid_order(env)
    env.gateway.complete(mid)
    response = webhook(env, mid)
    assert response.status_code == 200
    assert response.get_json()["received"] is True
    assert scalar(env, "select status from subscriptions where workspace_id = %s", ws) == "active"
    sent = [m for m in env.mailer.sent.values() if mid in m.text]
    assert len(sent) == 1
    status = env.apps["payment_status"].test_client().get(f"/{mid}", headers={"Authorization": f"Bearer {token}"})
    assert status.get_json()["state"] == "COMPLETED"
    assert status.get_json()["subscription"]["plan"] == "starter"


def test_fifty_concurrent_deliveries_one_activation(env: Env) -> None:
    _, ws, _, mid = paid_order(env)
    env.gateway.complete(mid)
    barrier = threading.Barrier(DELIVERIES)

    def deliver(_: int) -> int:
        barrier.wait()
        return int(webhook(env, mid).status_code)

    with ThreadPoolExecutor(DELIVERIES) as pool:
        statuses = list(pool.map(deliver, range(DELIVERIES)))
    assert statuses == [200] * DELIVERIES
    assert scalar(env, "select count(*) from email_outbox where payload->>'merchant_order_id' = %s", mid) == 1
    assert len([m for m in env.mailer.sent.values() if mid in m.text]) == 1
    assert scalar(env, "select count(*) from subscriptions where workspace_id = %s", ws) == 1


@pytest.mark.parametrize("header", [None, "", HEADER.upper(), HEADER[:-1] + "0", f"Bearer {HEADER}"])
def test_bad_header_401_nothing_recorded_never_logged(env: Env, header: str | None) -> None:
    _, _, _, mid = paid_order(env)
    env.gateway.complete(mid)
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream, force=True)
    try:
        response = webhook(env, mid, header=header)
        ok = webhook(env, f"ord_{uuid.uuid4().hex}")  # a valid one, logged too
    finally:
        configure_logging("INFO", force=True)
    assert response.status_code == 401
    assert response.get_json()["code"] == "webhook_unauthorized"
    assert ok.status_code == 200
    assert scalar(env, "select count(*) from webhook_events where merchant_order_id = %s", mid) == 0
    assert scalar(env, "select state from payment_transactions where merchant_order_id = %s", mid) == "PENDING"
    logged = stream.getvalue()
    assert logged  # the router logged the requests
    assert HEADER not in logged
    assert HEADER.upper() not in logged


def test_malformed_body_with_valid_header_is_400_and_recorded(env: Env) -> None:
    raw = f"not json {uuid.uuid4().hex}"
    response = env.apps["payment_webhook"].test_client().post("/", data=raw, headers={"Authorization": HEADER})
    assert response.status_code == 400
    assert scalar(env, "select count(*) from webhook_events where raw_body = %s and not valid", raw) == 1


def test_completed_after_failed_needs_review(env: Env) -> None:
    _, ws, _, mid = paid_order(env)
    env.gateway.fail(mid)
    assert webhook(env, mid, state="FAILED").status_code == 200
    env.gateway.complete(mid)
    assert webhook(env, mid).status_code == 200
    assert scalar(env, "select state from payment_transactions where merchant_order_id = %s", mid) == "NEEDS_REVIEW"
    assert scalar(env, "select count(*) from subscriptions where workspace_id = %s", ws) == 0


def test_amount_mismatch_not_granted(env: Env) -> None:
    _, ws, _, mid = paid_order(env)
    env.gateway.complete(mid)
    env.gateway.orders[mid]["amount"] = 100
    assert webhook(env, mid).status_code == 200
    assert scalar(env, "select state from payment_transactions where merchant_order_id = %s", mid) == "PENDING"
    assert scalar(env, "select error_code from payment_transactions where merchant_order_id = %s", mid) == (
        "AMOUNT_MISMATCH"
    )
    assert scalar(env, "select count(*) from subscriptions where workspace_id = %s", ws) == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_database_down_during_webhook_is_5xx(env: Env) -> None:
    dead = PostgresDatabase(f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres", connect_timeout_s=1)
    dead_deps = PaymentDeps(
        repo=PostgresPayments(dead),
        unit=lambda: PostgresPaymentsUnit(dead),
        gateway=env.gateway,
        tasks=env.tasks,
        mailer=env.mailer,
        clock=SystemClock(),
        config=env.deps.config,
    )
    with installed(preset(bootstrap.Container(env.settings), http=env.http, payment_deps=dead_deps)):
        dead_env = replace(env, apps={"payment_webhook": load_function_app("payment_webhook")})
        response = webhook(dead_env, f"ord_{uuid.uuid4().hex}")
    assert response.status_code >= 500


# ------------------------------------------------------ reconcile / sweep ----


def test_reconcile_completes_when_webhook_dropped(env: Env) -> None:
    _, ws, _, mid = paid_order(env)
    env.gateway.complete(mid)
    response = internal(env, "payment_reconcile", "/", {"merchant_order_id": mid, "step": 0, "chain": "pay"})
    assert response.status_code == 200
    assert response.get_json()["state"] == "COMPLETED"
    assert scalar(env, "select plan_id from subscriptions where workspace_id = %s", ws) == "starter"


def test_webhook_before_order_visible_is_not_lost(env: Env) -> None:
    user, ws, _ = sign_up(env)
    mid = f"ord_{uuid.uuid4().hex}"
    assert webhook(env, mid).status_code == 200  # the row does not exist yet
    task = next(t for t in env.tasks.tasks if t.payload["merchant_order_id"] == mid)
    # Now the order becomes visible and PhonePe has it completed.
    from lib.domain.payment_records import NewOrder

    env.deps.repo.create_order(NewOrder(mid, ws, user, "starter", "monthly", 99900))
    env.gateway.pay(
        merchant_order_id=mid, amount_paise=99900, redirect_url="x", expire_after_s=1200, meta_info={"udf1": ws}
    )
    env.gateway.complete(mid)
    response = internal(env, "payment_reconcile", "/", dict(task.payload))
    assert response.get_json()["state"] == "COMPLETED"
    assert (
        scalar(env, "select count(*) from webhook_events where merchant_order_id = %s and processed_at is null", mid)
        == 0
    )


def test_resend_timing_out_once_then_sweep_sends_one(env: Env) -> None:
    _, _, _, mid = paid_order(env)
    env.gateway.complete(mid)
    env.mailer.fail_next = 1
    assert webhook(env, mid).status_code == 200
    assert not [m for m in env.mailer.sent.values() if mid in m.text]
    with env.db.connection() as conn:  # the backoff has passed
        conn.execute("update email_outbox set next_attempt_at = now() where payload->>'merchant_order_id' = %s", (mid,))
    response = internal(env, "maintenance", "/sweep-outbox", {})
    assert response.status_code == 200
    assert response.get_json()["sent"] >= 1
    assert len([m for m in env.mailer.sent.values() if mid in m.text]) == 1
    assert scalar(env, "select status from email_outbox where payload->>'merchant_order_id' = %s", mid) == "sent"


def test_maintenance_reconcile_payments_requeues_stale(env: Env) -> None:
    _, _, _, mid = paid_order(env)
    with env.db.connection() as conn:
        conn.execute(
            "update payment_transactions set last_checked_at = now() - interval '1 hour' where merchant_order_id = %s",
            (mid,),
        )
    response = internal(env, "maintenance", "/reconcile-payments", {})
    assert response.status_code == 200
    assert response.get_json()["queued"] >= 1
    assert any(
        t.payload.get("merchant_order_id") == mid and str(t.payload.get("chain")).startswith("sweep")
        for t in env.tasks.tasks
    )


# ---------------------------------------------------------------- refunds ----


def _refund_cli(env: Env, *argv: str) -> tuple[int, list[str]]:
    """``python -m lib refund ...`` against the maintenance function, through WSGI."""
    import httpx

    from lib.cli import main as cli

    lines: list[str] = []
    client = httpx.Client(transport=httpx.WSGITransport(app=env.apps["maintenance"]), base_url=AUDIENCE)
    code = cli(
        ["refund", *argv, "--url", AUDIENCE],
        token_source=lambda audience: task_token(env.signer, "maintenance"),
        http=client,
        out=lines.append,
    )
    return code, lines


def test_an_operator_refund_runs_from_the_command_line_to_the_customer_email(env: Env) -> None:
    _, ws, _, mid = paid_order(env)
    env.gateway.complete(mid)
    assert webhook(env, mid).status_code == 200
    code, lines = _refund_cli(env, mid, "--reason", "charged twice", "--refund-id", f"rf_{mid}")
    assert code == 0, lines
    answer = json.loads(lines[1])
    assert answer["created"] is True
    assert answer["refund"]["state"] == "PENDING"
    assert scalar(env, "select requested_by from refunds where merchant_refund_id = %s", f"rf_{mid}") == INVOKER
    # The same command again: the same refund, not a second one.
    code, lines = _refund_cli(env, mid, "--reason", "charged twice", "--refund-id", f"rf_{mid}")
    assert json.loads(lines[1])["created"] is False
    assert scalar(env, "select count(*) from refunds where merchant_order_id = %s", mid) == 1
    env.gateway.settle_refund(f"rf_{mid}")
    response = internal(env, "payment_reconcile", "/refund", {"merchant_refund_id": f"rf_{mid}", "step": 0})
    assert response.get_json() == {"state": "COMPLETED"}
    assert scalar(env, "select state from payment_transactions where merchant_order_id = %s", mid) == "REFUNDED"
    assert scalar(env, "select status from subscriptions where workspace_id = %s", ws) == "cancelled"
    assert len([m for m in env.mailer.sent.values() if f"rf_{mid}" in m.text]) == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"merchant_refund_id": "rf_a", "reason": "r", "amount_paise": 99901}, 422, "amount_paise"),
        ({"merchant_refund_id": "rf_a", "reason": "r", "amount_paise": "10"}, 422, "amount_paise"),
        ({"merchant_refund_id": "rf_a"}, 422, "reason"),
        ({"reason": "r"}, 422, "merchant_refund_id"),
    ],
)
def test_a_bad_refund_is_a_4xx_naming_the_field_and_writes_nothing(
    env: Env, body: dict[str, Any], status: int, field: str
) -> None:
    _, _, _, mid = paid_order(env)
    env.gateway.complete(mid)
    assert webhook(env, mid).status_code == 200
    response = internal(env, "maintenance", "/refunds", {"merchant_order_id": mid, **body})
    assert response.status_code == status
    assert field in [e["path"] for e in response.get_json()["errors"]]
    assert scalar(env, "select count(*) from refunds where merchant_order_id = %s", mid) == 0


def test_an_unpaid_order_cannot_be_refunded_and_users_cannot_call_the_route(env: Env) -> None:
    _, _, token, mid = paid_order(env)  # still PENDING
    response = internal(
        env, "maintenance", "/refunds", {"merchant_order_id": mid, "merchant_refund_id": "x", "reason": "r"}
    )
    assert (response.status_code, response.get_json()["code"]) == (409, "order_not_refundable")
    as_user = (
        env.apps["maintenance"]
        .test_client()
        .post(
            "/refunds",
            json={"merchant_order_id": mid, "merchant_refund_id": "x", "reason": "r"},
            headers={"Authorization": f"Bearer {token}"},
        )
    )
    assert as_user.status_code == 401
    assert scalar(env, "select count(*) from refunds where merchant_order_id = %s", mid) == 0


# ---------------------------------------------------------------- AutoPay ----


def test_fifty_concurrent_redemption_callbacks_extend_the_period_once(env: Env) -> None:
    """UPI AutoPay over Postgres: the mandate's setup pays the first month; one renewal debit,
    reported by 50 concurrent copies of its callback, extends the period by exactly one month."""
    from datetime import timedelta

    from lib.domain.autopay import Redemption
    from lib.domain.payment_records import NewOrder

    _, ws, token = sign_up(env)
    started = initiate(env, token, {"plan": "starter", "billing_period": "monthly", "autopay": True})
    assert started.status_code == 201, started.get_data(as_text=True)
    setup = started.get_json()["merchant_order_id"]
    autopay = env.deps.autopay
    assert isinstance(autopay, FakeAutoPay)
    autopay.approve(setup)
    body = {"event": "subscription.setup.order.completed", "payload": {"merchantOrderId": setup, "state": "COMPLETED"}}
    hook = env.apps["payment_webhook"].test_client()
    assert (
        hook.post(
            "/", data=json.dumps(body), headers={"Authorization": HEADER}, content_type="application/json"
        ).status_code
        == 200
    )
    assert scalar(env, "select state from mandates where setup_merchant_order_id = %s", setup) == "ACTIVE"
    end = scalar(env, "select current_period_end from subscriptions where workspace_id = %s", ws)
    mandate = scalar(env, "select id::text from mandates where setup_merchant_order_id = %s", setup)
    user = scalar(env, "select user_id::text from payment_transactions where merchant_order_id = %s", setup)
    mid = f"ord_{uuid.uuid4().hex[:24]}"
    env.deps.repo.create_order(NewOrder(mid, ws, user, "starter", "monthly", 99900, kind="redemption"))
    with env.deps.unit() as uow:
        assert uow.mandates.add_redemption(Redemption(mid, mandate, end, end))
        uow.commit()
    msid = scalar(env, "select merchant_subscription_id from mandates where id = %s", mandate)
    autopay.orders[mid] = {
        "state": "COMPLETED",
        "amount": 99900,
        "msid": msid,
        "meta": {},
        "flow": "SUBSCRIPTION_REDEMPTION",
    }
    callback = {
        "event": "subscription.redemption.order.completed",
        "payload": {"merchantOrderId": mid, "state": "COMPLETED"},
    }
    barrier = threading.Barrier(DELIVERIES)

    def deliver(_: int) -> int:
        barrier.wait()
        client = env.apps["payment_webhook"].test_client()  # one per delivery, like PhonePe's connections
        response = client.post(
            "/", data=json.dumps(callback), headers={"Authorization": HEADER}, content_type="application/json"
        )
        return int(response.status_code)

    with ThreadPoolExecutor(DELIVERIES) as pool:
        statuses = list(pool.map(deliver, range(DELIVERIES)))
    assert statuses == [200] * DELIVERIES
    new_end = scalar(env, "select current_period_end from subscriptions where workspace_id = %s", ws)
    assert end + timedelta(days=28) <= new_end <= end + timedelta(days=31)  # one month, not fifty
    assert scalar(env, "select period_start from payment_transactions where merchant_order_id = %s", mid) == end
    assert scalar(env, "select count(*) from email_outbox where payload->>'merchant_order_id' = %s", mid) == 1
