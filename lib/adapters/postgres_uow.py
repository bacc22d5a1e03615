"""The unit of work over one PostgreSQL transaction.

A feature's unit of work subclasses ``PostgresUnitOfWork`` and binds its
repositories to the transaction's connection in ``_bind``.  ``commit()`` marks
the unit to be kept; the transaction commits when the ``with`` block ends, and
rolls back when the block ends without ``commit()`` or with an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Self

import psycopg

from lib.adapters.postgres import translate
from lib.ports import Connection, Database


class PostgresUnitOfWork:
    """``lib.ports.UnitOfWork`` over ``Database.transaction()``; one unit per ``with`` block."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._transaction: AbstractContextManager[Connection] | None = None
        self._committed = False

    def _bind(self, conn: Connection) -> None:
        """Point this unit's repositories at ``conn`` (subclasses)."""

    def __enter__(self) -> Self:
        if self._transaction is not None:
            raise RuntimeError("a unit of work is not re-entrant; open a new one")
        self._committed = False
        transaction = self._db.transaction()
        conn = transaction.__enter__()
        self._transaction = transaction
        self._bind(conn)
        return self

    def commit(self) -> None:
        self._committed = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        transaction, self._transaction = self._transaction, None
        assert transaction is not None, "__exit__ without __enter__"
        if exc is None and not self._committed:
            # psycopg's way to end a transaction block quietly with a rollback.
            rollback = psycopg.Rollback()
            transaction.__exit__(type(rollback), rollback, None)
            return
        transaction.__exit__(exc_type, exc, tb)


class OneConnection:
    """``lib.ports.Database`` over the one connection of a unit of work: a repository built on it
    runs every statement in that unit's transaction (``transaction()`` does not nest one).  A
    failed statement is translated here, at the adapter's edge, like ``PostgresDatabase`` does:
    the service sees ``Rejected``/``AlreadyExists``/``Unavailable``, never a psycopg error."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.connection() as conn:
            yield conn

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        try:
            yield self._conn
        except (psycopg.Error, UnicodeEncodeError) as exc:
            raise translate(exc) from exc

    def ping(self) -> None:
        self._conn.execute("select 1")

    def close(self) -> None:
        """The unit of work owns the connection; nothing to close here."""
