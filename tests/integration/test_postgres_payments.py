"""PostgresPayments against the real local PostgreSQL (migrations applied by the session fixture)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from devtools.local.services import ServiceSet
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_payments import PostgresPayments
from lib.domain.payment_records import NewOrder, WebhookEvent
from lib.domain.payments import parse_period
from lib.errors import AlreadyExists

pytestmark = pytest.mark.services

# Concurrent activations of one order in the race test (the number).
RACERS = 50


@pytest.fixture(scope="module")
def db(services: ServiceSet) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(services.env["DATABASE_URL"], min_size=1, max_size=20)
    yield database
    database.close()


@pytest.fixture
def repo(db: PostgresDatabase) -> PostgresPayments:
    return PostgresPayments(db)


def sign_up(db: PostgresDatabase, name: str = "Ada") -> tuple[str, str]:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    with db.transaction() as conn:
        row = conn.execute(
            "insert into auth.users (email, raw_user_meta_data) values (%s, jsonb_build_object('full_name', %s::text))"
            " returning id",
            (email, name),
        ).fetchone()
        assert row is not None
        ws = conn.execute("select id from public.workspaces where owner_id = %s", (row["id"],)).fetchone()
        assert ws is not None
    return str(row["id"]), str(ws["id"])


def new_order(repo: PostgresPayments, user: str, ws: str, plan: str = "starter", period: str = "monthly") -> str:
    mid = f"ord_{uuid.uuid4().hex}"
    price = repo.get_plan(plan).price(parse_period(period))  # type: ignore[union-attr]
    assert price is not None
    repo.create_order(NewOrder(mid, ws, user, plan, period, price))
    return mid


def scalar(db: PostgresDatabase, query: str, *params: Any) -> Any:
    with db.connection() as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return next(iter(row.values()))


def test_plans_are_seeded(repo: PostgresPayments) -> None:
    starter = repo.get_plan("starter")
    assert starter is not None
    assert starter.price(parse_period("monthly")) == 99900
    assert starter.price(parse_period("annual")) == 999000
    enterprise = repo.get_plan("enterprise")
    assert enterprise is not None
    assert not enterprise.purchasable
    assert enterprise.price(parse_period("monthly")) is None
    assert repo.get_plan("nope") is None


def test_order_lifecycle_is_forward_only(repo: PostgresPayments, db: PostgresDatabase) -> None:
    user, ws = sign_up(db)
    mid = new_order(repo, user, ws)
    with pytest.raises(AlreadyExists):
        repo.create_order(NewOrder(mid, ws, user, "starter", "monthly", 99900))
    pending = repo.mark_pending(mid, phonepe_order_id="OMO1", checkout_url="http://pay", expires_at=None)
    assert pending is not None
    assert pending.state == "PENDING"
    assert pending.checkout_url == "http://pay"
    assert repo.mark_pending(mid, phonepe_order_id="OMO2", checkout_url="x", expires_at=None) is None
    failed = repo.transition(mid, "FAILED", from_states=("CREATED", "PENDING"), error_code="DECLINED")
    assert failed is not None
    assert failed.state == "FAILED"
    assert failed.error_code == "DECLINED"
    assert repo.transition(mid, "EXPIRED", from_states=("CREATED", "PENDING")) is None
    # COMPLETED after FAILED: NEEDS_REVIEW, nothing granted.
    result = repo.activate(mid, payment_details={"late": True}, email_subject="s")
    assert result.outcome == "needs_review"
    assert result.order is not None
    assert result.order.state == "NEEDS_REVIEW"
    assert repo.get_subscription(ws) is None
    assert scalar(db, "select count(*) from public.email_outbox where payload->>'merchant_order_id' = %s", mid) == 0


def test_activation_grants_subscription_status_and_outbox_once(repo: PostgresPayments, db: PostgresDatabase) -> None:
    user, ws = sign_up(db, "Grace <b>")
    mid = new_order(repo, user, ws, "growth", "annual")
    first = repo.activate(mid, payment_details=[{"paymentMode": "UPI_QR"}], email_subject="Payment confirmed")
    assert first.granted
    assert first.outbox_id is not None
    assert first.subscription is not None
    sub = first.subscription
    assert sub.plan_id == "growth"
    assert sub.status == "active"
    assert sub.billing_period == "annual"
    assert sub.current_period_end is not None
    assert scalar(
        db,
        "select current_period_start + interval '12 months' = current_period_end from public.subscriptions"
        " where workspace_id = %s",
        ws,
    )
    assert scalar(db, "select onboarding_status from public.users where id = %s", user) == "payment_confirmed"
    second = repo.activate(mid, payment_details=None, email_subject="Payment confirmed")
    assert second.outcome == "already_completed"
    assert not second.granted
    (row,) = repo.claim_due_emails(limit=10, lease_s=60) or [None]
    assert row is not None
    assert row.id == first.outbox_id
    assert row.idempotency_key == f"payment-confirmed/{first.outbox_id}"
    assert row.payload["amount_paise"] == 2499000
    assert row.payload["workspace_name"] == "Grace <b>'s Workspace"
    assert repo.claim_due_emails(limit=10, lease_s=60) == []  # leased
    repo.mark_email_sent(row.id)
    assert scalar(db, "select status from public.email_outbox where id = %s", row.id) == "sent"


def test_onboarding_status_already_past_pending_does_not_roll_back(
    repo: PostgresPayments, db: PostgresDatabase
) -> None:
    user, ws = sign_up(db)
    with db.connection() as conn:
        conn.execute("update public.users set onboarding_status = 'payment_confirmed' where id = %s", (user,))
        conn.execute("update public.users set onboarding_status = 'in_progress' where id = %s", (user,))
    mid = new_order(repo, user, ws)
    assert repo.activate(mid, payment_details=None, email_subject="s").granted
    assert scalar(db, "select onboarding_status from public.users where id = %s", user) == "in_progress"


def test_renewal_while_active_extends_from_current_end(repo: PostgresPayments, db: PostgresDatabase) -> None:
    user, ws = sign_up(db)
    first = repo.activate(new_order(repo, user, ws), payment_details=None, email_subject="s")
    assert first.subscription is not None
    assert first.subscription.current_period_end is not None
    second = repo.activate(new_order(repo, user, ws), payment_details=None, email_subject="s")
    assert second.granted
    assert second.subscription is not None
    assert second.subscription.current_period_start == first.subscription.current_period_start
    assert scalar(
        db,
        "select %s::timestamptz + interval '1 month' = current_period_end from public.subscriptions"
        " where workspace_id = %s",
        first.subscription.current_period_end,
        ws,
    )


def test_concurrent_activations_grant_once(repo: PostgresPayments, db: PostgresDatabase) -> None:
    user, ws = sign_up(db)
    mid = new_order(repo, user, ws)
    repo.mark_pending(mid, phonepe_order_id="OMO", checkout_url="http://pay", expires_at=None)
    barrier = threading.Barrier(RACERS)

    def race(_: int) -> str:
        barrier.wait()
        return repo.activate(mid, payment_details=None, email_subject="s").outcome

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(race, range(RACERS)))
    assert outcomes.count("granted") == 1
    assert outcomes.count("already_completed") == RACERS - 1
    assert scalar(db, "select count(*) from public.email_outbox where payload->>'merchant_order_id' = %s", mid) == 1
    assert scalar(db, "select count(*) from public.subscriptions where workspace_id = %s", ws) == 1


def test_free_plan_and_no_downgrade_of_a_running_period(repo: PostgresPayments, db: PostgresDatabase) -> None:
    user, ws = sign_up(db)
    free = repo.activate_free(ws, user, "monthly")
    assert free.plan_id == "free"
    assert free.current_period_end is None
    assert scalar(db, "select onboarding_status from public.users where id = %s", user) == "payment_confirmed"
    paid = repo.activate(new_order(repo, user, ws), payment_details=None, email_subject="s")
    assert paid.subscription is not None
    assert paid.subscription.plan_id == "starter"
    assert repo.activate_free(ws, user, "monthly").plan_id == "starter"


def test_webhook_ledger_records_once(repo: PostgresPayments) -> None:
    key = f"checkout.order.completed:{uuid.uuid4().hex}:COMPLETED"
    event = WebhookEvent("phonepe", key, "checkout.order.completed", "ord_x", {"a": 1}, '{"a":1}', True)
    assert repo.record_webhook_event(event).inserted
    again = repo.record_webhook_event(event)
    assert not again.inserted
    assert not again.processed
    repo.finish_webhook_event("phonepe", key, outcome="granted")
    done = repo.record_webhook_event(event)
    assert done.processed
    assert done.outcome == "granted"


def test_webhook_ledger_reads_the_order_in_the_same_call(repo: PostgresPayments, db: PostgresDatabase) -> None:
    user, ws = sign_up(db)
    mid = new_order(repo, user, ws)
    key = f"checkout.order.completed:{mid}:COMPLETED"
    event = WebhookEvent("phonepe", key, "checkout.order.completed", mid, {"merchantOrderId": mid}, "{}", True)
    first = repo.record_webhook_event(event)
    assert first.inserted
    assert first.order is not None
    assert first.order.merchant_order_id == mid
    assert first.order.workspace_id == ws
    repeat = repo.record_webhook_event(event)
    assert not repeat.inserted
    assert repeat.order == repo.get_order(mid)
    unknown_key = f"checkout.order.completed:ord_{uuid.uuid4().hex}:COMPLETED"
    unknown = WebhookEvent("phonepe", unknown_key, "checkout.order.completed", "ord_missing", {}, "{}", True)
    recorded = repo.record_webhook_event(unknown)
    assert recorded.inserted
    assert recorded.order is None  # not visible yet: the webhook schedules a reconciliation instead


def test_stale_open_orders_and_outbox_backoff(repo: PostgresPayments, db: PostgresDatabase) -> None:
    user, ws = sign_up(db)
    mid = new_order(repo, user, ws)
    assert mid in {o.merchant_order_id for o in repo.stale_open_orders(older_than_s=0, limit=1000)}
    repo.touch_checked(mid)
    assert mid not in {o.merchant_order_id for o in repo.stale_open_orders(older_than_s=60, limit=1000)}
    result = repo.activate(mid, payment_details=None, email_subject="s")
    assert result.outbox_id is not None
    claimed = repo.claim_email(result.outbox_id, lease_s=60)
    assert claimed is not None
    assert claimed.attempts == 1
    repo.mark_email_failed(claimed.id, error="timeout", retry_in_s=0)
    again = repo.claim_email(result.outbox_id, lease_s=60)
    assert again is not None
    assert again.attempts == 2
    repo.mark_email_failed(again.id, error="rejected", retry_in_s=None)
    assert scalar(db, "select status from public.email_outbox where id = %s", again.id) == "failed"


def outbox_rows(db: PostgresDatabase, mid: str) -> list[dict[str, Any]]:
    with db.connection() as conn:
        return list(
            conn.execute(
                "select id, kind, subject, payload, idempotency_key, status from public.email_outbox"
                " where payload->>'merchant_order_id' = %s",
                (mid,),
            ).fetchall()
        )


def test_fail_commits_the_failed_state_and_its_outbox_row_together(
    repo: PostgresPayments, db: PostgresDatabase
) -> None:
    user, ws = sign_up(db, "Lin <i>")
    mid = new_order(repo, user, ws)
    repo.mark_pending(mid, phonepe_order_id="OMO", checkout_url="http://pay", expires_at=None)
    # The outbox insert fails (a payload that is not JSON): the FAILED move is rolled back with it.
    with pytest.raises(TypeError):
        repo.fail(
            mid, error_code="PAYMENT_DECLINED", payment_details=None, email_subject="s", email_extra={"x": object()}
        )
    assert scalar(db, "select state from public.payment_transactions where merchant_order_id = %s", mid) == "PENDING"
    assert outbox_rows(db, mid) == []

    failed, outbox_id = repo.fail(
        mid,
        error_code="PAYMENT_DECLINED",
        payment_details=[{"paymentMode": "UPI_INTENT", "state": "FAILED"}],
        email_subject="Payment failed: Starter plan",
        email_extra={"reason": "declined", "retry_url": "http://app/billing"},
    )
    assert failed is not None
    assert failed.state == "FAILED"
    assert failed.error_code == "PAYMENT_DECLINED"
    assert outbox_id is not None
    (row,) = outbox_rows(db, mid)
    assert str(row["id"]) == outbox_id
    assert row["kind"] == "payment-failed"
    assert row["idempotency_key"] == f"payment-failed/{outbox_id}"
    assert row["subject"] == "Payment failed: Starter plan"
    assert row["status"] == "pending"
    payload = row["payload"]
    assert payload["plan_name"] == "Starter"
    assert payload["amount_paise"] == 99900
    assert payload["full_name"] == "Lin <i>"
    assert payload["workspace_name"]
    assert payload["reason"] == "declined"
    assert payload["retry_url"] == "http://app/billing"
    # A repeat matches nothing and writes nothing; neither does COMPLETED-after-FAILED.
    assert repo.fail(mid, error_code="PAYMENT_DECLINED", payment_details=None, email_subject="s") == (None, None)
    assert repo.activate(mid, payment_details=None, email_subject="s").outcome == "needs_review"
    assert len(outbox_rows(db, mid)) == 1
    claimed = repo.claim_email(outbox_id, lease_s=60)
    assert claimed is not None
    assert claimed.kind == "payment-failed"


def test_concurrent_failed_deliveries_write_one_email(repo: PostgresPayments, db: PostgresDatabase) -> None:
    user, ws = sign_up(db)
    mid = new_order(repo, user, ws)
    repo.mark_pending(mid, phonepe_order_id="OMO", checkout_url="http://pay", expires_at=None)
    barrier = threading.Barrier(RACERS)

    def race(_: int) -> str | None:
        barrier.wait()
        return repo.fail(mid, error_code="PAYMENT_DECLINED", payment_details=None, email_subject="s")[1]

    with ThreadPoolExecutor(RACERS) as pool:
        outbox_ids = [i for i in pool.map(race, range(RACERS)) if i is not None]
    assert len(outbox_ids) == 1
    assert [str(r["id"]) for r in outbox_rows(db, mid)] == outbox_ids
    assert scalar(db, "select state from public.payment_transactions where merchant_order_id = %s", mid) == "FAILED"


def test_fail_from_created_and_never_from_a_final_state(repo: PostgresPayments, db: PostgresDatabase) -> None:
    user, ws = sign_up(db)
    created = new_order(repo, user, ws)
    assert repo.fail(created, error_code="E", payment_details=None, email_subject="s")[1] is not None
    expired = new_order(repo, user, ws)
    assert repo.transition(expired, "EXPIRED", from_states=("CREATED", "PENDING")) is not None
    assert repo.fail(expired, error_code="E", payment_details=None, email_subject="s") == (None, None)
    assert outbox_rows(db, expired) == []
    assert scalar(db, "select state from public.payment_transactions where merchant_order_id = %s", expired) == (
        "EXPIRED"
    )


def test_outbox_backlog_counts_pending_rows_and_the_oldest_wait(repo: PostgresPayments, db: PostgresDatabase) -> None:
    before = repo.outbox_backlog()
    user, ws = sign_up(db, "Hedy")
    activation = repo.activate(new_order(repo, user, ws), payment_details=None, email_subject="Payment confirmed")
    assert activation.outbox_id is not None
    with db.connection() as conn:
        conn.execute(
            "update public.email_outbox set created_at = now() - interval '2 hours' where id = %s",
            (activation.outbox_id,),
        )
    waiting = repo.outbox_backlog()
    assert waiting.pending == before.pending + 1
    assert 7200 <= waiting.oldest_age_s < 7200 + 60
    repo.mark_email_sent(activation.outbox_id)
    assert repo.outbox_backlog().pending == before.pending
