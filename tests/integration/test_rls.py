"""Row level security as the frontend meets it.

Every check runs as the ``authenticated`` (or ``anon``) role with
``request.jwt.claims`` set the way PostgREST sets them, on a database migrated
from zero.  User A must not read, insert, update or delete user B's rows in
any public table; A reads their own where a policy allows; anon reads nothing.
The table list is checked against the catalog, so a new table without an
entry here fails the suite.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row

from devtools.db.migrate import migrate
from devtools.db.scratch import scratch_database
from devtools.local.services import ServiceSet

pytestmark = pytest.mark.services

Conn = psycopg.Connection[dict[str, Any]]
CHECKSUM = "b" * 64


@dataclass(frozen=True)
class World:
    """Two signed-up users with one of every row each."""

    url: str
    a: uuid.UUID
    b: uuid.UUID
    ws_a: uuid.UUID
    ws_b: uuid.UUID

    def params(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "ws_a": self.ws_a, "ws_b": self.ws_b, "new_id": uuid.uuid4()}


@dataclass(frozen=True)
class TableSpec:
    """How to find B's and A's rows in a table and what the frontend may do with it."""

    name: str
    b_rows: str  # where-clause matching rows A must never see or touch
    a_rows: str  # where-clause matching A's own rows
    a_reads_own: bool  # a select policy lets A read a_rows
    insert: str  # an insert claiming B's (or a backend-only) row
    update_set: str  # a harmless-looking change to try on B's rows


TABLES: list[TableSpec] = [
    TableSpec(
        "users",
        "id = %(b)s",
        "id = %(a)s",
        True,
        "insert into users (id, email) values (%(b)s, 'x@example.com')",
        "full_name = 'pwned'",
    ),
    TableSpec(
        "workspaces",
        "id = %(ws_b)s",
        "id = %(ws_a)s",
        True,
        "insert into workspaces (name, owner_id) values ('mine now', %(b)s)",
        "name = 'pwned'",
    ),
    TableSpec(
        "workspace_members",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into workspace_members (workspace_id, user_id, role) values (%(ws_b)s, %(a)s, 'owner')",
        "role = 'member'",
    ),
    TableSpec(
        "subscriptions",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into subscriptions (workspace_id, plan_id) values (%(ws_b)s, 'growth')",
        "plan_id = 'enterprise'",
    ),
    TableSpec(
        "payment_transactions",
        "user_id = %(b)s",
        "user_id = %(a)s",
        True,
        "insert into payment_transactions (merchant_order_id, workspace_id, user_id, plan_id, billing_period,"
        " amount_paise, state) values ('ord_forged', %(ws_b)s, %(b)s, 'growth', 'annual', 0, 'COMPLETED')",
        "amount_paise = 0",
    ),
    TableSpec(
        "webhook_events",
        "event_key = 'evt_b'",
        "event_key = 'evt_a'",
        False,
        "insert into webhook_events (provider, event_key, event_type, valid) values ('phonepe', 'forged', 'x', true)",
        "outcome = 'pwned'",
    ),
    TableSpec(
        "email_outbox",
        "idempotency_key = 'mail_b'",
        "idempotency_key = 'mail_a'",
        False,
        "insert into email_outbox (kind, to_email, subject, idempotency_key) values"
        " ('receipt', 'evil@example.com', 's', 'forged')",
        "to_email = 'evil@example.com'",
    ),
    TableSpec(
        "idempotency_keys",
        "user_id = %(b)s",
        "user_id = %(a)s",
        False,
        "insert into idempotency_keys (user_id, scope, key, request_hash, expires_at) values"
        " (%(b)s, 'pay', 'forged', 'h', now() + interval '1 day')",
        "status = 'completed'",
    ),
    TableSpec(
        "onboarding_sessions",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into onboarding_sessions (id, workspace_id, user_id) values (%(new_id)s, %(ws_b)s, %(b)s)",
        "steps_complete = 0",
    ),
    TableSpec(
        "business_contexts",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into business_contexts (workspace_id, schema_version, document, checksum) values"
        " (%(ws_b)s, '2.0', '{}', 'c')",
        "checksum = 'pwned'",
    ),
    TableSpec(
        "bcm_manifests",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into bcm_manifests (workspace_id, version, major, minor, patch, checksum, token_count, manifest,"
        f" source, change) values (%(ws_b)s, '9.0.0', 9, 0, 0, '{CHECKSUM}', 1, '{{}}', 'edit', 'major')",
        "token_count = 0",
    ),
    TableSpec(
        "bcm_jobs",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into bcm_jobs (workspace_id, source_checksum) values (%(ws_b)s, 'forged')",
        "status = 'failed'",
    ),
    TableSpec(
        "plan_usage",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into plan_usage (workspace_id, action, day, used) values (%(ws_b)s, 'rebuild', current_date - 9, 0)",
        "used = 0",
    ),
    TableSpec(
        "refunds",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into refunds (merchant_refund_id, merchant_order_id, workspace_id, amount_paise, reason, requested_by)"
        " values ('rf_forged', 'paid_b', %(ws_b)s, 1, 'x', 'a')",
        "amount_paise = 1",
    ),
    TableSpec(
        "receipts",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into receipts (number, issuer, financial_year, seq, merchant_order_id, workspace_id, issued_at,"
        " issuer_name, issuer_address, customer_name, customer_email, description, amount_paise)"
        " values ('R/2026-27/999999', 'x', '2026-27', 999999, 'ord_b', %(ws_b)s, now(), 'i', 'a', 'c', 'e', 'd', 0)",
        "storage_path = 'pwned'",
    ),
    TableSpec(
        "receipt_counters",
        "issuer = 'issuer_b'",
        "issuer = 'issuer_a'",
        False,
        "insert into receipt_counters (issuer, financial_year, last_seq) values ('forged', '2026-27', 1)",
        "last_seq = 1",
    ),
    TableSpec(
        "mandates",
        "workspace_id = %(ws_b)s",
        "workspace_id = %(ws_a)s",
        True,
        "insert into mandates (merchant_subscription_id, workspace_id, user_id, plan_id, billing_period,"
        " max_amount_paise, frequency, setup_merchant_order_id)"
        " values ('ms_forged', %(ws_b)s, %(b)s, 'growth', 'monthly', 1, 'MONTHLY', 'ord_b')",
        "max_amount_paise = 100000000",
    ),
    TableSpec(
        "redemptions",
        "merchant_order_id = 'redeem_b'",
        "merchant_order_id = 'redeem_a'",
        False,
        "insert into redemptions (merchant_order_id, mandate_id, renews_from, due_at)"
        " select 'ord_b', id, now(), now() from mandates limit 1",
        "notified_at = now()",
    ),
    # Global, not owned: every signed-in user reads the price list; nobody writes it.
    TableSpec(
        "plans",
        "true",
        "true",
        True,
        "insert into plans (id, name, purchasable) values ('enterprise', 'x', false)",
        "monthly_paise = 1",
    ),
]
OWNED = [t for t in TABLES if t.name != "plans"]


def _ids(specs: list[TableSpec]) -> list[str]:
    return [t.name for t in specs]


def _sign_up(conn: Conn, email: str) -> tuple[uuid.UUID, uuid.UUID]:
    row = conn.execute("insert into auth.users (email) values (%s) returning id", (email,)).fetchone()
    assert row is not None
    ws = conn.execute("select id from workspaces where owner_id = %s", (row["id"],)).fetchone()
    assert ws is not None
    return row["id"], ws["id"]


def _seed(conn: Conn, tag: str, user_id: uuid.UUID, ws: uuid.UUID) -> None:
    """One row of every owned table for this user (as the superuser: the backend)."""
    p = {"u": user_id, "ws": ws, "tag": tag, "order": f"ord_{tag}"}
    order = conn.execute(
        "insert into payment_transactions (merchant_order_id, workspace_id, user_id, plan_id, billing_period,"
        " amount_paise) values (%(order)s, %(ws)s, %(u)s, 'starter', 'monthly', 99900) returning id",
        p,
    ).fetchone()
    assert order is not None
    p["txn"] = order["id"]
    conn.execute(
        "insert into subscriptions (workspace_id, plan_id, current_period_end, last_transaction_id)"
        " values (%(ws)s, 'starter', now() + interval '30 days', %(txn)s)",
        p,
    )
    conn.execute(
        "insert into webhook_events (provider, event_key, event_type, merchant_order_id, valid)"
        " values ('phonepe', 'evt_' || %(tag)s, 'checkout.order.completed', %(order)s, true)",
        p,
    )
    conn.execute(
        "insert into email_outbox (kind, to_email, subject, idempotency_key)"
        " values ('receipt', %(tag)s || '@example.com', 'Thanks', 'mail_' || %(tag)s)",
        p,
    )
    conn.execute(
        "insert into idempotency_keys (user_id, scope, key, request_hash, expires_at)"
        " values (%(u)s, 'pay', 'k1', 'h', now() + interval '1 day')",
        p,
    )
    session = conn.execute(
        "insert into onboarding_sessions (workspace_id, user_id) values (%(ws)s, %(u)s) returning id", p
    ).fetchone()
    assert session is not None
    p["session"] = session["id"]
    context = conn.execute(
        "insert into business_contexts (workspace_id, session_id, schema_version, document, checksum)"
        " values (%(ws)s, %(session)s, '2.0', '{\"k\": 1}', 'c') returning id",
        p,
    ).fetchone()
    assert context is not None
    p["ctx"] = context["id"]
    conn.execute(
        "insert into bcm_manifests (workspace_id, version, major, minor, patch, checksum, token_count, manifest,"
        " source, change, business_context_id) values (%(ws)s, '1.0.0', 1, 0, 0, %(sum)s, 10, '{}',"
        " 'onboarding', 'initial', %(ctx)s)",
        {**p, "sum": CHECKSUM},
    )
    conn.execute("insert into bcm_jobs (workspace_id, source_checksum, requested_by) values (%(ws)s, 'src', %(u)s)", p)
    conn.execute(
        "insert into plan_usage (workspace_id, action, day, used) values (%(ws)s, 'export', current_date, 3)", p
    )
    conn.execute(
        "insert into payment_transactions (merchant_order_id, workspace_id, user_id, plan_id, billing_period,"
        " amount_paise, state) values ('paid_' || %(tag)s, %(ws)s, %(u)s, 'starter', 'monthly', 99900, 'COMPLETED')",
        p,
    )
    conn.execute(
        "insert into refunds (merchant_refund_id, merchant_order_id, workspace_id, amount_paise, reason, requested_by)"
        " values ('rf_' || %(tag)s, 'paid_' || %(tag)s, %(ws)s, 100, 'goodwill', 'ops@example.com')",
        p,
    )
    conn.execute(
        "insert into receipt_counters (issuer, financial_year, last_seq) values ('issuer_' || %(tag)s, '2026-27', 1)",
        p,
    )
    conn.execute(
        "insert into receipts (number, issuer, financial_year, seq, merchant_order_id, workspace_id, issued_at,"
        " issuer_name, issuer_address, customer_name, customer_email, description, amount_paise)"
        " values ('R/2026-27/00000' || %(n)s, 'issuer_' || %(tag)s, '2026-27', %(n)s,"
        " 'paid_' || %(tag)s, %(ws)s, now(), 'Issuer', 'Addr', 'Ada', 'a@example.com', 'Starter plan', 99900)",
        {**p, "n": 1 if tag == "a" else 2},
    )
    mandate = conn.execute(
        "insert into mandates (merchant_subscription_id, workspace_id, user_id, plan_id, billing_period,"
        " max_amount_paise, frequency, setup_merchant_order_id) values ('ms_' || %(tag)s, %(ws)s, %(u)s,"
        " 'starter', 'monthly', 99900, 'MONTHLY', 'paid_' || %(tag)s) returning id",
        p,
    ).fetchone()
    assert mandate is not None
    conn.execute(
        "insert into payment_transactions (merchant_order_id, workspace_id, user_id, plan_id, billing_period,"
        " amount_paise, kind) values ('redeem_' || %(tag)s, %(ws)s, %(u)s, 'starter', 'monthly', 99900, 'redemption')",
        p,
    )
    conn.execute(
        "insert into redemptions (merchant_order_id, mandate_id, renews_from, due_at)"
        " values ('redeem_' || %(tag)s, %(m)s, now(), now())",
        {**p, "m": mandate["id"]},
    )


@pytest.fixture(scope="module")
def world(services: ServiceSet) -> Iterator[World]:
    with scratch_database(services.env["DATABASE_URL"], prefix="test_rls") as url:
        migrate(url, local_shim=True)
        with psycopg.connect(url, row_factory=dict_row) as conn:
            a, ws_a = _sign_up(conn, "a@example.com")
            b, ws_b = _sign_up(conn, "b@example.com")
            _seed(conn, "a", a, ws_a)
            _seed(conn, "b", b, ws_b)
            conn.commit()
        yield World(url=url, a=a, b=b, ws_a=ws_a, ws_b=ws_b)


@pytest.fixture
def admin(world: World) -> Iterator[Conn]:
    """Superuser connection; everything it does is rolled back."""
    with (
        psycopg.connect(world.url, row_factory=dict_row) as conn,
        conn.transaction(force_rollback=True),
    ):
        yield conn


def _become(conn: Conn, role: str, sub: uuid.UUID | None) -> None:
    """Switch to an API role for the rest of the transaction, as PostgREST does."""
    claims: dict[str, Any] = {"role": role}
    if sub is not None:
        claims["sub"] = str(sub)
    conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
    conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))


@pytest.fixture
def as_a(world: World) -> Iterator[Conn]:
    """A connection acting as signed-in user A (rolled back afterwards)."""
    with (
        psycopg.connect(world.url, row_factory=dict_row) as conn,
        conn.transaction(force_rollback=True),
    ):
        _become(conn, "authenticated", world.a)
        yield conn


@pytest.fixture
def as_anon(world: World) -> Iterator[Conn]:
    with (
        psycopg.connect(world.url, row_factory=dict_row) as conn,
        conn.transaction(force_rollback=True),
    ):
        _become(conn, "anon", None)
        yield conn


def _attempt(conn: Conn, query: str, params: dict[str, Any]) -> int | pg_errors.InsufficientPrivilege:
    """Run in a savepoint; the affected/returned row count, or the permission error."""
    try:
        with conn.transaction():
            cur = conn.execute(query, params)
            return len(cur.fetchall()) if cur.description else cur.rowcount
    except pg_errors.InsufficientPrivilege as exc:
        return exc


def _count(conn: Conn, table: str, where: str, params: dict[str, Any]) -> int:
    row = conn.execute(f"select count(*) as n from public.{table} where {where}", params).fetchone()
    assert row is not None
    return int(row["n"])


# ----------------------------------------------------------- the harness ----


def test_harness_really_acts_as_user_a(as_a: Conn, world: World) -> None:
    row = as_a.execute("select current_user as who, auth.uid() as uid, auth.role() as role").fetchone()
    assert row == {"who": "authenticated", "uid": world.a, "role": "authenticated"}


def test_table_list_covers_every_public_table(admin: Conn) -> None:
    rows = admin.execute("select tablename from pg_tables where schemaname = 'public' order by 1").fetchall()
    assert sorted(r["tablename"] for r in rows) == sorted(_ids(TABLES))


def test_rls_is_enabled_on_every_public_table(admin: Conn) -> None:
    rows = admin.execute(
        "select relname from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r'"
        " and not relrowsecurity"
    ).fetchall()
    assert rows == []


def test_policies_are_per_command_and_for_authenticated_only(admin: Conn) -> None:
    rows = admin.execute("select tablename, policyname, cmd, roles::text[] as roles from pg_policies").fetchall()
    assert rows, "no policies at all"
    assert {r["cmd"] for r in rows} <= {"SELECT", "INSERT", "UPDATE", "DELETE"}  # never ALL
    assert all(r["roles"] == ["authenticated"] for r in rows)
    per_command = [(r["tablename"], r["cmd"]) for r in rows]
    assert len(per_command) == len(set(per_command))


def test_the_seed_is_there_for_the_superuser(admin: Conn, world: World) -> None:
    """Proves the 'sees nothing' checks below look at tables that do hold B's rows."""
    for spec in TABLES:
        assert _count(admin, spec.name, spec.b_rows, world.params()) >= 1, spec.name


# ------------------------------------------------------------- user A vs B ----


@pytest.mark.parametrize("spec", OWNED, ids=_ids(OWNED))
def test_a_cannot_read_b_rows(as_a: Conn, world: World, spec: TableSpec) -> None:
    result = _attempt(as_a, f"select * from public.{spec.name} where {spec.b_rows}", world.params())
    if spec.a_reads_own:
        assert result == 0
    else:
        assert isinstance(result, pg_errors.InsufficientPrivilege)


@pytest.mark.parametrize("spec", OWNED, ids=_ids(OWNED))
def test_a_cannot_see_b_rows_even_unfiltered(as_a: Conn, world: World, spec: TableSpec) -> None:
    """A full scan returns only A's rows: no other user's row leaks through."""
    if not spec.a_reads_own:
        assert isinstance(_attempt(as_a, f"select * from public.{spec.name}", {}), pg_errors.InsufficientPrivilege)
        return
    total = _attempt(as_a, f"select * from public.{spec.name}", {})
    own = _attempt(as_a, f"select * from public.{spec.name} where {spec.a_rows}", world.params())
    assert isinstance(total, int)
    assert total == own


@pytest.mark.parametrize("spec", [t for t in OWNED if t.a_reads_own], ids=_ids([t for t in OWNED if t.a_reads_own]))
def test_a_reads_own_rows(as_a: Conn, admin: Conn, world: World, spec: TableSpec) -> None:
    """A sees every one of A's rows the backend holds (at least one each)."""
    held = _count(admin, spec.name, spec.a_rows, world.params())
    assert held >= 1
    assert _attempt(as_a, f"select * from public.{spec.name} where {spec.a_rows}", world.params()) == held


@pytest.mark.parametrize("spec", TABLES, ids=_ids(TABLES))
def test_a_cannot_insert(as_a: Conn, world: World, spec: TableSpec) -> None:
    result = _attempt(as_a, spec.insert, world.params())
    assert isinstance(result, pg_errors.InsufficientPrivilege)


@pytest.mark.parametrize("spec", TABLES, ids=_ids(TABLES))
def test_a_cannot_update_b_rows(as_a: Conn, world: World, spec: TableSpec) -> None:
    """Denied outright, or (users: A may update full_name) zero rows matched."""
    result = _attempt(as_a, f"update public.{spec.name} set {spec.update_set} where {spec.b_rows}", world.params())
    if spec.name == "users":
        assert result == 0
    else:
        assert isinstance(result, pg_errors.InsufficientPrivilege)


@pytest.mark.parametrize("spec", TABLES, ids=_ids(TABLES))
def test_a_cannot_delete_b_rows(as_a: Conn, world: World, spec: TableSpec) -> None:
    result = _attempt(as_a, f"delete from public.{spec.name} where {spec.b_rows}", world.params())
    assert isinstance(result, pg_errors.InsufficientPrivilege)


def test_plans_are_readable_by_signed_in_users(as_a: Conn) -> None:
    assert _attempt(as_a, "select * from public.plans", {}) == 4


# ----------------------------------------------------- what A may change ----


def test_a_may_rename_themself(as_a: Conn, world: World) -> None:
    assert _attempt(as_a, "update public.users set full_name = 'Asha' where id = %(a)s", world.params()) == 1
    assert _attempt(as_a, "select 1 from public.users where full_name = 'Asha'", {}) == 1


@pytest.mark.parametrize(
    "assignment",
    ["onboarding_status = 'payment_confirmed'", "email = 'other@example.com'", "id = gen_random_uuid()"],
)
def test_a_may_not_change_other_columns_of_own_row(as_a: Conn, world: World, assignment: str) -> None:
    result = _attempt(as_a, f"update public.users set {assignment} where id = %(a)s", world.params())
    assert isinstance(result, pg_errors.InsufficientPrivilege)


@pytest.mark.parametrize("spec", OWNED, ids=_ids(OWNED))
def test_a_cannot_update_or_delete_own_backend_rows(as_a: Conn, world: World, spec: TableSpec) -> None:
    """Writes are the backend's: even A's own rows are read-only to A (except full_name)."""
    result = _attempt(as_a, f"delete from public.{spec.name} where {spec.a_rows}", world.params())
    assert isinstance(result, pg_errors.InsufficientPrivilege)
    if spec.name != "users":
        result = _attempt(as_a, f"update public.{spec.name} set {spec.update_set} where {spec.a_rows}", world.params())
        assert isinstance(result, pg_errors.InsufficientPrivilege)


def test_membership_not_ownership_grants_reads(admin: Conn, world: World) -> None:
    """Once B adds A to B's workspace, A reads its manifests and sees B as co-member, but not B's payments."""
    admin.execute(
        "insert into workspace_members (workspace_id, user_id, role) values (%s, %s, 'member')", (world.ws_b, world.a)
    )
    _become(admin, "authenticated", world.a)
    params = world.params()
    assert _attempt(admin, "select * from public.bcm_manifests where workspace_id = %(ws_b)s", params) == 1
    assert _attempt(admin, "select * from public.workspace_members where workspace_id = %(ws_b)s", params) == 2
    assert _attempt(admin, "select * from public.payment_transactions where user_id = %(b)s", params) == 0
    assert _attempt(admin, "select * from public.users where id = %(b)s", params) == 0


# ----------------------------------------------------------------- anon ----


@pytest.mark.parametrize("spec", TABLES, ids=_ids(TABLES))
def test_anon_reads_nothing(as_anon: Conn, spec: TableSpec) -> None:
    assert isinstance(_attempt(as_anon, f"select * from public.{spec.name}", {}), pg_errors.InsufficientPrivilege)


@pytest.mark.parametrize("spec", TABLES, ids=_ids(TABLES))
def test_anon_writes_nothing(as_anon: Conn, world: World, spec: TableSpec) -> None:
    params = world.params()
    for query in (
        spec.insert,
        f"update public.{spec.name} set {spec.update_set} where {spec.b_rows}",
        f"delete from public.{spec.name} where {spec.b_rows}",
    ):
        assert isinstance(_attempt(as_anon, query, params), pg_errors.InsufficientPrivilege), query


def test_anon_cannot_call_the_membership_helper(as_anon: Conn, world: World) -> None:
    result = _attempt(as_anon, "select public.is_workspace_member(%(ws_b)s)", world.params())
    assert isinstance(result, pg_errors.InsufficientPrivilege)


# ------------------------------------------------------- functions, service ----


def test_authenticated_cannot_provision_users_directly(as_a: Conn, world: World) -> None:
    """The sign-up helper is security definer: callable by the trigger only, never over RPC."""
    result = _attempt(
        as_a, "select public.provision_user(%(new_id)s, 'forged@example.com', '{}'::jsonb)", world.params()
    )
    assert isinstance(result, pg_errors.InsufficientPrivilege)


def test_membership_helper_answers_only_for_the_caller(as_a: Conn, world: World) -> None:
    params = world.params()
    assert as_a.execute("select public.is_workspace_member(%(ws_a)s) as m", params).fetchone() == {"m": True}
    assert as_a.execute("select public.is_workspace_member(%(ws_b)s) as m", params).fetchone() == {"m": False}


@pytest.mark.parametrize("spec", TABLES, ids=_ids(TABLES))
def test_service_role_bypasses_rls(admin: Conn, world: World, spec: TableSpec) -> None:
    _become(admin, "service_role", None)
    for where in (spec.b_rows, spec.a_rows):
        seen = _attempt(admin, f"select * from public.{spec.name} where {where}", world.params())
        assert isinstance(seen, int)
        assert seen >= 1
