"""Migration 007's backstops, as the database enforces them whatever the code does.

Refunds move forward only, keep their identity, need a paid order and never
add up to more than it was paid; receipts' GST lines add up to the amount.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from devtools.db.migrate import migrate
from devtools.db.scratch import scratch_database
from devtools.local.services import ServiceSet

pytestmark = pytest.mark.services

Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture(scope="module")
def url(services: ServiceSet) -> Iterator[str]:
    with scratch_database(services.env["DATABASE_URL"], prefix="test_ledger_sql") as db:
        migrate(db, local_shim=True)
        yield db


@pytest.fixture
def conn(url: str) -> Iterator[Conn]:
    with psycopg.connect(url, row_factory=dict_row) as c, c.transaction(force_rollback=True):
        user = c.execute(
            "insert into auth.users (email) values (%s) returning id", (f"{uuid.uuid4().hex}@example.com",)
        ).fetchone()
        assert user is not None
        ws = c.execute("select id from workspaces where owner_id = %s", (user["id"],)).fetchone()
        assert ws is not None
        for mid, state in (("paid", "COMPLETED"), ("open", "PENDING")):
            c.execute(
                "insert into payment_transactions (merchant_order_id, workspace_id, user_id, plan_id, billing_period,"
                " amount_paise, state) values (%s, %s, %s, 'starter', 'monthly', 1000, %s)",
                (mid, ws["id"], user["id"], state),
            )
        c.execute("create temp table ctx as select %s::uuid as ws", (ws["id"],))
        yield c


def _refund(conn: Conn, rid: str, amount: int, order: str = "paid") -> None:
    conn.execute(
        "insert into refunds (merchant_refund_id, merchant_order_id, workspace_id, amount_paise, reason, requested_by)"
        " select %s, %s, ws, %s, 'r', 'ops' from ctx",
        (rid, order, amount),
    )


def _fails(conn: Conn, message: str, query: str, params: tuple[Any, ...] = ()) -> None:
    with pytest.raises(psycopg.errors.RaiseException, match=message), conn.transaction():
        conn.execute(query, params)


def test_refunds_never_add_up_to_more_than_was_paid(conn: Conn) -> None:
    _refund(conn, "r1", 600)
    with pytest.raises(psycopg.errors.RaiseException, match="exceeds the 1000 paid"), conn.transaction():
        _refund(conn, "r2", 401)
    _refund(conn, "r3", 400)  # exactly the rest


def test_a_failed_refund_gives_its_amount_back(conn: Conn) -> None:
    _refund(conn, "r1", 1000)
    conn.execute("update refunds set state = 'FAILED' where merchant_refund_id = 'r1'")
    _refund(conn, "r2", 1000)


def test_an_unpaid_order_cannot_be_refunded(conn: Conn) -> None:
    with pytest.raises(psycopg.errors.RaiseException, match="is not paid"), conn.transaction():
        _refund(conn, "r1", 1, order="open")


def test_refund_states_move_forward_only_and_identity_is_fixed(conn: Conn) -> None:
    _refund(conn, "r1", 10)
    conn.execute("update refunds set state = 'PENDING' where merchant_refund_id = 'r1'")
    conn.execute("update refunds set state = 'COMPLETED' where merchant_refund_id = 'r1'")
    row = conn.execute("select completed_at from refunds where merchant_refund_id = 'r1'").fetchone()
    assert row is not None
    assert row["completed_at"] is not None
    _fails(conn, "illegal state transition COMPLETED -> PENDING", "update refunds set state = 'PENDING'")
    _fails(conn, "immutable", "update refunds set amount_paise = 5")


def test_receipt_gst_lines_add_up_to_the_amount(conn: Conn) -> None:
    insert = (
        "insert into receipts (number, issuer, financial_year, seq, merchant_order_id, workspace_id, issued_at,"
        " issuer_name, issuer_address, customer_name, customer_email, description,"
        " amount_paise, gstin, place_of_supply, taxable_paise, tax_paise)"
        " select %s, 'i', '2026-27', %s, 'paid', ws, now(), 'I', 'A', 'C', 'e', 'd', 1000,"
        " '27AAPFU0939F1ZV', '27', %s, %s from ctx"
    )
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute(insert, ("R/2026-27/000001", 1, 847, 152))
    conn.execute(insert, ("R/2026-27/000001", 1, 847, 153))
