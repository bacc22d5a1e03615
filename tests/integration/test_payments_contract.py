"""The payments port and its rules, run against the in-memory fake AND the real PostgreSQL.

The rules (grant, fail, free plan) are ``lib.services.payments.grants``, each one
unit of work; the same calls run over ``FakePayments`` and ``PostgresPayments``
here, so the fake cannot drift from the database the unit tests stand in for.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from devtools.local.services import ServiceSet
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_payments import PostgresPayments, PostgresPaymentsUnit
from lib.clock import SystemClock
from lib.domain.autopay import Mandate, Redemption
from lib.domain.payment_records import Activation, NewEmail, NewOrder, Order, WebhookEvent
from lib.domain.payments import parse_period, subscription_period
from lib.domain.refunds import NewRefund, RefundRequest
from lib.errors import AlreadyExists, AppError, Rejected
from lib.services.payments import grants, refunds
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.ports import PaymentsRepo, PaymentsUnit
from lib.testing import accounts
from lib.testing.fake_payments import FakeGateway, FakePayments, FakePaymentsUnit, payment_deps
from lib.testing.fakes import ManualClock

# Concurrent activations of one order in the race tests.
RACERS = 50


@dataclass
class Payments:
    """One backend behind the same handles."""

    repo: PaymentsRepo
    deps: PaymentDeps
    sign_up: Callable[[str], tuple[str, str]]
    onboarding_status: Callable[[str], str]
    outbox_rows: Callable[[str], list[dict[str, Any]]]
    age_email: Callable[[str, float], None]
    let_time_pass: Callable[[float], object]

    def order(self, mid: str) -> Order:
        order = self.repo.get_order(mid)
        assert order is not None
        return order


@pytest.fixture(scope="module")
def db(services: ServiceSet) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(services.env["DATABASE_URL"], min_size=1, max_size=RACERS + 5)
    yield database
    database.close()


def _fake() -> Payments:
    clock = ManualClock()
    fake = FakePayments(clock)

    def sign_up(name: str) -> tuple[str, str]:
        return fake.add_user(f"{uuid.uuid4().hex[:10]}@example.com", name)

    def outbox_rows(mid: str) -> list[dict[str, Any]]:
        return [r for r in fake.outbox.values() if r["payload"].get("merchant_order_id") == mid]

    def age_email(outbox_id: str, seconds: float) -> None:
        fake.outbox[outbox_id]["created_at"] -= timedelta(seconds=seconds)

    return Payments(
        fake,
        payment_deps(fake, lambda: FakePaymentsUnit(fake), clock),
        sign_up,
        lambda user: str(fake.users[user]["onboarding_status"]),
        outbox_rows,
        age_email,
        clock.advance,
    )


def _postgres(db: PostgresDatabase) -> Payments:
    repo = PostgresPayments(db)

    def sign_up(name: str) -> tuple[str, str]:
        return accounts.sign_up(db, full_name=name)

    def onboarding_status(user: str) -> str:
        with db.connection() as conn:
            row = conn.execute("select onboarding_status from public.users where id = %s", (user,)).fetchone()
        assert row is not None
        return str(row["onboarding_status"])

    def outbox_rows(mid: str) -> list[dict[str, Any]]:
        with db.connection() as conn:
            rows = conn.execute(
                "select id::text, kind, subject, payload, idempotency_key, status from public.email_outbox"
                " where payload->>'merchant_order_id' = %s",
                (mid,),
            ).fetchall()
        return [dict(r) for r in rows]

    def age_email(outbox_id: str, seconds: float) -> None:
        with db.connection() as conn:
            conn.execute(
                "update public.email_outbox set created_at = created_at - make_interval(secs => %s) where id = %s",
                (seconds, outbox_id),
            )

    return Payments(
        repo,
        payment_deps(repo, lambda: PostgresPaymentsUnit(db), SystemClock()),
        sign_up,
        onboarding_status,
        outbox_rows,
        age_email,
        time.sleep,
    )


@pytest.fixture(params=["fake", pytest.param("postgres", marks=pytest.mark.services)])
def pay(request: pytest.FixtureRequest) -> Payments:
    if request.param == "fake":
        return _fake()
    return _postgres(request.getfixturevalue("db"))


def new_order(pay: Payments, user: str, ws: str, plan: str = "starter", period: str = "monthly") -> str:
    mid = f"ord_{uuid.uuid4().hex}"
    price = pay.repo.get_plan(plan).price(parse_period(period))  # type: ignore[union-attr]
    assert price is not None
    pay.repo.create_order(NewOrder(mid, ws, user, plan, period, price))
    return mid


def activate(pay: Payments, mid: str, *, payment_details: Any = None, email_subject: str = "s") -> Activation:
    return grants.grant(pay.deps, mid, payment_details=payment_details, email_subject=email_subject)


def fail(pay: Payments, mid: str, error_code: str = "PAYMENT_DECLINED", **kw: Any) -> tuple[Order | None, str | None]:
    kw.setdefault("payment_details", None)
    kw.setdefault("email_subject", "s")
    return grants.fail(pay.deps, mid, error_code=error_code, **kw)


def test_plans_are_seeded(pay: Payments) -> None:
    starter = pay.repo.get_plan("starter")
    assert starter is not None
    assert starter.price(parse_period("monthly")) == 99900
    assert starter.price(parse_period("annual")) == 999000
    enterprise = pay.repo.get_plan("enterprise")
    assert enterprise is not None
    assert not enterprise.purchasable
    assert enterprise.price(parse_period("monthly")) is None
    assert pay.repo.get_plan("nope") is None


def test_order_lifecycle_is_forward_only(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    mid = new_order(pay, user, ws)
    with pytest.raises(AlreadyExists):
        pay.repo.create_order(NewOrder(mid, ws, user, "starter", "monthly", 99900))
    pending = pay.repo.mark_pending(mid, phonepe_order_id="OMO1", checkout_url="http://pay", expires_at=None)
    assert pending is not None
    assert pending.state == "PENDING"
    assert pending.checkout_url == "http://pay"
    assert pay.repo.mark_pending(mid, phonepe_order_id="OMO2", checkout_url="x", expires_at=None) is None
    failed = pay.repo.transition(mid, "FAILED", from_states=("CREATED", "PENDING"), error_code="DECLINED")
    assert failed is not None
    assert failed.state == "FAILED"
    assert failed.error_code == "DECLINED"
    assert pay.repo.transition(mid, "EXPIRED", from_states=("CREATED", "PENDING")) is None
    # COMPLETED after FAILED: NEEDS_REVIEW, nothing granted.
    result = activate(pay, mid, payment_details={"late": True})
    assert result.outcome == "needs_review"
    assert result.order is not None
    assert result.order.state == "NEEDS_REVIEW"
    assert pay.repo.get_subscription(ws) is None
    assert pay.outbox_rows(mid) == []


def test_activation_grants_subscription_status_and_outbox_once(pay: Payments) -> None:
    user, ws = pay.sign_up("Grace <b>")
    mid = new_order(pay, user, ws, "growth", "annual")
    first = activate(pay, mid, payment_details=[{"paymentMode": "UPI_QR"}], email_subject="Payment confirmed")
    assert first.granted
    assert first.outbox_id is not None
    assert first.subscription is not None
    sub = first.subscription
    assert sub.plan_id == "growth"
    assert sub.status == "active"
    assert sub.billing_period == "annual"
    assert sub.current_period_end == subscription_period(None, "annual", sub.current_period_start)[1]
    assert pay.repo.get_subscription(ws) == sub
    assert pay.order(mid).state == "COMPLETED"
    assert pay.order(mid).completed_at is not None
    assert pay.onboarding_status(user) == "payment_confirmed"
    second = activate(pay, mid, email_subject="Payment confirmed")
    assert second.outcome == "already_completed"
    assert not second.granted
    claimed = [r for r in pay.repo.claim_due_emails(limit=1000, lease_s=60) if r.id == first.outbox_id]
    assert len(claimed) == 1
    row = claimed[0]
    assert row.idempotency_key == f"payment-confirmed/{first.outbox_id}"
    assert row.payload["amount_paise"] == 2499000
    assert row.payload["workspace_name"] == "Grace <b>'s Workspace"
    assert row.payload["next_billing_date"] == sub.current_period_end.date().isoformat()
    assert pay.repo.claim_email(row.id, lease_s=60) is None  # leased
    pay.repo.mark_email_sent(row.id)
    assert [r["status"] for r in pay.outbox_rows(mid)] == ["sent"]


def test_onboarding_status_already_past_pending_does_not_roll_back(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    with pay.deps.unit() as uow:
        uow.payments.confirm_onboarding(user)
        uow.commit()
    assert pay.onboarding_status(user) == "payment_confirmed"
    assert activate(pay, new_order(pay, user, ws)).granted
    assert pay.onboarding_status(user) == "payment_confirmed"


def test_a_unit_left_without_commit_changes_nothing(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    mid = new_order(pay, user, ws)
    with pay.deps.unit() as uow:
        uow.payments.transition(mid, "FAILED", from_states=("CREATED",), error_code="E")
        uow.payments.confirm_onboarding(user)
    assert pay.order(mid).state == "CREATED"
    assert pay.onboarding_status(user) == "pending"


def test_renewal_while_active_extends_from_current_end(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    first = activate(pay, new_order(pay, user, ws))
    assert first.subscription is not None
    assert first.subscription.current_period_end is not None
    second = activate(pay, new_order(pay, user, ws))
    assert second.granted
    assert second.subscription is not None
    assert second.subscription.current_period_start == first.subscription.current_period_start
    expected_end = subscription_period(None, "monthly", first.subscription.current_period_end)[1]
    assert second.subscription.current_period_end == expected_end


def test_concurrent_activations_grant_once(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    mid = new_order(pay, user, ws)
    pay.repo.mark_pending(mid, phonepe_order_id="OMO", checkout_url="http://pay", expires_at=None)
    barrier = threading.Barrier(RACERS)

    def race(_: int) -> str:
        barrier.wait()
        return activate(pay, mid).outcome

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(race, range(RACERS)))
    assert outcomes.count("granted") == 1
    assert outcomes.count("already_completed") == RACERS - 1
    assert len(pay.outbox_rows(mid)) == 1


def test_free_plan_and_no_downgrade_of_a_running_period(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    free = grants.grant_free(pay.deps, ws, user, "monthly")
    assert free.plan_id == "free"
    assert free.current_period_end is None
    assert pay.onboarding_status(user) == "payment_confirmed"
    assert grants.grant_free(pay.deps, ws, user, "monthly") == free  # choosing free again changes nothing
    paid = activate(pay, new_order(pay, user, ws))
    assert paid.subscription is not None
    assert paid.subscription.plan_id == "starter"
    assert grants.grant_free(pay.deps, ws, user, "monthly").plan_id == "starter"
    assert pay.repo.get_subscription(ws) == paid.subscription


def test_webhook_ledger_records_once(pay: Payments) -> None:
    key = f"checkout.order.completed:{uuid.uuid4().hex}:COMPLETED"
    event = WebhookEvent("phonepe", key, "checkout.order.completed", "ord_x", {"a": 1}, '{"a":1}', True)
    assert pay.repo.record_webhook_event(event).inserted
    again = pay.repo.record_webhook_event(event)
    assert not again.inserted
    assert not again.processed
    pay.repo.finish_webhook_event("phonepe", key, outcome="granted")
    done = pay.repo.record_webhook_event(event)
    assert done.processed
    assert done.outcome == "granted"


def test_webhook_ledger_reads_the_order_in_the_same_call(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    mid = new_order(pay, user, ws)
    key = f"checkout.order.completed:{mid}:COMPLETED"
    event = WebhookEvent("phonepe", key, "checkout.order.completed", mid, {"merchantOrderId": mid}, "{}", True)
    first = pay.repo.record_webhook_event(event)
    assert first.inserted
    assert first.order is not None
    assert first.order.merchant_order_id == mid
    assert first.order.workspace_id == ws
    repeat = pay.repo.record_webhook_event(event)
    assert not repeat.inserted
    assert repeat.order == pay.repo.get_order(mid)
    unknown_key = f"checkout.order.completed:ord_{uuid.uuid4().hex}:COMPLETED"
    unknown = WebhookEvent("phonepe", unknown_key, "checkout.order.completed", "ord_missing", {}, "{}", True)
    recorded = pay.repo.record_webhook_event(unknown)
    assert recorded.inserted
    assert recorded.order is None  # not visible yet: the webhook schedules a reconciliation instead


def test_stale_open_orders_and_outbox_backoff(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    mid = new_order(pay, user, ws)
    pay.let_time_pass(0.01)
    assert mid in {o.merchant_order_id for o in pay.repo.stale_open_orders(older_than_s=0, limit=1000)}
    pay.repo.touch_checked(mid)
    assert mid not in {o.merchant_order_id for o in pay.repo.stale_open_orders(older_than_s=60, limit=1000)}
    result = activate(pay, mid)
    assert result.outbox_id is not None
    claimed = pay.repo.claim_email(result.outbox_id, lease_s=60)
    assert claimed is not None
    assert claimed.attempts == 1
    pay.repo.mark_email_failed(claimed.id, error="timeout", retry_in_s=0)
    again = pay.repo.claim_email(result.outbox_id, lease_s=60)
    assert again is not None
    assert again.attempts == 2
    pay.repo.mark_email_failed(again.id, error="rejected", retry_in_s=None)
    assert [r["status"] for r in pay.outbox_rows(mid)] == ["failed"]


class _PoisonedOutbox:
    """A unit whose outbox write fails after the order moved: the whole unit must be undone."""

    def __init__(self, unit: PaymentsUnit) -> None:
        self._unit = unit

    def __enter__(self) -> _PoisonedOutbox:
        self._unit.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._unit.__exit__(*exc)

    def commit(self) -> None:
        self._unit.commit()

    @property
    def payments(self) -> Any:
        real = self._unit.payments

        class _Repo:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def add_email(self, email: Any) -> bool:
                raise RuntimeError("outbox write failed")

        return _Repo()


def test_fail_commits_the_failed_state_and_its_outbox_row_together(pay: Payments) -> None:
    user, ws = pay.sign_up("Lin <i>")
    mid = new_order(pay, user, ws)
    pay.repo.mark_pending(mid, phonepe_order_id="OMO", checkout_url="http://pay", expires_at=None)
    real_unit = pay.deps.unit
    pay.deps.unit = lambda: _PoisonedOutbox(real_unit())
    with pytest.raises(RuntimeError, match="outbox write failed"):
        fail(pay, mid)
    pay.deps.unit = real_unit
    assert pay.order(mid).state == "PENDING"
    assert pay.outbox_rows(mid) == []

    failed, outbox_id = fail(
        pay,
        mid,
        payment_details=[{"paymentMode": "UPI_INTENT", "state": "FAILED"}],
        email_subject="Payment failed: Starter plan",
        email_extra={"reason": "declined", "retry_url": "http://app/billing"},
    )
    assert failed is not None
    assert failed.state == "FAILED"
    assert failed.error_code == "PAYMENT_DECLINED"
    assert outbox_id is not None
    (row,) = pay.outbox_rows(mid)
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
    assert fail(pay, mid) == (None, None)
    assert activate(pay, mid).outcome == "needs_review"
    assert len(pay.outbox_rows(mid)) == 1
    claimed = pay.repo.claim_email(outbox_id, lease_s=60)
    assert claimed is not None
    assert claimed.kind == "payment-failed"


def test_concurrent_failed_deliveries_write_one_email(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    mid = new_order(pay, user, ws)
    pay.repo.mark_pending(mid, phonepe_order_id="OMO", checkout_url="http://pay", expires_at=None)
    barrier = threading.Barrier(RACERS)

    def race(_: int) -> str | None:
        barrier.wait()
        return fail(pay, mid)[1]

    with ThreadPoolExecutor(RACERS) as pool:
        outbox_ids = [i for i in pool.map(race, range(RACERS)) if i is not None]
    assert len(outbox_ids) == 1
    assert [str(r["id"]) for r in pay.outbox_rows(mid)] == outbox_ids
    assert pay.order(mid).state == "FAILED"


def test_fail_from_created_and_never_from_a_final_state(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    created = new_order(pay, user, ws)
    assert fail(pay, created, "E")[1] is not None
    expired = new_order(pay, user, ws)
    assert pay.repo.transition(expired, "EXPIRED", from_states=("CREATED", "PENDING")) is not None
    assert fail(pay, expired, "E") == (None, None)
    assert pay.outbox_rows(expired) == []
    assert pay.order(expired).state == "EXPIRED"


def test_an_idempotency_key_is_written_once(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    mid = new_order(pay, user, ws)
    facts = pay.repo.email_facts(user, ws, "starter")
    assert facts is not None
    assert facts.plan_name == "Starter"
    assert pay.repo.email_facts(user, ws, "nope") is None
    key = f"reminder/{uuid.uuid4().hex}"
    payload = {"merchant_order_id": mid}
    with pay.deps.unit() as uow:
        first = uow.payments.add_email(reminder(key, facts.to_email, payload))
        second = uow.payments.add_email(reminder(key, facts.to_email, payload))
        uow.commit()
    assert (first, second) == (True, False)
    assert [r["idempotency_key"] for r in pay.outbox_rows(mid)] == [key]


def reminder(key: str, to: str | None, payload: dict[str, Any]) -> NewEmail:
    """An outbox row with a fresh id and the given idempotency key."""
    return NewEmail(str(uuid.uuid4()), "reminder", to or "x@example.com", "s", payload, key)


def test_outbox_backlog_counts_pending_rows_and_the_oldest_wait(pay: Payments) -> None:
    user, ws = pay.sign_up("Hedy")
    activation = activate(pay, new_order(pay, user, ws), email_subject="Payment confirmed")
    assert activation.outbox_id is not None
    before = pay.repo.outbox_backlog()
    pay.age_email(activation.outbox_id, 7200 * 24 * 365)
    waiting = pay.repo.outbox_backlog()
    assert waiting.pending == before.pending
    assert waiting.oldest_age_s >= 7200 * 24 * 365
    pay.repo.mark_email_sent(activation.outbox_id)
    assert pay.repo.outbox_backlog().pending == before.pending - 1


def test_the_sweep_reads_due_rows_and_writes_in_batches(pay: Payments) -> None:
    user, ws = pay.sign_up("Sweep")
    granted = activate(pay, new_order(pay, user, ws)).subscription
    assert granted is not None
    assert granted.next_sweep_at is not None
    assert granted.current_period_end is not None
    due_at = granted.next_sweep_at
    with pay.deps.unit() as uow:
        mine = [s for s in uow.payments.due_subscriptions(due_at, 100_000) if s.workspace_id == ws]
        assert mine == [granted]
        assert all(s.workspace_id != ws for s in uow.payments.due_subscriptions(due_at - timedelta(seconds=1), 100_000))
        facts = uow.payments.owners_email_facts(mine)
        assert facts[ws].plan_name == "Starter"
        assert facts[ws].full_name == "Sweep"
        moved = replace(granted, status="past_due", next_sweep_at=None)
        uow.payments.save_sweep([moved])
        key = f"renewal-reminder-7d/{ws}/{granted.current_period_end.isoformat()}"
        email = NewEmail(str(uuid.uuid4()), "renewal-reminder-7d", "x@example.com", "s", {"workspace_id": ws}, key)
        again = replace(email, id=str(uuid.uuid4()))
        assert uow.payments.add_emails([email, again]) == 1
        uow.commit()
    stored = pay.repo.get_subscription(ws)
    assert stored is not None
    assert (stored.status, stored.next_sweep_at) == ("past_due", None)
    assert stored.current_period_end == granted.current_period_end


def test_an_orders_credit_is_stored_with_it(pay: Payments) -> None:
    user, ws = pay.sign_up("Credit")
    mid = f"ord_{uuid.uuid4().hex}"
    created = pay.repo.create_order(NewOrder(mid, ws, user, "growth", "monthly", 200000, credit_paise=49900))
    assert (created.amount_paise, created.credit_paise) == (200000, 49900)
    assert pay.order(mid).credit_paise == 49900
    assert [o.merchant_order_id for o in pay.repo.workspace_orders(ws, limit=10)] == [mid]


# ---------------------------------------------------------------- refunds ----


def _paid(pay: Payments) -> tuple[str, str, str]:
    user, ws = pay.sign_up("Ada")
    mid = new_order(pay, user, ws)
    assert activate(pay, mid).granted
    gateway = pay.deps.gateway
    assert isinstance(gateway, FakeGateway)
    gateway.orders[mid] = {"state": "COMPLETED", "amount": 99900, "meta": {}, "expire_at": None}
    return user, ws, mid


def test_a_grant_records_the_time_the_order_bought(pay: Payments) -> None:
    _, ws, mid = _paid(pay)
    order, sub = pay.order(mid), pay.repo.get_subscription(ws)
    assert sub is not None
    assert order.kind == "checkout"
    assert (order.period_start, order.period_end) == (sub.current_period_start, sub.current_period_end)


def test_a_completed_refund_refunds_the_order_ends_the_plan_and_queues_one_email(pay: Payments) -> None:
    _, ws, mid = _paid(pay)
    outcome = refunds.request_refund(RefundRequest(mid, f"rf_{mid[4:20]}", "r", "ops"), deps=pay.deps)
    assert outcome.refund.state == "PENDING"
    gateway = pay.deps.gateway
    assert isinstance(gateway, FakeGateway)
    gateway.settle_refund(outcome.refund.merchant_refund_id)
    for _ in range(2):  # a repeat changes nothing
        refunds.check_refund(refunds.RefundCheck(outcome.refund.merchant_refund_id), deps=pay.deps)
    assert pay.order(mid).state == "REFUNDED"
    sub = pay.repo.get_subscription(ws)
    assert sub is not None
    assert sub.status == "cancelled"
    rows = [r for r in pay.outbox_rows(mid) if r["kind"] == "refund-completed"]
    assert [r["idempotency_key"] for r in rows] == [f"refund-completed/{outcome.refund.merchant_refund_id}"]


def test_the_store_refuses_more_refunded_than_paid_and_unpaid_orders(pay: Payments) -> None:
    user, ws, mid = _paid(pay)
    with pay.deps.unit() as uow:
        uow.refunds.add_refund(NewRefund("rf_a", mid, ws, 99000, "r", "ops"))
        with pytest.raises(Rejected):
            uow.refunds.add_refund(NewRefund("rf_b", mid, ws, 901, "r", "ops"))
    unpaid = new_order(pay, user, ws)
    with pay.deps.unit() as uow, pytest.raises(Rejected):
        uow.refunds.add_refund(NewRefund("rf_c", unpaid, ws, 1, "r", "ops"))


def test_fifty_concurrent_full_refunds_make_one(pay: Payments) -> None:
    _, _, mid = _paid(pay)

    def one(i: int) -> str:
        try:
            refunds.request_refund(RefundRequest(mid, f"rf_{i}_{mid[4:16]}", "r", "ops"), deps=pay.deps)
        except AppError as exc:
            return exc.code
        return "created"

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        results = list(pool.map(one, range(RACERS)))
    assert results.count("created") == 1
    assert set(results) == {"created", "order_not_refundable"}
    with pay.deps.unit() as uow:
        assert len(uow.refunds.order_refunds(mid)) == 1


# ---------------------------------------------------------------- mandates ----


def _mandate(pay: Payments, user: str, ws: str, state: str = "ACTIVE") -> Mandate:
    setup = new_order(pay, user, ws)
    return Mandate("", f"ms_{uuid.uuid4().hex[:20]}", ws, user, "starter", "monthly", state, 249900, setup)


def test_one_live_mandate_per_workspace_and_its_states(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    with pay.deps.unit() as uow:
        first = uow.mandates.add_mandate(_mandate(pay, user, ws))
        uow.commit()
    assert first.id
    with pay.deps.unit() as uow, pytest.raises(AlreadyExists):
        uow.mandates.add_mandate(_mandate(pay, user, ws))
    with pay.deps.unit() as uow:
        assert uow.mandates.live_mandate(ws) == first
        assert uow.mandates.mandate_of_order(first.setup_merchant_order_id) == first
        off = uow.mandates.set_mandate(first.merchant_subscription_id, state="REVOKED", autopay_off=True)
        uow.commit()
    assert off is not None
    assert (off.state, off.autopay_off_at is not None) == ("REVOKED", True)
    with pay.deps.unit() as uow:
        assert uow.mandates.live_mandate(ws) is None
        uow.mandates.add_mandate(_mandate(pay, user, ws))  # a new one once the old is off
        uow.commit()


def test_renewals_to_notify_and_redeem_read_only_what_is_due_once(pay: Payments) -> None:
    user, ws = pay.sign_up("Ada")
    assert activate(pay, new_order(pay, user, ws)).granted
    sub = pay.repo.get_subscription(ws)
    assert sub is not None
    assert sub.current_period_end is not None
    end = sub.current_period_end
    with pay.deps.unit() as uow:
        mandate = uow.mandates.add_mandate(_mandate(pay, user, ws))
        uow.commit()
    with pay.deps.unit() as uow:

        def due(horizon: datetime) -> list[str]:
            return [m.id for m, s in uow.mandates.renewals_to_notify(horizon, 1000) if s.workspace_id == ws]

        assert due(end) == []  # ends at, not before, the horizon
        assert due(end + timedelta(seconds=1)) == [mandate.id]
        mid = new_order(pay, user, ws)
        assert uow.mandates.add_redemption(Redemption(mid, mandate.id, end, end))
        assert not uow.mandates.add_redemption(Redemption(new_order(pay, user, ws), mandate.id, end, end))
        uow.commit()
    with pay.deps.unit() as uow:
        mine = [m for m, s in uow.mandates.renewals_to_notify(end + timedelta(days=1), 1000) if s.workspace_id == ws]
        assert mine == []  # this period has its redemption
        assert mid not in [r.merchant_order_id for r in uow.mandates.redemptions_to_redeem(end, 1000)]  # not notified
        assert mid in [r.merchant_order_id for r in uow.mandates.unnotified_redemptions(1000)]
        uow.commit()
    pay.let_time_pass(1.1)
    # The order sweep leaves a charge AutoPay has not debited yet to AutoPay.
    assert mid not in [o.merchant_order_id for o in pay.repo.stale_open_orders(older_than_s=1, limit=10_000)]
    with pay.deps.unit() as uow:
        uow.mandates.mark_notified(mid, end - timedelta(days=2))
        assert mid not in [r.merchant_order_id for r in uow.mandates.unnotified_redemptions(1000)]
        assert mid in [r.merchant_order_id for r in uow.mandates.redemptions_to_redeem(end, 1000)]
        assert uow.mandates.mark_redeem_requested(mid, end)
        assert not uow.mandates.mark_redeem_requested(mid, end)
        uow.commit()
    # Once debited, its outcome is the ladder's like any order's.
    assert mid in [o.merchant_order_id for o in pay.repo.stale_open_orders(older_than_s=1, limit=10_000)]
    with pay.deps.unit() as uow:
        redemption = uow.mandates.get_redemption(mid)
        assert redemption is not None
        assert redemption.redeem_requested_at == end
        assert uow.mandates.mandate_of_order(mid) == mandate
