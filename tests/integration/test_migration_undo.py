"""The undo scripts in ``supabase/undo/`` reverse their migration exactly.

"Exactly" is checked on the catalog: a snapshot of every object in the
``public`` and ``auth`` schemas (relations, columns, constraints, indexes,
functions, triggers, policies, types and every privilege, table, column,
function, schema and default) taken before migration N and after undoing it
must be equal.  Then N's own SQL re-applied on top of its undo must give the
post-N snapshot back, so an undo followed by a redo migration is clean.

The undo scripts are never run by the migration runner (see
``supabase/undo/README.md``); here they run the way a copied forward
migration would: each file in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from devtools.db.migrate import LOCAL_SHIM_DIR, REPO_ROOT, Migration, discover, migrate
from devtools.db.scratch import scratch_database
from devtools.local.services import ServiceSet

pytestmark = pytest.mark.services

UNDO_DIR = REPO_ROOT / "supabase" / "undo"
MIGRATIONS = discover()
VERSIONS = [m.version for m in MIGRATIONS]
SCHEMAS = ["public", "auth"]

Row = tuple[Any, ...]
Snapshot = dict[str, frozenset[Row]]

# Grantee 0 in an ACL is PUBLIC, which has no pg_authid row.
_GRANTEE = "case when acl.grantee = 0 then 'PUBLIC' else pg_get_userbyid(acl.grantee) end"
_PRIVS = f"{_GRANTEE}, pg_get_userbyid(acl.grantor), acl.privilege_type, acl.is_grantable"

# One query per kind of catalog object; each row names its object by schema and
# name (never by oid or attnum, which a drop and re-create changes).
CATALOG_QUERIES: dict[str, str] = {
    "relations": """
        select n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
               c.relpersistence, pg_get_userbyid(c.relowner)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%(schemas)s)""",
    "columns": """
        select n.nspname, c.relname, a.attname,
               row_number() over (partition by c.oid order by a.attnum),
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where n.nspname = any(%(schemas)s) and c.relkind in ('r', 'p', 'v', 'm', 'f')
          and a.attnum > 0 and not a.attisdropped""",
    "constraints": """
        select n.nspname, coalesce(c.relname, ''), con.conname, con.contype,
               pg_get_constraintdef(con.oid), con.condeferrable, con.convalidated
        from pg_constraint con
        join pg_namespace n on n.oid = con.connamespace
        left join pg_class c on c.oid = con.conrelid
        where n.nspname = any(%(schemas)s)""",
    "indexes": """
        select schemaname, tablename, indexname, indexdef
        from pg_indexes where schemaname = any(%(schemas)s)""",
    "functions": """
        select n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind,
               case when p.prokind in ('f', 'p') then md5(pg_get_functiondef(p.oid)) end,
               p.prosecdef, p.provolatile, p.proconfig::text, pg_get_userbyid(p.proowner)
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any(%(schemas)s)""",
    "triggers": """
        select n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        from pg_trigger t
        join pg_class c on c.oid = t.tgrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%(schemas)s) and not t.tgisinternal""",
    "policies": """
        select schemaname, tablename, policyname, permissive, cmd, qual, with_check,
               (select array_agg(r::text order by r::text) from unnest(roles) r)::text
        from pg_policies where schemaname = any(%(schemas)s)""",
    "types": """
        select n.nspname, t.typname, t.typtype
        from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where n.nspname = any(%(schemas)s)""",
    # A null ACL means "the default"; coalesce so an explicit default compares equal.
    "relation_privileges": f"""
        select n.nspname, c.relname, {_PRIVS}
        from pg_class c join pg_namespace n on n.oid = c.relnamespace,
        lateral aclexplode(coalesce(c.relacl, acldefault(
            case when c.relkind = 'S' then 's' else 'r' end::"char", c.relowner))) acl
        where n.nspname = any(%(schemas)s) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')""",
    "column_privileges": f"""
        select n.nspname, c.relname, a.attname, {_PRIVS}
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace,
        lateral aclexplode(a.attacl) acl
        where n.nspname = any(%(schemas)s) and a.attacl is not null and not a.attisdropped""",
    "function_privileges": f"""
        select n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), {_PRIVS}
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace,
        lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
        where n.nspname = any(%(schemas)s)""",
    "schema_privileges": f"""
        select n.nspname, {_PRIVS}
        from pg_namespace n,
        lateral aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) acl
        where n.nspname = any(%(schemas)s)""",
    "default_privileges": f"""
        select pg_get_userbyid(d.defaclrole), coalesce(n.nspname, ''), d.defaclobjtype, {_PRIVS}
        from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace,
        lateral aclexplode(d.defaclacl) acl""",
}


def snapshot(url: str) -> Snapshot:
    """Every catalog object of the ``public`` and ``auth`` schemas, by kind."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {
            kind: frozenset(conn.execute(query, {"schemas": SCHEMAS}).fetchall())
            for kind, query in CATALOG_QUERIES.items()
        }


def assert_same(expected: Snapshot, actual: Snapshot, what: str) -> None:
    """Fail listing, per kind, the catalog entries only one side has."""
    problems: list[str] = []
    for kind in CATALOG_QUERIES:
        missing = sorted(expected[kind] - actual[kind], key=repr)
        extra = sorted(actual[kind] - expected[kind], key=repr)
        problems += [f"  {kind} missing: {row}" for row in missing]
        problems += [f"  {kind} unexpected: {row}" for row in extra]
    assert not problems, f"{what}: catalog differs\n" + "\n".join(problems)


def run_file(url: str, path: Path) -> None:
    """One SQL file in one transaction, as the runner applies a migration."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        # bytes: no client-side parameter parsing, so '%' in SQL is literal.
        conn.execute(path.read_text(encoding="utf-8").encode())


def undo_path(migration: Migration) -> Path:
    return UNDO_DIR / migration.path.name


def apply_shim(url: str) -> None:
    for path in sorted(LOCAL_SHIM_DIR.glob("*.sql")):
        run_file(url, path)


@pytest.fixture
def empty_db(services: ServiceSet) -> Iterator[str]:
    """A fresh database with only the local auth shim (what Supabase provides)."""
    with scratch_database(services.env["DATABASE_URL"], prefix="undo") as url:
        apply_shim(url)
        yield url


def test_every_migration_has_an_undo_and_nothing_else() -> None:
    undo_names = sorted(p.name for p in UNDO_DIR.glob("*.sql"))
    assert undo_names == [m.path.name for m in MIGRATIONS]
    for migration in MIGRATIONS:
        text = undo_path(migration).read_text(encoding="utf-8")
        assert text.startswith(f"-- UNDO {migration.path.stem}: "), f"{migration.path.name}: header names another file"
        for field in ("Data lost:", "Prerequisites:"):
            assert f"-- {field}" in text, f"{migration.path.name}: header has no '{field}'"


def test_undo_all_in_reverse_restores_the_pre_migration_catalog(empty_db: str) -> None:
    before = snapshot(empty_db)
    assert migrate(empty_db, local_shim=True) == [m.path.name for m in MIGRATIONS]
    assert snapshot(empty_db)["relations"] != before["relations"]

    for migration in reversed(MIGRATIONS):
        run_file(empty_db, undo_path(migration))

    assert_same(before, snapshot(empty_db), "after undoing 005..001")
    # The undo scripts leave the ledger alone (README: forward-only), so the
    # runner does not re-apply an undone migration behind the operator's back.
    with psycopg.connect(empty_db) as conn:
        ledger = [r[0] for r in conn.execute("select version from supabase_migrations.schema_migrations order by 1")]
    assert ledger == VERSIONS
    assert migrate(empty_db, local_shim=True) == []
    assert_same(before, snapshot(empty_db), "after a second runner pass")


@pytest.mark.parametrize("index", range(len(MIGRATIONS)), ids=[m.path.stem for m in MIGRATIONS])
def test_undo_reverses_exactly_its_migration_and_redo_is_clean(empty_db: str, index: int) -> None:
    for earlier in MIGRATIONS[:index]:
        run_file(empty_db, earlier.path)
    migration = MIGRATIONS[index]
    before = snapshot(empty_db)
    run_file(empty_db, migration.path)
    after = snapshot(empty_db)
    assert after != before, f"{migration.path.name} changed nothing the snapshot sees"

    run_file(empty_db, undo_path(migration))
    assert_same(before, snapshot(empty_db), f"after undo {migration.path.name}")

    run_file(empty_db, undo_path(migration))  # idempotent: a second run is a no-op
    assert_same(before, snapshot(empty_db), f"after undo {migration.path.name} twice")

    run_file(empty_db, migration.path)  # redo: N's own text on top of its undo
    assert_same(after, snapshot(empty_db), f"after redo {migration.path.name}")


@pytest.fixture(scope="module")
def migrated_db(services: ServiceSet) -> Iterator[str]:
    """One fully migrated database for the tests that roll all their work back."""
    with scratch_database(services.env["DATABASE_URL"], prefix="undo_guard") as url:
        migrate(url, local_shim=True)
        yield url


def _sql(migration: Migration, *, undo: bool = False) -> bytes:
    return (undo_path(migration) if undo else migration.path).read_text(encoding="utf-8").encode()


@pytest.mark.parametrize(
    ("undo_version", "applied_through", "message"),
    [
        ("005", "007", "undo 007_billing_ledger before 005"),
        ("002", "007", "undo 007_billing_ledger before 002"),
        ("001", "007", "undo 007_billing_ledger before 001"),
        ("005", "006", "undo 006_subscription_lifecycle before 005"),
        ("002", "006", "undo 006_subscription_lifecycle before 002"),
        ("001", "006", "undo 006_subscription_lifecycle before 001"),
        ("004", "005", "undo 005_rls_policies before 004"),
        ("003", "005", "undo 005_rls_policies before 003"),
        ("003", "004", "undo 004_onboarding_status before 003"),
        ("002", "005", "undo 005_rls_policies before 002"),
        ("001", "005", "undo 005_rls_policies before 001"),
        ("001", "004", "undo 004_onboarding_status before 001"),
        ("001", "003", "undo 003_bcm_storage before 001"),
        ("001", "002", "undo 002_payments before 001"),
    ],
)
def test_undo_refuses_while_a_later_migration_depends_on_it(
    migrated_db: str, undo_version: str, applied_through: str, message: str
) -> None:
    by_version = {m.version: m for m in MIGRATIONS}
    with psycopg.connect(migrated_db) as conn, conn.transaction(force_rollback=True):
        for later in reversed(MIGRATIONS):  # step back to "applied through applied_through"
            if later.version > applied_through:
                conn.execute(_sql(later, undo=True))
        with pytest.raises(psycopg.errors.RaiseException, match=message), conn.transaction():
            conn.execute(_sql(by_version[undo_version], undo=True))
        # Refused before dropping anything: the migration's tables are all still there.
        count = conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone()
        assert count is not None
        expected_tables = {"007": 19, "006": 14, "005": 13, "004": 13, "003": 12, "002": 9}[applied_through]
        assert count[0] == expected_tables


def test_undo_002_alone_keeps_bcm_and_onboarding(migrated_db: str) -> None:
    """002 is not a dependency of 003 or 004: after 005 it can go on its own."""
    by_version = {m.version: m for m in MIGRATIONS}
    with psycopg.connect(migrated_db) as conn, conn.transaction(force_rollback=True):
        conn.execute(_sql(by_version["007"], undo=True))
        conn.execute(_sql(by_version["006"], undo=True))
        conn.execute(_sql(by_version["005"], undo=True))
        conn.execute(_sql(by_version["002"], undo=True))
        tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
        assert tables == {
            "plans",
            "users",
            "workspaces",
            "workspace_members",
            "business_contexts",
            "bcm_manifests",
            "bcm_jobs",
            "onboarding_sessions",
        }


def test_undo_004_with_data_unlinks_contexts_so_redo_succeeds(migrated_db: str) -> None:
    """Sessions are dropped; contexts survive with session_id null, and 004 re-applies on top."""
    by_version = {m.version: m for m in MIGRATIONS}
    with (
        psycopg.connect(migrated_db, row_factory=dict_row) as conn,
        conn.transaction(force_rollback=True),
    ):
        user = conn.execute(
            "insert into auth.users (email, raw_user_meta_data) values ('undo@example.com', '{}') returning id"
        ).fetchone()
        assert user is not None
        conn.execute("update public.users set onboarding_status = 'payment_confirmed' where id = %s", (user["id"],))
        ws = conn.execute("select id from public.workspaces where owner_id = %s", (user["id"],)).fetchone()
        assert ws is not None
        session = conn.execute(
            "insert into public.onboarding_sessions (workspace_id, user_id) values (%s, %s) returning id",
            (ws["id"], user["id"]),
        ).fetchone()
        assert session is not None
        conn.execute(
            "insert into public.business_contexts (workspace_id, session_id, schema_version, document, checksum)"
            " values (%s, %s, '1', '{}', 'x')",
            (ws["id"], session["id"]),
        )

        conn.execute(_sql(by_version["007"], undo=True))
        conn.execute(_sql(by_version["006"], undo=True))
        conn.execute(_sql(by_version["005"], undo=True))
        conn.execute(_sql(by_version["004"], undo=True))
        contexts = conn.execute("select session_id from public.business_contexts").fetchall()
        assert contexts == [{"session_id": None}]
        kept = conn.execute("select email from public.users where id = %s", (user["id"],)).fetchone()
        assert kept == {"email": "undo@example.com"}

        conn.execute(_sql(by_version["004"]))
        status = conn.execute("select onboarding_status from public.users where id = %s", (user["id"],)).fetchone()
        assert status == {"onboarding_status": "pending"}  # the column came back with its default
