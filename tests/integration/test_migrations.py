"""The migrations from zero on a fresh database: runner bookkeeping, the
sign-up trigger, constraints and transition triggers, indexes and the seed."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from devtools.db.migrate import MIGRATIONS_DIR, discover, migrate
from devtools.db.scratch import scratch_database
from devtools.local.services import ServiceSet

pytestmark = pytest.mark.services

EXPECTED_FILES = [
    "001_tenancy.sql",
    "002_payments.sql",
    "003_bcm_storage.sql",
    "004_onboarding_status.sql",
    "005_rls_policies.sql",
    "006_subscription_lifecycle.sql",
    "007_billing_ledger.sql",
]
CHECKSUM = "a" * 64


@pytest.fixture(scope="module")
def fresh(services: ServiceSet) -> Iterator[tuple[str, list[str], list[str]]]:
    """A database migrated from zero here, with what the first and second runs applied."""
    with scratch_database(services.env["DATABASE_URL"], prefix="test_migrations") as url:
        first = migrate(url, local_shim=True)
        second = migrate(url, local_shim=True)
        yield url, first, second


@pytest.fixture
def conn(fresh: tuple[str, list[str], list[str]]) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A superuser connection whose work is always rolled back."""
    with psycopg.connect(fresh[0], row_factory=dict_row) as connection, connection.transaction(force_rollback=True):
        yield connection


def sign_up(conn: psycopg.Connection[dict[str, Any]], email: str, meta: dict[str, Any] | None = None) -> uuid.UUID:
    row = conn.execute(
        "insert into auth.users (email, raw_user_meta_data) values (%s, %s::jsonb) returning id",
        (email, Jsonb(meta or {})),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def workspace_of(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> uuid.UUID:
    row = conn.execute("select id from workspaces where owner_id = %s", (user_id,)).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def new_order(conn: psycopg.Connection[Any], user_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "merchant_order_id": f"ord_{uuid.uuid4().hex[:20]}",
        "workspace_id": workspace_of(conn, user_id),
        "user_id": user_id,
        "plan_id": "starter",
        "billing_period": "monthly",
        "amount_paise": 99900,
    }
    values.update(overrides)
    row = conn.execute(
        "insert into payment_transactions (merchant_order_id, workspace_id, user_id, plan_id, billing_period,"
        " amount_paise) values (%(merchant_order_id)s, %(workspace_id)s, %(user_id)s, %(plan_id)s,"
        " %(billing_period)s, %(amount_paise)s) returning *",
        values,
    ).fetchone()
    assert row is not None
    return dict(row)


# --------------------------------------------------------------- runner ----


def test_first_run_applies_every_file_in_order_and_second_run_nothing(
    fresh: tuple[str, list[str], list[str]],
) -> None:
    _, first, second = fresh
    assert first == EXPECTED_FILES
    assert [m.path.name for m in discover(MIGRATIONS_DIR)] == EXPECTED_FILES
    assert second == []


def test_runs_are_recorded_in_the_supabase_cli_table(conn: psycopg.Connection[dict[str, Any]]) -> None:
    rows = conn.execute(
        "select version, name, statements from supabase_migrations.schema_migrations order by version"
    ).fetchall()
    assert [(r["version"], r["name"]) for r in rows] == [
        ("001", "tenancy"),
        ("002", "payments"),
        ("003", "bcm_storage"),
        ("004", "onboarding_status"),
        ("005", "rls_policies"),
        ("006", "subscription_lifecycle"),
        ("007", "billing_ledger"),
    ]
    assert "create table public.plans" in rows[0]["statements"][0]


def test_concurrent_runners_apply_each_migration_once(services: ServiceSet) -> None:
    with scratch_database(services.env["DATABASE_URL"], prefix="test_migrations_race") as url:
        results: list[list[str]] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                results.append(migrate(url, local_shim=True))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert sorted(name for result in results for name in result) == EXPECTED_FILES
        with psycopg.connect(url) as c:
            count = c.execute("select count(*) from supabase_migrations.schema_migrations").fetchone()
        assert count == (len(EXPECTED_FILES),)


def test_failed_migration_rolls_back_and_is_not_recorded(services: ServiceSet, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "001_good.sql").write_text("create table good (id int);")
    (migrations / "002_bad.sql").write_text("create table half (id int);\nselect * from no_such_table;")
    (migrations / "003_later.sql").write_text("create table later (id int);")
    shim = tmp_path / "shim"
    shim.mkdir()
    with scratch_database(services.env["DATABASE_URL"], prefix="test_migrations_fail") as url:
        with pytest.raises(pg_errors.UndefinedTable):
            migrate(url, local_shim=False, migrations_dir=migrations, shim_dir=shim)
        with psycopg.connect(url) as c:
            versions = c.execute("select version from supabase_migrations.schema_migrations").fetchall()
            tables = c.execute(
                "select tablename from pg_tables where schemaname = 'public' order by tablename"
            ).fetchall()
        assert versions == [("001",)]
        assert tables == [("good",)]


def test_shim_is_applied_only_when_asked(services: ServiceSet, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "001_noop.sql").write_text("select 1;")
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "000_marker.sql").write_text("create table if not exists shim_marker (id int);")
    with scratch_database(services.env["DATABASE_URL"], prefix="test_migrations_shim") as url:
        assert migrate(url, local_shim=False, migrations_dir=migrations, shim_dir=shim) == ["001_noop.sql"]
        with psycopg.connect(url) as c:
            assert c.execute("select to_regclass('public.shim_marker')").fetchone() == (None,)
        assert migrate(url, local_shim=True, migrations_dir=migrations, shim_dir=shim) == []
        with psycopg.connect(url) as c:
            assert c.execute("select to_regclass('public.shim_marker')::text").fetchone() == ("shim_marker",)


# ----------------------------------------------------------------- seed ----


def test_plans_are_seeded(conn: psycopg.Connection[dict[str, Any]]) -> None:
    rows = conn.execute("select id, monthly_paise, annual_paise, purchasable from plans order by sort").fetchall()
    assert [(r["id"], r["monthly_paise"], r["annual_paise"], r["purchasable"]) for r in rows] == [
        ("free", 0, 0, True),
        ("starter", 99900, 999000, True),
        ("growth", 249900, 2499000, True),
        ("enterprise", None, None, False),
    ]


# -------------------------------------------------------------- sign-up ----


def test_sign_up_creates_user_workspace_and_owner_membership(conn: psycopg.Connection[dict[str, Any]]) -> None:
    user_id = sign_up(conn, "asha@example.com", {"full_name": "Asha Rao"})
    user = conn.execute("select * from users where id = %s", (user_id,)).fetchone()
    assert user is not None
    assert (user["email"], user["full_name"], user["onboarding_status"]) == (
        "asha@example.com",
        "Asha Rao",
        "pending",
    )
    workspaces = conn.execute("select id, name from workspaces where owner_id = %s", (user_id,)).fetchall()
    assert [w["name"] for w in workspaces] == ["Asha Rao's Workspace"]
    members = conn.execute("select workspace_id, role from workspace_members where user_id = %s", (user_id,)).fetchall()
    assert [(m["workspace_id"], m["role"]) for m in members] == [(workspaces[0]["id"], "owner")]


@pytest.mark.parametrize(
    ("meta", "expected_full_name", "expected_workspace"),
    [
        ({"name": "Ravi"}, "Ravi", "Ravi's Workspace"),
        ({}, None, "dev.ops's Workspace"),
        ({"full_name": "   "}, None, "dev.ops's Workspace"),
    ],
)
def test_sign_up_names_the_workspace_from_name_or_email(
    conn: psycopg.Connection[dict[str, Any]],
    meta: dict[str, Any],
    expected_full_name: str | None,
    expected_workspace: str,
) -> None:
    user_id = sign_up(conn, "dev.ops@example.com", meta)
    row = conn.execute(
        "select u.full_name, w.name from users u join workspaces w on w.owner_id = u.id where u.id = %s",
        (user_id,),
    ).fetchone()
    assert row == {"full_name": expected_full_name, "name": expected_workspace}


def test_email_change_in_auth_is_mirrored(conn: psycopg.Connection[dict[str, Any]]) -> None:
    user_id = sign_up(conn, "old@example.com")
    conn.execute("update auth.users set email = 'new@example.com' where id = %s", (user_id,))
    assert conn.execute("select email from users where id = %s", (user_id,)).fetchone() == {"email": "new@example.com"}


# ---------------------------------------------------------- constraints ----


@pytest.mark.parametrize("bad_id", ["has space", "semi;colon", "x" * 64, "", "dot.ted"])
def test_merchant_order_id_format_is_enforced(conn: psycopg.Connection[dict[str, Any]], bad_id: str) -> None:
    user_id = sign_up(conn, "pay@example.com")
    with pytest.raises(pg_errors.CheckViolation) as info, conn.transaction():
        new_order(conn, user_id, merchant_order_id=bad_id)
    assert info.value.diag.constraint_name == "payment_transactions_merchant_order_id_format"


def test_merchant_order_id_is_unique(conn: psycopg.Connection[dict[str, Any]]) -> None:
    user_id = sign_up(conn, "pay@example.com")
    new_order(conn, user_id, merchant_order_id="ord-1_A")
    with pytest.raises(pg_errors.UniqueViolation) as info, conn.transaction():
        new_order(conn, user_id, merchant_order_id="ord-1_A")
    assert info.value.diag.constraint_name == "payment_transactions_merchant_order_id_key"


def test_negative_amount_is_rejected(conn: psycopg.Connection[dict[str, Any]]) -> None:
    user_id = sign_up(conn, "pay@example.com")
    with pytest.raises(pg_errors.CheckViolation) as info, conn.transaction():
        new_order(conn, user_id, amount_paise=-1)
    assert info.value.diag.constraint_name == "payment_transactions_amount_paise_nonnegative"


def insert_manifest(conn: psycopg.Connection[Any], workspace_id: uuid.UUID, version: tuple[int, int, int]) -> None:
    conn.execute(
        "insert into bcm_manifests (workspace_id, version, major, minor, patch, checksum, token_count, manifest,"
        " source, change) values (%s, %s, %s, %s, %s, %s, 100, '{}'::jsonb, 'onboarding', 'initial')",
        (workspace_id, ".".join(map(str, version)), *version, CHECKSUM),
    )


def test_duplicate_manifest_version_per_workspace_is_rejected(conn: psycopg.Connection[dict[str, Any]]) -> None:
    a = workspace_of(conn, sign_up(conn, "a@example.com"))
    b = workspace_of(conn, sign_up(conn, "b@example.com"))
    insert_manifest(conn, a, (1, 0, 0))
    insert_manifest(conn, b, (1, 0, 0))  # same version, other workspace: fine
    with pytest.raises(pg_errors.UniqueViolation) as info, conn.transaction():
        insert_manifest(conn, a, (1, 0, 0))
    assert info.value.diag.constraint_name == "bcm_manifests_workspace_id_version_key"


def test_manifest_version_must_match_its_parts(conn: psycopg.Connection[dict[str, Any]]) -> None:
    ws = workspace_of(conn, sign_up(conn, "a@example.com"))
    with pytest.raises(pg_errors.CheckViolation) as info, conn.transaction():
        conn.execute(
            "insert into bcm_manifests (workspace_id, version, major, minor, patch, checksum, token_count,"
            " manifest, source, change) values (%s, '2.0.0', 1, 0, 0, %s, 1, '{}', 'edit', 'major')",
            (ws, CHECKSUM),
        )
    assert info.value.diag.constraint_name == "bcm_manifests_version_matches"


def test_one_open_bcm_job_per_workspace_and_checksum(conn: psycopg.Connection[dict[str, Any]]) -> None:
    ws = workspace_of(conn, sign_up(conn, "a@example.com"))
    conn.execute("insert into bcm_jobs (workspace_id, source_checksum) values (%s, 'c1')", (ws,))
    with pytest.raises(pg_errors.UniqueViolation), conn.transaction():
        conn.execute("insert into bcm_jobs (workspace_id, source_checksum) values (%s, 'c1')", (ws,))
    conn.execute("update bcm_jobs set status = 'succeeded' where workspace_id = %s", (ws,))
    conn.execute("insert into bcm_jobs (workspace_id, source_checksum) values (%s, 'c1')", (ws,))


def test_one_active_onboarding_session_per_workspace(conn: psycopg.Connection[dict[str, Any]]) -> None:
    user_id = sign_up(conn, "a@example.com")
    ws = workspace_of(conn, user_id)
    conn.execute("insert into onboarding_sessions (workspace_id, user_id) values (%s, %s)", (ws, user_id))
    with pytest.raises(pg_errors.UniqueViolation), conn.transaction():
        conn.execute("insert into onboarding_sessions (workspace_id, user_id) values (%s, %s)", (ws, user_id))


# ---------------------------------------------------------- transitions ----

ONBOARDING_FORWARD = ["pending", "payment_confirmed", "in_progress", "completed"]


def test_onboarding_status_moves_forward_and_stamps_completion(conn: psycopg.Connection[dict[str, Any]]) -> None:
    user_id = sign_up(conn, "a@example.com")
    for status in ONBOARDING_FORWARD[1:]:
        conn.execute("update users set onboarding_status = %s where id = %s", (status, user_id))
    row = conn.execute("select onboarding_status, onboarding_completed_at from users where id = %s", (user_id,))
    got = row.fetchone()
    assert got is not None
    assert got["onboarding_status"] == "completed"
    assert got["onboarding_completed_at"] is not None


@pytest.mark.parametrize(
    ("path", "backward"),
    [
        (["payment_confirmed"], "pending"),
        (["payment_confirmed", "in_progress"], "payment_confirmed"),
        (["payment_confirmed", "in_progress", "completed"], "in_progress"),
        (["payment_confirmed", "in_progress", "completed"], "abandoned"),
        ([], "in_progress"),  # skipping payment is not forward, it is a bypass
        (["abandoned"], "completed"),
    ],
)
def test_backward_onboarding_status_move_raises(
    conn: psycopg.Connection[dict[str, Any]], path: list[str], backward: str
) -> None:
    user_id = sign_up(conn, "a@example.com")
    for status in path:
        conn.execute("update users set onboarding_status = %s where id = %s", (status, user_id))
    with pytest.raises(pg_errors.RaiseException, match="illegal onboarding_status transition"), conn.transaction():
        conn.execute("update users set onboarding_status = %s where id = %s", (backward, user_id))


def test_abandoned_onboarding_can_resume(conn: psycopg.Connection[dict[str, Any]]) -> None:
    user_id = sign_up(conn, "a@example.com")
    for status in ["payment_confirmed", "in_progress", "abandoned", "in_progress", "in_progress"]:
        conn.execute("update users set onboarding_status = %s where id = %s", (status, user_id))
    assert conn.execute("select onboarding_status from users where id = %s", (user_id,)).fetchone() == {
        "onboarding_status": "in_progress"
    }


@pytest.mark.parametrize(
    "path",
    [
        ["PENDING", "COMPLETED", "REFUNDED"],
        ["COMPLETED"],
        ["PENDING", "FAILED", "NEEDS_REVIEW"],
        ["EXPIRED", "NEEDS_REVIEW"],
        ["PENDING", "PENDING", "EXPIRED"],
    ],
)
def test_payment_forward_transitions_are_allowed(conn: psycopg.Connection[dict[str, Any]], path: list[str]) -> None:
    order = new_order(conn, sign_up(conn, "pay@example.com"))
    for state in path:
        conn.execute("update payment_transactions set state = %s where id = %s", (state, order["id"]))
    row = conn.execute("select state, completed_at from payment_transactions where id = %s", (order["id"],))
    got = row.fetchone()
    assert got is not None
    assert got["state"] == path[-1]
    assert (got["completed_at"] is not None) == ("COMPLETED" in path)


@pytest.mark.parametrize(
    ("path", "backward"),
    [
        (["PENDING"], "CREATED"),
        (["PENDING", "COMPLETED"], "PENDING"),
        (["PENDING", "COMPLETED"], "FAILED"),
        (["FAILED"], "COMPLETED"),
        (["EXPIRED"], "PENDING"),
        (["PENDING", "COMPLETED", "REFUNDED"], "COMPLETED"),
        ([], "REFUNDED"),
    ],
)
def test_backward_payment_transition_raises(
    conn: psycopg.Connection[dict[str, Any]], path: list[str], backward: str
) -> None:
    order = new_order(conn, sign_up(conn, "pay@example.com"))
    for state in path:
        conn.execute("update payment_transactions set state = %s where id = %s", (state, order["id"]))
    with pytest.raises(pg_errors.RaiseException, match="illegal state transition"), conn.transaction():
        conn.execute("update payment_transactions set state = %s where id = %s", (backward, order["id"]))


def test_payment_amount_is_immutable(conn: psycopg.Connection[dict[str, Any]]) -> None:
    order = new_order(conn, sign_up(conn, "pay@example.com"))
    with pytest.raises(pg_errors.RaiseException, match="immutable"), conn.transaction():
        conn.execute("update payment_transactions set amount_paise = 1 where id = %s", (order["id"],))


def test_finalized_onboarding_session_is_final(conn: psycopg.Connection[dict[str, Any]]) -> None:
    user_id = sign_up(conn, "a@example.com")
    row = conn.execute(
        "insert into onboarding_sessions (workspace_id, user_id) values (%s, %s) returning id",
        (workspace_of(conn, user_id), user_id),
    ).fetchone()
    assert row is not None
    conn.execute("update onboarding_sessions set status = 'finalized' where id = %s", (row["id"],))
    got = conn.execute("select finalized_at from onboarding_sessions where id = %s", (row["id"],)).fetchone()
    assert got is not None
    assert got["finalized_at"] is not None
    with pytest.raises(pg_errors.RaiseException), conn.transaction():
        conn.execute("update onboarding_sessions set status = 'active' where id = %s", (row["id"],))


def test_updated_at_moves_on_update(conn: psycopg.Connection[dict[str, Any]]) -> None:
    user_id = sign_up(conn, "a@example.com")
    # now() is the transaction start; backdate the row to see the trigger move it.
    conn.execute("alter table users disable trigger users_set_updated_at")
    conn.execute("update users set updated_at = now() - interval '1 day' where id = %s", (user_id,))
    conn.execute("alter table users enable trigger users_set_updated_at")
    conn.execute("update users set full_name = 'Renamed' where id = %s", (user_id,))
    row = conn.execute("select updated_at = now() as fresh from users where id = %s", (user_id,)).fetchone()
    assert row == {"fresh": True}


# -------------------------------------------------------------- indexes ----


UNINDEXED_FOREIGN_KEYS = """
    select c.conrelid::regclass::text as tbl, c.conname
    from pg_constraint c
    where c.contype = 'f'
      and c.connamespace = 'public'::regnamespace
      and not exists (
        select 1 from pg_index i
        where i.indrelid = c.conrelid
          and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
          and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey
      )
"""


def test_every_foreign_key_is_indexed(conn: psycopg.Connection[dict[str, Any]]) -> None:
    """Each FK's columns lead some index on its table (cascades and joins need it)."""
    assert conn.execute(UNINDEXED_FOREIGN_KEYS).fetchall() == []


def test_the_unindexed_foreign_key_query_does_find_one(conn: psycopg.Connection[dict[str, Any]]) -> None:
    """Guards the test above against a query that can never report anything."""
    conn.execute("drop index onboarding_sessions_user_id_idx")
    assert conn.execute(UNINDEXED_FOREIGN_KEYS).fetchall() == [
        {"tbl": "onboarding_sessions", "conname": "onboarding_sessions_user_id_fkey"}
    ]


def test_every_table_with_updated_at_has_the_trigger(conn: psycopg.Connection[dict[str, Any]]) -> None:
    missing = conn.execute(
        """
        select c.table_name from information_schema.columns c
        where c.table_schema = 'public' and c.column_name = 'updated_at'
          and not exists (
            select 1 from information_schema.triggers t
            where t.event_object_schema = 'public' and t.event_object_table = c.table_name
              and t.action_statement like '%set_updated_at%'
          )
        """
    ).fetchall()
    assert missing == []
