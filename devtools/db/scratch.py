"""Throw-away databases on a running server, for tests that must start from zero.

Migration and RLS tests need a database the session's shared one has not
already migrated; ``scratch_database`` creates one next to it (same server,
same cluster-wide roles) and drops it afterwards.  Test support only: nothing
in production calls this.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# Hex characters of randomness in a scratch database's name: enough that
# parallel test runs on one server never collide.
_SUFFIX_BYTES = 6


def database_url(base_url: str, dbname: str) -> str:
    """``base_url`` pointed at another database on the same server."""
    params = conninfo_to_dict(base_url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


@contextmanager
def scratch_database(base_url: str, *, prefix: str = "scratch") -> Iterator[str]:
    """Create an empty database, yield its URL, then drop it (forcing out any connection)."""
    name = f"{prefix}_{secrets.token_hex(_SUFFIX_BYTES)}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield database_url(base_url, name)
    finally:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
