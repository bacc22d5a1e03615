"""PostgreSQL (Supabase) behind ``lib.ports.Database``.

A small ``psycopg_pool.ConnectionPool`` opened lazily on first use, so a
function instance that never touches the database never connects, and
nothing connects at import or construction.  psycopg errors are translated
here into ``lib.errors`` adapter errors so services never see a vendor type:

- cannot connect / pool exhausted / server gone -> ``Unavailable`` (retry later)
- unique violation -> ``AlreadyExists`` (details: ``constraint``)
- check violation or an exception raised by a trigger -> ``Rejected``
  (details: ``constraint`` / ``message``)
- anything else -> ``AdapterError``
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from lib.errors import AdapterError, AlreadyExists, Rejected, Unavailable, Unstorable

SERVICE = "postgres"

# Seconds a caller waits for a free pooled connection before giving up with
# Unavailable: a request must fail fast rather than queue behind a stuck pool.
POOL_WAIT_TIMEOUT_S = 5.0

# A pooled connection returned this recently is handed out without the empty-query liveness check
# (one round trip per borrow otherwise); one idle longer is checked, since a server or pooler may
# have dropped it.  A connection that died inside the window fails its statement (Unavailable, a
# 5xx the caller retries) and the pool discards it on return.
CHECK_IDLE_AFTER_S = 5.0

DictConnection = psycopg.Connection[dict[str, Any]]


def _diag(exc: psycopg.Error) -> dict[str, Any]:
    """What the server said, for ``details``: constraint, table, message and SQLSTATE."""
    return {
        "constraint": exc.diag.constraint_name,
        "table": exc.diag.table_name,
        "message": exc.diag.message_primary,
        "sqlstate": exc.sqlstate,
    }


def translate(exc: BaseException) -> AdapterError:
    """Map a psycopg / pool exception onto the adapter error the caller acts on."""
    if isinstance(exc, AdapterError):
        return exc
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return Unavailable("no database connection available", service=SERVICE)
    if isinstance(exc, UnicodeEncodeError):  # raised by the driver adapting a lone surrogate, before sending
        return Unstorable("text cannot be encoded as UTF-8", service=SERVICE)
    if not isinstance(exc, psycopg.Error):
        return AdapterError(f"database error: {type(exc).__name__}", service=SERVICE)
    error: AdapterError
    if isinstance(exc, pg_errors.UniqueViolation):
        error = AlreadyExists("duplicate key", service=SERVICE)
    elif isinstance(exc, pg_errors.CheckViolation):
        error = Rejected("check constraint violated", service=SERVICE)
    elif isinstance(exc, pg_errors.RaiseException):
        error = Rejected(exc.diag.message_primary or "rejected by trigger", service=SERVICE)
    elif isinstance(exc, psycopg.DataError):  # NUL in text, untranslatable characters, bad literals
        error = Unstorable(f"value cannot be stored: {type(exc).__name__}", service=SERVICE)
    elif isinstance(exc, (pg_errors.ForeignKeyViolation, pg_errors.NotNullViolation)):
        error = Rejected(type(exc).__name__, service=SERVICE)
    elif isinstance(exc, (pg_errors.QueryCanceled, pg_errors.LockNotAvailable)):
        error = Unavailable("statement timed out or lock not available", service=SERVICE)
    elif isinstance(exc, psycopg.OperationalError):
        error = Unavailable(f"database unreachable: {type(exc).__name__}", service=SERVICE)
    else:
        error = AdapterError(f"database error: {type(exc).__name__}", service=SERVICE)
    error.details.update(_diag(exc))
    return error


class PostgresDatabase:
    """Pooled, error-translating access to one Postgres database."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 5,
        statement_timeout_ms: int = 5000,
        connect_timeout_s: float = 3.0,
    ) -> None:
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._statement_timeout_ms = statement_timeout_ms
        self._connect_timeout_s = connect_timeout_s
        self._pool: psycopg_pool.ConnectionPool[DictConnection] | None = None
        self._lock = threading.Lock()
        # When each pooled connection was last given back (monotonic seconds), for ``_check``.
        self._returned_at: weakref.WeakKeyDictionary[DictConnection, float] = weakref.WeakKeyDictionary()

    def _get_pool(self) -> psycopg_pool.ConnectionPool[DictConnection]:
        with self._lock:
            if self._pool is None:
                pool: psycopg_pool.ConnectionPool[DictConnection] = psycopg_pool.ConnectionPool(
                    self._dsn,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    open=False,
                    timeout=POOL_WAIT_TIMEOUT_S,
                    kwargs={
                        "row_factory": dict_row,
                        "connect_timeout": max(1, round(self._connect_timeout_s)),
                        "autocommit": True,
                        # Server-side prepared statements break behind Supabase's
                        # transaction pooler (Supavisor / PgBouncer): never prepare.
                        "prepare_threshold": None,
                    },
                    configure=self._configure,
                    check=self._check,
                    name="postgres",
                )
                try:
                    # wait=True bounds the first connect so "down" surfaces as Unavailable fast.
                    pool.open(wait=True, timeout=self._connect_timeout_s)
                except psycopg_pool.PoolTimeout as exc:
                    pool.close(timeout=0)
                    raise Unavailable("cannot connect to database", service=SERVICE) from exc
                self._pool = pool
            return self._pool

    def _configure(self, conn: DictConnection) -> None:
        """Per new connection: the statement timeout.  Set with a query, not the
        ``options`` startup parameter, which connection poolers may refuse."""
        conn.execute("select set_config('statement_timeout', %s, false)", (str(int(self._statement_timeout_ms)),))

    def _check(self, conn: DictConnection) -> None:
        """The pool's check on borrow: skipped for a connection back in the pool less than
        ``CHECK_IDLE_AFTER_S`` ago (it just worked), the empty-query round trip otherwise."""
        returned = self._returned_at.get(conn)
        if returned is not None and time.monotonic() - returned < CHECK_IDLE_AFTER_S:
            return
        psycopg_pool.ConnectionPool.check_connection(conn)

    @contextmanager
    def _borrow(self) -> Iterator[DictConnection]:
        pool = self._get_pool()
        try:
            with pool.connection(timeout=POOL_WAIT_TIMEOUT_S) as conn:
                try:
                    yield conn
                finally:
                    self._returned_at[conn] = time.monotonic()
        except (psycopg.Error, UnicodeEncodeError) as exc:
            raise translate(exc) from exc
        except psycopg_pool.PoolTimeout as exc:
            raise translate(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[DictConnection]:
        """A connection inside one transaction: committed on normal exit, rolled back on any exception."""
        with self._borrow() as conn, conn.transaction():
            yield conn

    @contextmanager
    def connection(self) -> Iterator[DictConnection]:
        """An autocommit connection: each statement commits on its own."""
        with self._borrow() as conn:
            yield conn

    def ping(self) -> None:
        """Round-trip ``select 1``; raises ``Unavailable`` when the database cannot answer."""
        with self.connection() as conn:
            conn.execute("select 1").fetchone()

    def close(self) -> None:
        """Close the pool (if it was ever opened); the next use reopens it."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
