"""The psycopg -> lib.errors translation table, without a server."""

from __future__ import annotations

import psycopg
import psycopg_pool
import pytest
from psycopg import errors as pg_errors

from lib.adapters.postgres import PostgresDatabase, translate
from lib.errors import AdapterError, AlreadyExists, Rejected, Unavailable


@pytest.mark.parametrize(
    ("exc", "expected", "retryable"),
    [
        (pg_errors.UniqueViolation("dup"), AlreadyExists, False),
        (pg_errors.CheckViolation("check"), Rejected, False),
        (pg_errors.RaiseException("trigger said no"), Rejected, False),
        (pg_errors.ForeignKeyViolation("fk"), Rejected, False),
        (pg_errors.NotNullViolation("null"), Rejected, False),
        (pg_errors.QueryCanceled("timeout"), Unavailable, True),
        (pg_errors.LockNotAvailable("lock"), Unavailable, True),
        (psycopg.OperationalError("connection refused"), Unavailable, True),
        (pg_errors.AdminShutdown("shutting down"), Unavailable, True),
        (psycopg_pool.PoolTimeout("no connection"), Unavailable, True),
        (pg_errors.UndefinedTable("no table"), AdapterError, False),
        (RuntimeError("odd"), AdapterError, False),
    ],
)
def test_translation(exc: BaseException, expected: type[AdapterError], retryable: bool) -> None:
    error = translate(exc)
    assert type(error) is expected
    assert error.service == "postgres"
    assert error.retryable is retryable


def test_database_errors_carry_sqlstate_and_constraint_keys() -> None:
    error = translate(pg_errors.UniqueViolation("dup"))
    assert error.details["sqlstate"] == "23505"
    assert "constraint" in error.details
    assert "message" in error.details


def test_adapter_errors_pass_through_untouched() -> None:
    original = Rejected("already translated", service="postgres")
    assert translate(original) is original


def test_construction_does_not_connect() -> None:
    # A DSN nothing could ever answer: construction must not notice.
    database = PostgresDatabase("postgresql://nobody@invalid.invalid:1/none")
    assert database._pool is None  # no pool, so no connection attempt, until first use
    database.close()
    assert database._pool is None
