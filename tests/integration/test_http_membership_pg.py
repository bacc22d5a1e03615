"""Workspace membership against the real schema: users made by the sign-up trigger."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Request
from werkzeug.test import EnvironBuilder

from devtools.local.services import ServiceSet
from lib.adapters.postgres import PostgresDatabase
from lib.config import Settings
from lib.errors import NotFound
from lib.http import HttpDeps, Principal, RequestContext, Router
from lib.http.membership import MembershipResolver

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def db(services: ServiceSet) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(services.env["DATABASE_URL"], min_size=1, max_size=2)
    yield database
    database.close()


def sign_up(db: PostgresDatabase, name: str) -> tuple[str, str]:
    """Insert into auth.users like Supabase sign-up; returns (user id, the workspace the trigger made)."""
    user_id = str(uuid.uuid4())
    with db.transaction() as conn:
        conn.execute(
            "insert into auth.users (id, email, raw_user_meta_data) values (%s, %s, %s::jsonb)",
            (user_id, f"{name}-{user_id[:8]}@example.com", json.dumps({"full_name": name})),
        )
        ws = conn.execute("select id from public.workspaces where owner_id = %s", (user_id,)).fetchone()
    assert ws is not None
    return user_id, str(ws["id"])


def test_default_workspace_is_the_one_sign_up_created(db: PostgresDatabase) -> None:
    user, workspace = sign_up(db, "asha")
    resolver = MembershipResolver(db)
    assert resolver.default_workspace(user) == workspace
    assert resolver.resolve(user, None) == workspace
    assert resolver.resolve(user, workspace) == workspace


def test_another_tenants_workspace_is_404(db: PostgresDatabase) -> None:
    alice, _ = sign_up(db, "alice")
    _, bobs = sign_up(db, "bob")
    resolver = MembershipResolver(db)
    with pytest.raises(NotFound) as info:
        resolver.resolve(alice, bobs)
    assert info.value.code == "workspace_not_found"
    with pytest.raises(NotFound):
        resolver.resolve(alice, str(uuid.uuid4()))  # does not exist at all: same answer


def test_an_invited_member_gets_in(db: PostgresDatabase) -> None:
    alice, _ = sign_up(db, "alice")
    _, bobs = sign_up(db, "bob")
    resolver = MembershipResolver(db)
    with pytest.raises(NotFound):
        resolver.resolve(alice, bobs)
    with db.transaction() as conn:
        conn.execute(
            "insert into public.workspace_members (workspace_id, user_id, role) values (%s, %s, 'member')",
            (bobs, alice),
        )
    assert resolver.resolve(alice, bobs) == bobs  # the earlier "no" was not cached
    assert resolver.default_workspace(alice) != bobs  # owned workspaces come first


def test_a_user_without_any_workspace_is_404(db: PostgresDatabase) -> None:
    with pytest.raises(NotFound):
        MembershipResolver(db).resolve(str(uuid.uuid4()), None)


# -------------------------------------------------------------- through the router
class TokenIsUserId:
    def verify(self, token: str) -> Principal:
        return Principal(token, None, "authenticated", {})


router = Router("context")


@router.route("/manifest", methods=["GET"], auth="user")
def manifest(ctx: RequestContext) -> Any:
    return {"workspace_id": ctx.workspace_id(ctx.request.args.get("workspace_id"))}


def get(user: str, workspace: str | None) -> Request:
    query = {"workspace_id": workspace} if workspace else {}
    return EnvironBuilder(
        path="/manifest", query_string=query, headers={"Authorization": f"Bearer {user}"}
    ).get_request(Request)


def test_router_answers_404_for_a_workspace_the_caller_is_not_a_member_of(db: PostgresDatabase) -> None:
    alice, alices = sign_up(db, "alice")
    _, bobs = sign_up(db, "bob")
    deps = HttpDeps(settings=Settings(), jwt=TokenIsUserId(), membership=MembershipResolver(db))
    own = router.dispatch(get(alice, None), deps=deps)
    assert own.status_code == 200
    assert json.loads(own.get_data()) == {"workspace_id": alices}
    foreign = router.dispatch(get(alice, bobs), deps=deps)
    assert foreign.status_code == 404
    body = json.loads(foreign.get_data())
    assert body["code"] == "workspace_not_found"
    assert bobs not in foreign.get_data(as_text=True)
    garbage = router.dispatch(get(alice, "1 or 1=1"), deps=deps)
    assert garbage.status_code == 404
