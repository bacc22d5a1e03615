"""Apply ``supabase/migrations/*.sql`` in name order, once each.

Applied files are recorded in ``supabase_migrations.schema_migrations``, the
table the Supabase CLI uses, so a database migrated here and one migrated by
``supabase db push`` agree on what has run.  Each file runs in its own
transaction; a session-level advisory lock serialises concurrent runners (two
cold-starting deploy jobs must not both apply ``004``).

Locally there is no Supabase ``auth`` schema, so ``local_shim=True`` first
applies ``supabase/local/*.sql`` (idempotent, never recorded).  On real
Supabase those objects exist and must not be touched: pass ``local_shim=False``.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = REPO_ROOT / "supabase" / "migrations"
LOCAL_SHIM_DIR = REPO_ROOT / "supabase" / "local"

# Arbitrary constant shared by every runner: the key of the advisory lock that
# serialises them (the digits spell "migr" in ASCII).
ADVISORY_LOCK_KEY = 0x6D696772

# A migration is "<digits>_<name>.sql"; the digits are the Supabase CLI "version".
_FILE_RE = re.compile(r"^(?P<version>\d+)_(?P<name>[A-Za-z0-9_]+)\.sql$")

# Seconds to wait for the server when connecting: a runner must not hang a deploy.
CONNECT_TIMEOUT_S = 10

_BOOKKEEPING_SQL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
    version text primary key,
    statements text[],
    name text
);
"""


@dataclass(frozen=True)
class Migration:
    """One migration file: its CLI version (numeric prefix), name and SQL."""

    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in ``directory``, in name order; rejects odd names and duplicate versions."""
    found: list[Migration] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if match is None:
            raise ValueError(f"migration file name must be <digits>_<name>.sql: {path.name}")
        version = match["version"]
        if version in seen:
            raise ValueError(f"duplicate migration version {version}: {path.name}")
        seen.add(version)
        found.append(Migration(version=version, name=match["name"], path=path))
    return found


def _apply_shim(conn: psycopg.Connection[tuple[object, ...]], directory: Path) -> None:
    for path in sorted(directory.glob("*.sql")):
        with conn.transaction():
            conn.execute(path.read_text(encoding="utf-8").encode())


def migrate(
    database_url: str,
    *,
    local_shim: bool,
    migrations_dir: Path = MIGRATIONS_DIR,
    shim_dir: Path = LOCAL_SHIM_DIR,
) -> list[str]:
    """Apply every pending migration; returns the file names applied in this run.

    Safe to run twice (the second run applies nothing) and concurrently (the
    advisory lock makes the second runner wait, then find nothing pending).
    """
    migrations = discover(migrations_dir)
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute("select pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            if local_shim:
                _apply_shim(conn, shim_dir)
            conn.execute(_BOOKKEEPING_SQL.encode())
            rows = conn.execute("select version from supabase_migrations.schema_migrations").fetchall()
            done = {str(row[0]) for row in rows}
            for migration in migrations:
                if migration.version in done:
                    continue
                sql = migration.sql
                with conn.transaction():
                    # bytes: no client-side parameter parsing, so '%' in SQL is literal.
                    conn.execute(sql.encode())
                    conn.execute(
                        "insert into supabase_migrations.schema_migrations (version, statements, name)"
                        " values (%s, %s, %s)",
                        (migration.version, [sql], migration.name),
                    )
                applied_now.append(migration.path.name)
        finally:
            # Closing the session releases the lock anyway; never mask the real error.
            with contextlib.suppress(psycopg.Error):
                conn.execute("select pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return applied_now
