"""Fourteen months of one workspace on the movable clock, through the real functions and the
PhonePe simulator (checkout, UPI AutoPay, refunds), day by day:

1. a monthly Starter plan with UPI AutoPay (the mandate pays the first month);
2. AutoPay renews it (the notice 48 h ahead, the debit at the end);
3. one debit fails: the payment-failed email, past due, and the customer renews by hand in the grace;
4. AutoPay renews again; an upgrade to Growth mid-period (credit for the unused days);
5. a downgrade to Starter scheduled for the period end, which AutoPay then charges;
6. a cancel (the mandate is cancelled at PhonePe), and the period runs out;
7. the operator refunds the last paid month in part;
8. nothing more is charged to month fourteen.

Afterwards the ledger adds up to the paisa (every order's amount and credit make its list price;
paid less refunded is what PhonePe kept), every receipt is numbered once, every email went out
once, and the billing status on every one of the ~425 days is what an independent reading of the
paid periods says it should be.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from devtools.local.services import ServiceSet
from lib.config import Settings
from tests.e2e.served import travelling_suite

pytestmark = pytest.mark.services

PRICES = {("starter", "monthly"): 99900, ("growth", "monthly"): 249900}
GRACE = timedelta(days=3)
SETTLE_S = 20.0


class World:
    def __init__(self, http: httpx.Client, db_url: str, dev: Any) -> None:
        self.http = http
        self.db_url = db_url
        self.dev = dev
        email = f"year-{uuid.uuid4().hex[:10]}@example.com"
        user = http.post("/_dev/token", json={"email": email, "name": "Year"}).json()
        self.email = email
        self.auth = {"Authorization": f"Bearer {user['access_token']}"}
        self.workspace = str(self.billing()["workspace_id"])
        self.days: list[tuple[datetime, str, str]] = []  # (now, status the API shows, status expected)
        self.cancelled = False

    # --- the customer, the bank, the operator ----------------------------------------------
    def billing(self) -> dict[str, Any]:
        response = self.http.get("/billing/", headers=self.auth)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def checkout(self, plan: str, *, autopay: bool = False) -> str:
        body = {"plan": plan, "billing_period": "monthly", "autopay": autopay}
        started = self.http.post("/initiate_payment/", json=body, headers=self.auth)
        assert started.status_code == 201, started.text
        mid = str(started.json()["merchant_order_id"])
        if autopay:
            mandate = self.row("select merchant_subscription_id from mandates where setup_merchant_order_id = %s", mid)
            assert mandate is not None
            approved = self.http.post(
                f"/_dev/phonepe/mandates/{mandate['merchant_subscription_id']}/approve", params={"webhook": "deliver"}
            )
            assert approved.status_code == 200, approved.text
        else:
            settled = self.http.post(f"/_dev/phonepe/orders/{mid}/complete", params={"webhook": "deliver"})
            assert settled.status_code == 200, settled.text
        self.wait(lambda: self.order(mid)["state"] == "COMPLETED", f"{mid} to complete")
        return mid

    def order(self, mid: str) -> dict[str, Any]:
        row = self.row("select * from payment_transactions where merchant_order_id = %s", mid)
        assert row is not None
        return row

    def row(self, sql: str, *args: Any) -> dict[str, Any] | None:
        with psycopg.connect(self.db_url, row_factory=dict_row) as conn:
            return conn.execute(sql, args).fetchone()

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.db_url, row_factory=dict_row) as conn:
            return list(conn.execute(sql, args).fetchall())

    def wait(self, check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + SETTLE_S
        while not check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def now(self) -> datetime:
        return datetime.fromisoformat(self.http.get("/_dev/clock/").json()["now"])

    # --- time -----------------------------------------------------------------------------
    def live_days(self, days: int) -> None:
        """Advance a day at a time, recording what billing shows and what the periods say."""
        for _ in range(days):
            moved = self.http.post("/_dev/clock/advance", json={"days": 1})
            assert moved.status_code == 200, moved.text
            self.settle_callbacks()
            now = datetime.fromisoformat(moved.json()["now"])
            self.days.append((now, self.shown_status(), self.expected(now)))

    def shown_status(self) -> str:
        """What ``GET /billing`` shows, read through the same service in process: a request a day for
        425 days would trip the per-user read limit (120 a minute), which is not what this tests."""
        from lib.services.payments.subscriptions import billing_overview

        return str(billing_overview(self.workspace, deps=self.dev.container.payment_deps)["subscription"]["status"])

    def settle_callbacks(self) -> None:
        """PhonePe's callbacks arrive on their own threads: wait until no AutoPay debit is in flight."""
        self.wait(
            lambda: (
                not self.rows(
                    "select 1 from payment_transactions where workspace_id = %s and kind = 'redemption'"
                    " and state = 'PENDING' and merchant_order_id in"
                    " (select merchant_order_id from redemptions where redeem_requested_at is not null)",
                    self.workspace,
                )
            ),
            "AutoPay debits to settle",
        )

    def expected(self, now: datetime) -> str:
        """The status the paid periods say, read from the ledger, not from the code's rule: the end
        is the last end any paid order bought, less the share of its time a completed refund took
        back (rounded up to the second), from the moment the refund completed."""
        paid = self.rows(
            "select merchant_order_id, amount_paise, period_start, period_end from payment_transactions"
            " where workspace_id = %s and state in ('COMPLETED', 'REFUNDED') and period_end is not null",
            self.workspace,
        )
        end = max(o["period_end"] for o in paid)
        ended_by_refund = False
        refunds = self.rows(
            "select merchant_order_id, amount_paise, completed_at from refunds"
            " where workspace_id = %s and state = 'COMPLETED' and completed_at <= %s",
            self.workspace,
            now,
        )
        for r in refunds:
            o = next(o for o in paid if o["merchant_order_id"] == r["merchant_order_id"])
            if o["period_end"] <= r["completed_at"]:
                continue  # time already used: nothing taken back
            bought = int((o["period_end"] - o["period_start"]).total_seconds())
            end -= timedelta(seconds=-(-bought * r["amount_paise"] // o["amount_paise"]))
            if end <= r["completed_at"]:
                end, ended_by_refund = r["completed_at"], True
        if now < end:
            return "active"
        if self.cancelled or ended_by_refund:
            return "cancelled"
        return "past_due" if now < end + GRACE else "expired"


def refunded_total(w: World) -> int:
    rows = w.rows("select amount_paise from refunds where workspace_id = %s and state = 'COMPLETED'", w.workspace)
    return sum(int(r["amount_paise"]) for r in rows)


@pytest.fixture(scope="module")
def world(services: ServiceSet, settings: Settings) -> Iterator[World]:
    with travelling_suite(services, settings, timeout_s=60) as (client, dev):
        yield World(client, services.env["DATABASE_URL"], dev)


def test_fourteen_months_of_autopay_changes_a_cancel_and_a_refund_add_up(world: World) -> None:
    w = world
    start = w.now()
    # 1. Starter with AutoPay.
    first = w.checkout("starter", autopay=True)
    assert w.billing()["subscription"]["autopay"]["state"] == "ACTIVE"
    # 2. A month passes: AutoPay renews (notice at end - 48 h, debit at the end).
    w.live_days(31)
    renewals = w.rows(
        "select * from payment_transactions where workspace_id = %s and kind = 'redemption' and state = 'COMPLETED'",
        w.workspace,
    )
    assert len(renewals) == 1
    # 3. The next debit fails; past due; the customer renews by hand in the grace.
    w.http.post("/_dev/phonepe/_control/next-outcome", params={"op": "redeem", "outcome": "fail", "count": 1})
    sub = w.row("select current_period_end from subscriptions where workspace_id = %s", w.workspace)
    assert sub is not None
    days_to_end = (sub["current_period_end"] - w.now()).days + 2
    w.live_days(days_to_end)
    assert w.billing()["subscription"]["status"] == "past_due"
    failed = w.rows(
        "select * from payment_transactions where workspace_id = %s and kind = 'redemption' and state = 'FAILED'",
        w.workspace,
    )
    assert len(failed) == 1
    by_hand = w.checkout("starter")
    assert w.billing()["subscription"]["status"] == "active"
    # 4. AutoPay renews the next month; then an upgrade to Growth mid-period.
    w.live_days(45)
    upgrade = w.checkout("growth")
    assert w.order(upgrade)["credit_paise"] > 0
    # 5. A downgrade scheduled for the period end; AutoPay charges Starter then.
    changed = w.http.post(
        "/billing/change",
        json={"plan": "starter", "billing_period": "monthly"},
        headers={**w.auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert changed.status_code == 200, changed.text
    w.live_days(62)
    upgraded_at = w.order(upgrade)["completed_at"]
    after = w.rows(
        "select plan_id, state from payment_transactions where workspace_id = %s and kind = 'redemption'"
        " and created_at > %s order by created_at",
        w.workspace,
        upgraded_at,
    )
    assert [(r["plan_id"], r["state"]) for r in after] == [("starter", "COMPLETED")] * 2  # the scheduled downgrade
    assert w.billing()["subscription"]["plan"] == "starter"
    # 6. Cancel: the mandate goes at PhonePe; the period runs out.
    cancelled = w.http.post("/billing/cancel", json={}, headers={**w.auth, "Idempotency-Key": uuid.uuid4().hex})
    assert cancelled.status_code == 200, cancelled.text
    w.cancelled = True
    assert w.billing()["subscription"]["autopay"] is None
    # 7. The operator refunds half of the last paid month.
    last = w.rows(
        "select merchant_order_id, amount_paise from payment_transactions where workspace_id = %s"
        " and state = 'COMPLETED' order by completed_at desc limit 1",
        w.workspace,
    )[0]
    rid = f"rf_{uuid.uuid4().hex[:16]}"
    audience = f"{str(w.http.base_url).rstrip('/')}/maintenance"
    token = w.dev.oidc.sign(audience, w.dev.container.settings.tasks_invoker_email)
    refund = w.http.post(
        "/maintenance/refunds",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "merchant_order_id": last["merchant_order_id"],
            "merchant_refund_id": rid,
            "reason": "goodwill",
            "amount_paise": last["amount_paise"] // 2,
        },
    )
    assert refund.status_code == 200, refund.text
    w.http.post(f"/_dev/phonepe/refunds/{rid}/complete", params={"webhook": "deliver"})
    w.wait(
        lambda: (
            (w.row("select state from refunds where merchant_refund_id = %s", rid) or {}).get("state") == "COMPLETED"
        ),
        "the refund",
    )
    # 8. To month fourteen: nothing more is charged.
    remaining = 14 * 30 + 5 - (w.now() - start).days
    charged_before = len(w.rows("select 1 from payment_transactions where workspace_id = %s", w.workspace))
    w.live_days(remaining)
    assert len(w.rows("select 1 from payment_transactions where workspace_id = %s", w.workspace)) == charged_before

    # --- the ledger adds up -------------------------------------------------------------------
    orders = w.rows("select * from payment_transactions where workspace_id = %s order by created_at", w.workspace)
    for o in orders:
        if o["state"] in ("COMPLETED", "REFUNDED"):
            assert o["amount_paise"] + o["credit_paise"] == PRICES[(o["plan_id"], o["billing_period"])], o
    paid = sum(o["amount_paise"] for o in orders if o["state"] in ("COMPLETED", "REFUNDED"))
    # PhonePe's own record (the simulator's) of what it collected and gave back for these orders.
    mids = {o["merchant_order_id"] for o in orders}
    at_phonepe = [
        *w.http.get("/_dev/phonepe/orders").json()["orders"],
        *w.http.get("/_dev/phonepe/mandates").json()["orders"],
    ]
    collected = sum(o["amount"] for o in at_phonepe if o["merchant_order_id"] in mids and o["state"] == "COMPLETED")
    given_back = sum(o["refunded"] for o in at_phonepe if o["merchant_order_id"] in mids)
    assert collected == paid
    assert given_back == refunded_total(w)
    assert refunded_total(w) == last["amount_paise"] // 2
    receipts = w.rows("select * from receipts where workspace_id = %s", w.workspace)
    assert sorted(r["merchant_order_id"] for r in receipts) == sorted(
        o["merchant_order_id"] for o in orders if o["state"] in ("COMPLETED", "REFUNDED")
    )
    assert sum(r["amount_paise"] for r in receipts) == paid
    # --- every email once ----------------------------------------------------------------------
    mail = w.http.get("/_dev/mail/", params={"to": w.email}).json()["data"]
    keys = [m["idempotency_key"] for m in mail]
    assert len(keys) == len(set(keys))
    kinds = {k.split("/")[0] for k in keys}
    assert {"payment-confirmed", "autopay-pre-debit", "payment-failed", "refund-completed"} <= kinds
    notified = w.rows(
        "select r.merchant_order_id from redemptions r join mandates m on m.id = r.mandate_id"
        " where m.workspace_id = %s and r.notified_at is not null",
        w.workspace,
    )
    assert len([k for k in keys if k.startswith("autopay-pre-debit/")]) == len(notified) >= 4
    confirmed = [o for o in orders if o["state"] in ("COMPLETED", "REFUNDED")]
    assert len([k for k in keys if k.startswith("payment-confirmed/")]) == len(confirmed)
    numbers = [r["number"] for r in sorted(receipts, key=lambda r: r["issued_at"])]
    assert len(set(numbers)) == len(numbers)
    # --- the state on every day ----------------------------------------------------------------
    wrong = [(d.isoformat(), shown, want) for d, shown, want in w.days if shown != want]
    assert wrong == [], wrong[:5]
    assert len(w.days) >= 14 * 30
    assert {shown for _, shown, _ in w.days} == {"active", "past_due", "cancelled"}  # every stage was lived
    assert w.order(first)["kind"] == "mandate_setup"
    assert w.order(by_hand)["kind"] == "checkout"
