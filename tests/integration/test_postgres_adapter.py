"""PostgresDatabase against a real server: transactions, pooling and the
translation of psycopg errors into lib.errors adapter errors."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from devtools.db.migrate import migrate
from devtools.db.scratch import scratch_database
from devtools.local.services import ServiceSet
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_uow import PostgresUnitOfWork
from lib.errors import AdapterError, AlreadyExists, Rejected, Unavailable
from lib.ports import Connection, Database

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def url(services: ServiceSet) -> Iterator[str]:
    with scratch_database(services.env["DATABASE_URL"], prefix="test_pg_adapter") as db_url:
        migrate(db_url, local_shim=True)
        yield db_url


@pytest.fixture
def db(url: str) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(url, min_size=1, max_size=2)
    database.ping()
    with database.connection() as conn:
        conn.execute("create table if not exists kv (k text primary key, v int not null check (v >= 0))")
        conn.execute("truncate kv")
    yield database
    database.close()


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serves_through_the_database_port(db: PostgresDatabase) -> None:
    port: Database = db  # mypy checks the structural fit; the calls check behaviour
    port.ping()
    with port.transaction() as conn:
        assert conn.execute("select 1 as one").fetchone() == {"one": 1}


def test_transaction_commits_on_normal_exit(db: PostgresDatabase) -> None:
    with db.transaction() as conn:
        conn.execute("insert into kv values ('a', 1)")
    with db.connection() as conn:
        assert conn.execute("select k, v from kv").fetchall() == [{"k": "a", "v": 1}]


def test_transaction_rolls_back_on_exception_and_reraises_it(db: PostgresDatabase) -> None:
    def insert_then_fail() -> None:
        with db.transaction() as conn:
            conn.execute("insert into kv values ('a', 1)")
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        insert_then_fail()
    with db.connection() as conn:
        assert conn.execute("select count(*) as n from kv").fetchone() == {"n": 0}


def test_transaction_is_isolated_until_commit(db: PostgresDatabase) -> None:
    with db.transaction() as inside:
        inside.execute("insert into kv values ('x', 1)")
        with db.connection() as other:
            assert other.execute("select count(*) as n from kv").fetchone() == {"n": 0}
    with db.connection() as other:
        assert other.execute("select count(*) as n from kv").fetchone() == {"n": 1}


def test_connection_is_autocommit(db: PostgresDatabase) -> None:
    with db.connection() as conn:
        conn.execute("insert into kv values ('b', 2)")
        with db.connection() as other:
            assert other.execute("select v from kv where k = 'b'").fetchone() == {"v": 2}


def test_unique_violation_is_already_exists_with_constraint(db: PostgresDatabase) -> None:
    with db.transaction() as conn:
        conn.execute("insert into kv values ('dup', 1)")
    with pytest.raises(AlreadyExists) as info, db.transaction() as conn:
        conn.execute("insert into kv values ('dup', 2)")
    assert info.value.service == "postgres"
    assert info.value.details["constraint"] == "kv_pkey"
    assert info.value.retryable is False


def test_check_violation_is_rejected_with_constraint(db: PostgresDatabase) -> None:
    with pytest.raises(Rejected) as info, db.transaction() as conn:
        conn.execute("insert into kv values ('neg', -1)")
    assert info.value.details["constraint"] == "kv_v_check"


def test_trigger_exception_is_rejected_with_message(db: PostgresDatabase) -> None:
    with db.transaction() as conn:
        user = conn.execute("insert into auth.users (email) values (%s) returning id", ("t@example.com",)).fetchone()
        assert user is not None
        conn.execute("update users set onboarding_status = 'payment_confirmed' where id = %s", (user["id"],))
    with pytest.raises(Rejected) as info, db.transaction() as conn:
        conn.execute("update users set onboarding_status = 'pending' where id = %s", (user["id"],))
    assert "illegal onboarding_status transition payment_confirmed -> pending" in info.value.details["message"]


def test_a_failed_statement_leaves_the_pool_usable(db: PostgresDatabase) -> None:
    with pytest.raises(AdapterError), db.transaction() as conn:
        conn.execute("select * from no_such_table")
    db.ping()
    with db.transaction() as conn:
        assert conn.execute("select 42 as answer").fetchone() == {"answer": 42}


def test_other_errors_are_adapter_errors_with_sqlstate(db: PostgresDatabase) -> None:
    with pytest.raises(AdapterError) as info, db.connection() as conn:
        conn.execute("select * from no_such_table")
    assert type(info.value) is AdapterError
    assert info.value.details["sqlstate"] == "42P01"


def test_statement_timeout_is_unavailable(url: str) -> None:
    database = PostgresDatabase(url, statement_timeout_ms=100)
    try:
        with pytest.raises(Unavailable) as info, database.connection() as conn:
            conn.execute("select pg_sleep(2)")
        assert info.value.retryable is True
    finally:
        database.close()


def test_server_down_is_unavailable_quickly() -> None:
    database = PostgresDatabase(f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres", connect_timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(Unavailable) as info:
        database.ping()
    assert time.monotonic() - started < 3.0
    assert info.value.service == "postgres"
    # still down: raises again, instead of caching a broken pool
    with pytest.raises(Unavailable), database.transaction():
        pass
    database.close()


def test_construction_never_connects() -> None:
    database = PostgresDatabase(f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres", connect_timeout_s=1.0)
    assert database._pool is None  # nothing opened: the server being down went unnoticed
    database.close()  # nothing was opened, nothing to fail
    assert database._pool is None
    with pytest.raises(Unavailable):  # the first use is what connects (and finds nobody)
        database.ping()
    database.close()


def test_close_then_reuse_reopens(url: str) -> None:
    database = PostgresDatabase(url)
    try:
        database.ping()
        database.close()
        assert database._pool is None  # closing dropped the pool
        with database.connection() as conn:  # reuse opens a fresh one that answers
            assert conn.execute("select 1 as one").fetchone() == {"one": 1}
        assert database._pool is not None
    finally:
        database.close()


def test_concurrent_borrowers_share_the_pool(db: PostgresDatabase) -> None:
    keys = [uuid.uuid4().hex for _ in range(2)]
    with db.transaction() as first, db.transaction() as second:  # max_size=2: both fit
        first.execute("insert into kv values (%s, 1)", (keys[0],))
        second.execute("insert into kv values (%s, 2)", (keys[1],))
    with db.connection() as conn:
        assert conn.execute("select count(*) as n from kv").fetchone() == {"n": 2}


def _backend_pid(database: PostgresDatabase) -> int:
    with database.connection() as conn:
        return int(conn.execute("select pg_backend_pid() as pid").fetchone()["pid"])  # type: ignore[index]


def _kill_pooled_backend(database: PostgresDatabase, url: str) -> int:
    """Terminate the (single) pooled connection's server process from another connection; return its pid."""
    pid = _backend_pid(database)
    killer = PostgresDatabase(url, min_size=1, max_size=1)
    try:
        with killer.connection() as conn:
            row = conn.execute("select pg_terminate_backend(%s) as killed", (pid,)).fetchone()
            assert row == {"killed": True}
    finally:
        killer.close()
    return pid


def test_a_connection_idle_past_the_window_is_checked_and_replaced(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import lib.adapters.postgres as pg

    monkeypatch.setattr(pg, "CHECK_IDLE_AFTER_S", 0.0)  # every borrow counts as idle: always checked
    database = PostgresDatabase(url, min_size=1, max_size=1)
    try:
        killed = _kill_pooled_backend(database, url)
        database.ping()  # the check found the dead connection and the pool handed out a new one
        assert _backend_pid(database) != killed
    finally:
        database.close()


def test_a_recently_used_connection_skips_the_check_and_a_dead_one_is_dropped_after_one_failure(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lib.adapters.postgres as pg

    monkeypatch.setattr(pg, "CHECK_IDLE_AFTER_S", 3600.0)  # never idle long enough to be checked
    database = PostgresDatabase(url, min_size=1, max_size=1)
    try:
        killed = _kill_pooled_backend(database, url)
        with pytest.raises(Unavailable):
            database.ping()  # unchecked: the statement meets the dead connection (a 5xx the caller retries)
        database.ping()  # the pool discarded it on return; the next borrow gets a fresh one
        assert _backend_pid(database) != killed
    finally:
        database.close()


class _KvUnit(PostgresUnitOfWork):
    """A unit of work binding one raw connection, as a feature's unit binds its repositories."""

    conn: Connection

    def _bind(self, conn: Connection) -> None:
        self.conn = conn


def _kv_rows(db: PostgresDatabase) -> list[dict[str, object]]:
    with db.connection() as conn:
        return list(conn.execute("select k, v from kv order by k").fetchall())


def test_unit_of_work_keeps_a_committed_change(db: PostgresDatabase) -> None:
    with _KvUnit(db) as uow:
        uow.conn.execute("insert into kv values ('a', 1)")
        uow.commit()
    assert _kv_rows(db) == [{"k": "a", "v": 1}]


def test_unit_of_work_without_commit_rolls_back(db: PostgresDatabase) -> None:
    with _KvUnit(db) as uow:
        uow.conn.execute("insert into kv values ('a', 1)")
    assert _kv_rows(db) == []


def test_unit_of_work_rolls_back_on_exception_after_commit(db: PostgresDatabase) -> None:
    def insert_commit_then_fail() -> None:
        with _KvUnit(db) as uow:
            uow.conn.execute("insert into kv values ('a', 1)")
            uow.commit()
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        insert_commit_then_fail()
    assert _kv_rows(db) == []


def test_unit_of_work_translates_a_failed_statement(db: PostgresDatabase) -> None:
    def insert_invalid() -> None:
        with _KvUnit(db) as uow:
            uow.conn.execute("insert into kv values ('a', -1)")
            uow.commit()

    with pytest.raises(Rejected):
        insert_invalid()
    assert _kv_rows(db) == []
    with _KvUnit(db) as again:  # the unit is reusable after a failure
        again.conn.execute("insert into kv values ('b', 2)")
        again.commit()
    assert _kv_rows(db) == [{"k": "b", "v": 2}]


def test_a_repository_in_a_unit_sees_its_failed_statement_translated_where_it_runs(db: PostgresDatabase) -> None:
    """``OneConnection`` translates at the statement, so a service can catch ``Rejected`` inside
    the unit (and decide), not only after it ends."""
    from lib.adapters.postgres_uow import OneConnection

    with _KvUnit(db) as uow:
        repo_db = OneConnection(uow.conn)
        with pytest.raises(Rejected), repo_db.connection() as conn:
            conn.execute("insert into kv values ('a', -1)")
