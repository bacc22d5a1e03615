"""Idempotency-Key against the real Postgres ``idempotency_keys`` table, and through the router."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Request
from werkzeug.test import EnvironBuilder

from devtools.local.services import ServiceSet
from lib.adapters.postgres import PostgresDatabase
from lib.config import Settings
from lib.errors import Conflict, Unprocessable
from lib.http import HttpDeps, Principal, RequestContext, Router
from lib.http.idempotency import PostgresIdempotencyStore, StoredResponse
from lib.http.membership import MembershipResolver

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def db(services: ServiceSet) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(services.env["DATABASE_URL"], min_size=1, max_size=4)
    yield database
    database.close()


def new_user(db: PostgresDatabase) -> str:
    """A user created as Supabase sign-up would: the trigger adds users row, workspace and membership."""
    user_id = str(uuid.uuid4())
    with db.transaction() as conn:
        conn.execute(
            "insert into auth.users (id, email, raw_user_meta_data) values (%s, %s, %s::jsonb)",
            (user_id, f"{user_id[:8]}@example.com", json.dumps({"full_name": "Test User"})),
        )
    return user_id


@pytest.fixture
def store(db: PostgresDatabase) -> PostgresIdempotencyStore:
    return PostgresIdempotencyStore(db)


def row(db: PostgresDatabase, user: str, key: str) -> dict[str, Any] | None:
    with db.connection() as conn:
        result: dict[str, Any] | None = conn.execute(
            "select * from public.idempotency_keys where user_id = %s and key = %s", (user, key)
        ).fetchone()
    return result


def test_claim_complete_replay(db: PostgresDatabase, store: PostgresIdempotencyStore) -> None:
    user = new_user(db)
    assert store.begin(user, "fn", "k1", "hash-a") is None
    stored = row(db, user, "k1")
    assert stored is not None
    assert stored["status"] == "in_flight"
    hours = (stored["expires_at"] - stored["created_at"]).total_seconds() / 3600
    assert hours == pytest.approx(24, abs=0.01)
    with pytest.raises(Conflict) as info:
        store.begin(user, "fn", "k1", "hash-a")
    assert info.value.code == "idempotency_in_flight"
    response = StoredResponse(201, {"id": 7, "nested": [1, "a"]}, {"Location": "/x/7"})
    store.complete(user, "fn", "k1", response)
    assert store.begin(user, "fn", "k1", "hash-a") == response
    with pytest.raises(Unprocessable) as reused:
        store.begin(user, "fn", "k1", "hash-b")
    assert reused.value.code == "idempotency_key_reused"


def test_keys_are_scoped_per_user_and_function(db: PostgresDatabase, store: PostgresIdempotencyStore) -> None:
    alice, bob = new_user(db), new_user(db)
    assert store.begin(alice, "fn", "same", "h") is None
    assert store.begin(bob, "fn", "same", "h") is None
    assert store.begin(alice, "other_fn", "same", "h") is None


def test_release_lets_a_retry_run(db: PostgresDatabase, store: PostgresIdempotencyStore) -> None:
    user = new_user(db)
    assert store.begin(user, "fn", "k", "h") is None
    store.release(user, "fn", "k")
    assert row(db, user, "k") is None
    assert store.begin(user, "fn", "k", "h") is None


def test_release_never_deletes_a_completed_response(db: PostgresDatabase, store: PostgresIdempotencyStore) -> None:
    user = new_user(db)
    store.begin(user, "fn", "k", "h")
    store.complete(user, "fn", "k", StoredResponse(200, {"ok": True}))
    store.release(user, "fn", "k")
    assert store.begin(user, "fn", "k", "h") == StoredResponse(200, {"ok": True}, {})


def test_expired_keys_are_absent(db: PostgresDatabase, store: PostgresIdempotencyStore) -> None:
    user = new_user(db)
    store.begin(user, "fn", "k", "old-hash")
    store.complete(user, "fn", "k", StoredResponse(201, {"old": True}))
    with db.connection() as conn:
        conn.execute(
            "update public.idempotency_keys set expires_at = now() - interval '1 second' where user_id = %s", (user,)
        )
    assert store.begin(user, "fn", "k", "new-hash") is None  # not a 422: the old key is gone
    stored = row(db, user, "k")
    assert stored is not None
    assert (stored["request_hash"], stored["status"]) == ("new-hash", "in_flight")


def test_a_crashed_claim_is_taken_over_after_its_lease(db: PostgresDatabase, store: PostgresIdempotencyStore) -> None:
    user = new_user(db)
    store.begin(user, "fn", "k", "h")
    with db.connection() as conn:
        conn.execute(
            "update public.idempotency_keys set created_at = now() - interval '11 minutes' where user_id = %s", (user,)
        )
    assert store.begin(user, "fn", "k", "h") is None
    with pytest.raises(Conflict):
        store.begin(user, "fn", "k", "h")  # the new claim is fresh again


def test_concurrent_first_requests_run_once(db: PostgresDatabase, store: PostgresIdempotencyStore) -> None:
    user = new_user(db)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        try:
            outcomes.append("run" if store.begin(user, "fn", "race", "h") is None else "replay")
        except Conflict:
            outcomes.append("409")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["409", "409", "409", "run"]


# ------------------------------------------------------------- through the router
class OneUser:
    def __init__(self, user_id: str) -> None:
        self.principal = Principal(user_id, None, "authenticated", {})

    def verify(self, token: str) -> Principal:
        return self.principal


runs: list[dict[str, Any]] = []
router = Router("orders")


@router.route("/", methods=["POST"], auth="user", idempotent=True)
def create(ctx: RequestContext) -> Any:
    body = ctx.json()
    workspace = ctx.workspace_id(body.get("workspace_id"))
    runs.append(body)
    if body.get("fail"):
        raise RuntimeError("boom")
    return {"order": len(runs), "workspace_id": workspace}, 201


def post(body: dict[str, Any], key: str | None) -> Request:
    headers = {"Authorization": "Bearer t"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return EnvironBuilder(path="/", method="POST", json=body, headers=headers).get_request(Request)


def test_router_replays_from_postgres(db: PostgresDatabase) -> None:
    user = new_user(db)
    deps = HttpDeps(
        settings=Settings(),
        jwt=OneUser(user),
        idempotency=PostgresIdempotencyStore(db),
        membership=MembershipResolver(db),
    )
    runs.clear()
    key = f"order-{uuid.uuid4()}"
    first = router.dispatch(post({"plan": "starter"}, key), deps=deps)
    second = router.dispatch(post({"plan": "starter"}, key), deps=deps)
    assert first.status_code == second.status_code == 201
    assert json.loads(first.get_data()) == json.loads(second.get_data())
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(runs) == 1
    other = router.dispatch(post({"plan": "growth"}, key), deps=deps)
    assert other.status_code == 422
    assert json.loads(other.get_data())["code"] == "idempotency_key_reused"

    failing_key = f"fail-{uuid.uuid4()}"
    assert router.dispatch(post({"fail": True}, failing_key), deps=deps).status_code == 500
    assert row(db, user, failing_key) is None  # released
    assert router.dispatch(post({"fail": True}, failing_key), deps=deps).status_code == 500
    assert len(runs) == 3
