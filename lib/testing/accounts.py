"""Sign a user up in the real database for integration tests and benches: an ``auth.users`` row,
from which the schema's trigger makes the ``public.users`` row and the owner's workspace."""

from __future__ import annotations

import uuid

from lib.ports import Connection, Database


def sign_up_in(conn: Connection, *, email: str | None = None, full_name: str | None = None) -> tuple[str, str]:
    """(user id, workspace id) of a new user, inside the caller's transaction."""
    row = conn.execute(
        "insert into auth.users (email, raw_user_meta_data)"
        " values (%s, case when %s::text is null then '{}'::jsonb"
        " else jsonb_build_object('full_name', %s::text) end) returning id",
        (email or f"{uuid.uuid4().hex[:10]}@example.com", full_name, full_name),
    ).fetchone()
    assert row is not None
    ws = conn.execute("select id from public.workspaces where owner_id = %s", (row["id"],)).fetchone()
    assert ws is not None
    return str(row["id"]), str(ws["id"])


def sign_up(db: Database, *, email: str | None = None, full_name: str | None = None) -> tuple[str, str]:
    """(user id, workspace id) of a new user, committed."""
    with db.transaction() as conn:
        return sign_up_in(conn, email=email, full_name=full_name)
