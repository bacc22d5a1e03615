"""The billing function and the subscription lifecycle through the real functions and Postgres:
the billing view, cancel and resume, the sweep route, and a lapsed workspace (every paid route
402, the manifest and its history still readable)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.local.devserver import load_function_app
from devtools.local.services import ServiceSet
from lib.testing.fake_payments import FakeGateway, FakeMailer
from tests.conftest import needs
from tests.functions.bcm_env import BcmEnv, User, build_env, load_apps
from tests.functions.support import installed, preset, task_token

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def env(services: ServiceSet) -> Iterator[BcmEnv]:
    needs(services, "firestore")
    stack = build_env(services.env)
    preset(stack.container, phonepe=FakeGateway(), mailer=FakeMailer())
    with installed(stack.container):
        load_apps(stack)
        for name in ("billing", "maintenance", "onboarding_step"):
            stack.apps[name] = load_function_app(name)
        yield stack
    stack.container.db.close()  # type: ignore[attr-defined]


def billing(env: BcmEnv, user: User, method: str = "GET", path: str = "/", **kw: Any) -> Any:
    return env.apps["billing"].test_client().open(path, method=method, headers=user.auth, **kw)


def set_period(env: BcmEnv, user: User, *, ended_days_ago: int) -> None:
    """Move the workspace's period so it ended ``ended_days_ago`` days ago (negative: still running)."""
    with env.container.db.connection() as conn:
        conn.execute(
            "update public.subscriptions set current_period_start = now() - make_interval(days => %s + 30),"
            " current_period_end = now() - make_interval(days => %s), next_sweep_at = now()"
            " where workspace_id = %s",
            (ended_days_ago, ended_days_ago, user.workspace_id),
        )
    env.container.entitlements.forget(user.workspace_id)


def test_billing_view_cancel_and_resume(env: BcmEnv) -> None:
    user = env.sign_up()
    view = billing(env, user)
    assert view.status_code == 200, view.get_data(as_text=True)
    body = view.get_json()
    assert body["workspace_id"] == user.workspace_id
    assert body["subscription"]["status"] == "active"
    assert body["subscription"]["cancel_at_period_end"] is False
    assert body["transactions"] == []
    cancelled = billing(env, user, "POST", "/cancel", json={})
    assert cancelled.status_code == 200
    assert cancelled.get_json()["subscription"]["cancel_at_period_end"] is True
    again = billing(env, user, "POST", "/cancel", json={})
    assert again.status_code == 409
    assert again.get_json()["code"] == "nothing_to_cancel"
    resumed = billing(env, user, "POST", "/resume", json={})
    assert resumed.status_code == 200
    assert resumed.get_json()["subscription"]["cancel_at_period_end"] is False
    outbox = env.scalar(
        "select count(*) from public.email_outbox"
        " where kind = 'subscription-cancelled' and payload->>'workspace_id' = %s",
        user.workspace_id,
    )
    assert outbox == 1
    stranger = env.sign_up()
    other = billing(env, stranger, "GET", f"/?workspace_id={user.workspace_id}")
    assert other.status_code == 404
    assert billing(env, stranger, "POST", "/cancel", json={"workspace_id": user.workspace_id}).status_code == 404


def test_change_schedules_for_the_period_end_and_bad_input_changes_nothing(env: BcmEnv) -> None:
    user = env.sign_up()  # an enterprise (annual) plan: any sold plan is cheaper
    for body, status, code in [
        ({"plan": "nope", "billing_period": "monthly"}, 422, "unknown_plan"),
        ({"plan": "growth", "billing_period": "weekly"}, 422, "unknown_billing_period"),
        ({"plan": "growth"}, 422, "unknown_billing_period"),
        ({"plan": "free", "billing_period": "monthly"}, 409, "change_not_schedulable"),
    ]:
        response = billing(env, user, "POST", "/change", json=body)
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.get_json()["code"] == code
    scheduled = env.scalar(
        "select scheduled_plan_id from public.subscriptions where workspace_id = %s", user.workspace_id
    )
    assert scheduled is None
    changed = billing(env, user, "POST", "/change", json={"plan": "growth", "billing_period": "annual"})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    view = changed.get_json()["subscription"]
    assert view["scheduled_change"]["plan"] == "growth"
    assert view["next_charge_paise"] == 2499000
    assert billing(env, user).get_json()["subscription"]["scheduled_change"]["billing_period"] == "annual"


def test_without_a_plan_the_view_is_empty_and_cancel_is_404(env: BcmEnv) -> None:
    user = env.sign_up(paid=False)
    assert billing(env, user).get_json()["subscription"] is None
    response = billing(env, user, "POST", "/cancel", json={})
    assert response.status_code == 404
    assert response.get_json()["code"] == "subscription_not_found"


def test_the_sweep_route_moves_a_lapsed_subscription_and_writes_its_notice_once(env: BcmEnv) -> None:
    user = env.sign_up()
    set_period(env, user, ended_days_ago=10)
    headers = {"Authorization": f"Bearer {task_token(env.signer, 'maintenance')}"}
    client = env.apps["maintenance"].test_client()
    first = client.post("/sweep-subscriptions", json={}, headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["moved"] >= 1
    client.post("/sweep-subscriptions", json={}, headers=headers)
    status = env.scalar("select status from public.subscriptions where workspace_id = %s", user.workspace_id)
    assert status == "expired"
    notices = env.scalar(
        "select count(*) from public.email_outbox"
        " where kind = 'subscription-expired' and payload->>'workspace_id' = %s",
        user.workspace_id,
    )
    assert notices == 1
    assert client.post("/sweep-subscriptions", json={}).status_code == 401


def test_a_lapsed_workspace_gets_402_on_every_paid_route_and_keeps_reading(env: BcmEnv) -> None:
    user = env.finalized_user()
    session = env.apps["onboarding_step"].test_client().post("/sessions", json={}, headers=user.auth)
    set_period(env, user, ended_days_ago=10)
    manifest = env.get(user, "/manifest")
    assert manifest.status_code == 200
    assert env.get(user, "/version-history").status_code == 200
    step = env.apps["onboarding_step"].test_client()
    paid_calls = {
        "rebuild": env.post(user, "/rebuild", {"reason": "x"}),
        "export": env.get(user, "/export?format=json"),
        "guardrails": env.post(user, "/guardrails/check", {"text": "hello"}),
        "recommendations": env.get(user, "/recommendations?for=move"),
    }
    assert session.status_code == 201  # a new session after the finalized one (while paid)
    sid = session.get_json()["session_id"]
    paid_calls["save"] = step.put(f"/sessions/{sid}/steps/1", json={"data": {}, "draft": True}, headers=user.auth)
    paid_calls["ai"] = step.post(f"/sessions/{sid}/steps/2/ai", json={}, headers=user.auth)
    # Reading the open session stays possible (POST /sessions answers the active one).
    assert step.post("/sessions", json={}, headers=user.auth).status_code == 200
    for name, response in paid_calls.items():
        assert response.status_code == 402, (name, response.get_data(as_text=True))
        problem = response.get_json()
        assert problem["code"] == "subscription_inactive"
        assert problem["subscription_status"] == "expired"
        assert problem["period_end"]
    set_period(env, user, ended_days_ago=-20)  # renewed: in again at once
    assert env.get(user, "/recommendations?for=move").status_code == 200


def test_a_paid_order_has_a_numbered_receipt_served_as_a_pdf_to_members_only(env: BcmEnv) -> None:
    import io
    import uuid

    import httpx
    from pypdf import PdfReader

    from lib.domain.payment_records import NewOrder
    from lib.domain.receipts import financial_year
    from lib.services.payments import grants

    user = env.sign_up()
    deps = env.container.payment_deps
    mid = f"ord_{uuid.uuid4().hex[:20]}"
    deps.repo.create_order(NewOrder(mid, user.workspace_id, user.id, "growth", "monthly", 249900))
    assert grants.grant(deps, mid, payment_details=None, email_subject="Payment confirmed").granted
    [txn] = [t for t in billing(env, user).get_json()["transactions"] if t["merchant_order_id"] == mid]
    number = txn["receipt_number"]
    assert number.startswith(f"R/{financial_year(deps.clock.now())}/")
    assert txn["period_end"] is not None

    link = billing(env, user, "GET", f"/receipt?number={number}")
    assert link.status_code == 200, link.get_data(as_text=True)
    pdf = httpx.get(link.get_json()["url"], timeout=10).content
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert number in text
    assert "2,499.00" in text
    assert "Growth plan, monthly" in text

    stranger = env.sign_up()
    assert billing(env, stranger, "GET", f"/receipt?number={number}").status_code == 404
    bad = billing(env, user, "GET", "/receipt?number=R-1")
    assert bad.status_code == 422
    assert [e["path"] for e in bad.get_json()["errors"]] == ["number"]
