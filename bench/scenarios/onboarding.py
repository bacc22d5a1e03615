"""Onboarding step saves and session reads against Valkey, the Firestore emulator and Postgres.

``baseline.onboarding_raw_write`` is a raw Redis SET plus a raw Firestore
``set`` of the same session document: what any save must pay at least.
``onboarding.step_save`` is ``OnboardingService.save_step`` (validation, the
Firestore transaction with the version check, the Postgres mirror, the cache
refresh); ``onboarding.session_read`` reads a full 23-step session from Redis
(including the Postgres fence read and building the API view).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Generator
from typing import Any

from bench.harness import BenchContext, Operation, ScenarioSkipped, Target, scenario

# Issue 4: a save may cost at most 1.5x the raw writes it is made of (the harness compares p50s).
SAVE_TARGET = Target(max_ratio=1.5)
# Issue 4: a full session read from Redis, p95 <= 5 ms.
READ_TARGET = Target(p95_ms=5.0)


def _service(ctx: BenchContext) -> tuple[Any, Any, str, str]:
    ctx.require("postgres", "redis", "firestore")
    if "schema" in ctx.missing:
        raise ScenarioSkipped(ctx.missing["schema"])
    from lib.adapters.firestore import FirestoreDocuments
    from lib.adapters.firestore_drafts import FirestoreDrafts
    from lib.adapters.postgres import PostgresDatabase
    from lib.adapters.postgres_onboarding import PostgresOnboarding
    from lib.adapters.redis import RedisKeyValue
    from lib.adapters.redis_sessions import RedisSessionCache
    from lib.services.onboarding import OnboardingService
    from lib.services.onboarding.ports import SystemClock
    from lib.testing.fakes import FakeTaskQueue

    db = PostgresDatabase(ctx.env["DATABASE_URL"])
    with db.transaction() as conn:
        user = conn.execute(
            "insert into auth.users (email) values (%s) returning id", (f"bench-{uuid.uuid4().hex[:8]}@example.com",)
        ).fetchone()
        assert user is not None
        ws = conn.execute("select id from public.workspaces where owner_id = %s", (user["id"],)).fetchone()
        assert ws is not None
        conn.execute(
            "insert into public.subscriptions (workspace_id, plan_id, status) values (%s, 'free', 'active')",
            (ws["id"],),
        )
    kv = RedisKeyValue.from_url(ctx.env["REDIS_URL"])
    service = OnboardingService(
        PostgresOnboarding(db),
        FirestoreDrafts(FirestoreDocuments("bcm-bench", emulator_host=ctx.env["FIRESTORE_EMULATOR_HOST"])),
        RedisSessionCache(kv),
        FakeTaskQueue(),
        SystemClock(),
        ai_queue="onboarding-ai",
        functions_base_url="http://bench.invalid",
    )
    sid = str(service.start(str(ws["id"]), str(user["id"])).session["session_id"])
    return service, kv, sid, str(ws["id"])


def _fixture() -> dict[int, dict[str, Any]]:
    from tests.unit.onboarding_support import complete_data

    return complete_data()


def _anyone(_workspace: str) -> bool:
    return True


@scenario("baseline.onboarding_raw_write", iterations=300, warmup=20, budget_s=10.0)
def raw_write(ctx: BenchContext) -> Generator[Operation, None, None]:
    """Raw Redis SET + raw Firestore set of a session document holding step 14 (the largest step)."""
    ctx.require("redis", "firestore")
    from lib.adapters.firestore import FirestoreDocuments
    from lib.adapters.redis import RedisKeyValue

    kv = RedisKeyValue.from_url(ctx.env["REDIS_URL"])
    docs = FirestoreDocuments("bcm-bench", emulator_host=ctx.env["FIRESTORE_EMULATOR_HOST"])
    doc = {"session_id": "raw", "steps": {"s14": {"data": _fixture()[14], "version": 1}}}
    raw = json.dumps(doc).encode()

    def op() -> None:
        kv.set("bench:raw-session", raw, ttl_s=600)
        docs.set("onboarding_drafts_bench", "raw", doc)

    yield op


@scenario(
    "onboarding.step_save",
    baseline="baseline.onboarding_raw_write",
    target=SAVE_TARGET,
    iterations=300,
    warmup=20,
    budget_s=10.0,
)
def step_save(ctx: BenchContext) -> Generator[Operation, None, None]:
    service, _, sid, _ = _service(ctx)
    body = {"data": _fixture()[14], "draft": False}

    def op() -> None:
        service.save_step(sid, 14, body, _anyone)

    yield op


@scenario("onboarding.session_read", target=READ_TARGET, iterations=1000, warmup=50, budget_s=5.0)
def session_read(ctx: BenchContext) -> Generator[Operation, None, None]:
    service, _, sid, _ = _service(ctx)
    for number, data in _fixture().items():
        service.save_step(sid, number, {"data": data, "draft": False}, _anyone)
    assert service.get(sid, _anyone)["progress"]["percent"] == 100

    def op() -> None:
        service.get(sid, _anyone)

    yield op
