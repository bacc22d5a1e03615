"""Onboarding step saves and session reads against Valkey, the Firestore emulator and Postgres.

``baseline.onboarding_raw_write`` is a raw Redis SET plus a raw Firestore
``set`` of the same session document: what any save must pay at least.
``onboarding.step_save`` is ``OnboardingDeps.save_step`` (validation, the
session row read, the one conditional Firestore write, the Postgres mirror,
the cache refresh); ``onboarding.session_read`` reads a full 23-step session
from Redis (including the Postgres fence read and building the API view).

The target bounds the save's p95 by 1.5x the raw writes' p95, while the harness
compares p50s.  So both timed rows also keep their own samples, and two rows
after them turn those into constants: ``baseline.onboarding_raw_write.p95``
(every sample IS the raw p95) and ``onboarding.step_save.p95`` (every sample IS
the save's p95, compared with it): that row's ratio reads "save p95 / raw p95",
both measured in this run.  ``onboarding.step_save``'s own ratio is the p50 one,
shown for information.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Generator
from typing import Any

from bench.harness import (
    QUICK_DIVISOR,
    BenchContext,
    Measured,
    Operation,
    ScenarioSkipped,
    Target,
    percentiles,
    scenario,
)
from lib.services import onboarding

# Target: a save's p95 may be at most 1.5x the p95 of the raw writes it is made of (same run).
SAVE_TARGET = Target(max_ratio=1.5)
# Warm-up calls of the two timed rows (their samples are kept without these).
RAW_WARMUP = 20
SAVE_WARMUP = 20
# The samples the timed rows took in this run, for the p95 rows (name -> durations in ns).
_SAMPLES: dict[str, list[int]] = {}
# Target: a full session read from Redis, p95 <= 5 ms.
READ_TARGET = Target(p95_ms=5.0)


def _service(ctx: BenchContext) -> tuple[Any, Any, str, str]:
    ctx.require("postgres", "redis", "firestore")
    if "schema" in ctx.missing:
        raise ScenarioSkipped(ctx.missing["schema"])
    from lib.adapters.firestore import FirestoreDocuments
    from lib.adapters.firestore_drafts import FirestoreDrafts
    from lib.adapters.postgres import PostgresDatabase
    from lib.adapters.postgres_entitlements import PostgresEntitlements
    from lib.adapters.postgres_onboarding import PostgresOnboarding, PostgresOnboardingUnit
    from lib.adapters.redis import RedisKeyValue
    from lib.adapters.redis_sessions import RedisSessionCache
    from lib.clock import SystemClock
    from lib.services.entitlements.gate import Entitlements
    from lib.services.onboarding import OnboardingDeps
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
    service = OnboardingDeps(
        repo=PostgresOnboarding(db),
        unit=lambda: PostgresOnboardingUnit(db),
        drafts=FirestoreDrafts(FirestoreDocuments("bcm-bench", emulator_host=ctx.env["FIRESTORE_EMULATOR_HOST"])),
        cache=RedisSessionCache(kv),
        tasks=FakeTaskQueue(),
        clock=SystemClock(),
        ai_queue="onboarding-ai",
        functions_base_url="http://bench.invalid",
        entitlements=Entitlements(PostgresEntitlements(db), SystemClock()),
    )
    sid = str(onboarding.start_session(str(ws["id"]), str(user["id"]), deps=service).session["session_id"])
    return service, kv, sid, str(ws["id"])


def _fixture() -> dict[int, dict[str, Any]]:
    from tests.unit.services.onboarding.onboarding_support import complete_data

    return complete_data()


def _anyone(_workspace: str) -> bool:
    return True


def _recorded(name: str, op: Callable[[], object]) -> Operation:
    """``op`` timed by itself, each duration kept under ``name`` (and handed to the harness)."""
    samples = _SAMPLES[name] = []
    clock = time.perf_counter_ns

    def timed() -> Measured:
        start = clock()
        op()
        elapsed = clock() - start
        samples.append(elapsed)
        return Measured(elapsed)

    return timed


def _p95_of(ctx: BenchContext, name: str, warmup: int) -> Generator[Operation, None, None]:
    """A row whose every sample is the p95 of ``name``'s timed samples (its warm-up left out)."""
    skip = warmup // QUICK_DIVISOR if ctx.quick else warmup
    samples = _SAMPLES.get(name, [])[skip:]
    if not samples:
        raise ScenarioSkipped(f"{name} did not run (or failed) in this run")
    p95 = Measured(int(percentiles(samples)[1]))
    yield lambda: p95


@scenario("baseline.onboarding_raw_write", iterations=300, warmup=RAW_WARMUP, budget_s=10.0)
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

    yield _recorded("raw_write", op)


@scenario("baseline.onboarding_raw_write.p95", iterations=3, warmup=0)
def raw_write_p95(ctx: BenchContext) -> Generator[Operation, None, None]:
    """Not a measurement: every sample is ``baseline.onboarding_raw_write``'s p95."""
    yield from _p95_of(ctx, "raw_write", RAW_WARMUP)


@scenario(
    "onboarding.step_save",
    baseline="baseline.onboarding_raw_write",
    iterations=300,
    warmup=SAVE_WARMUP,
    budget_s=10.0,
)
def step_save(ctx: BenchContext) -> Generator[Operation, None, None]:
    service, _, sid, _ = _service(ctx)
    body = {"data": _fixture()[14], "draft": False}

    def op() -> None:
        onboarding.save_step(sid, 14, body, _anyone, deps=service)

    yield _recorded("step_save", op)


@scenario(
    "onboarding.step_save.p95",
    baseline="baseline.onboarding_raw_write.p95",
    target=SAVE_TARGET,
    iterations=3,
    warmup=0,
)
def step_save_p95(ctx: BenchContext) -> Generator[Operation, None, None]:
    """Every sample is ``onboarding.step_save``'s p95, so the ratio is p95 over the raw p95."""
    yield from _p95_of(ctx, "step_save", SAVE_WARMUP)


@scenario("onboarding.session_read", target=READ_TARGET, iterations=1000, warmup=50, budget_s=5.0)
def session_read(ctx: BenchContext) -> Generator[Operation, None, None]:
    service, _, sid, _ = _service(ctx)
    for number, data in _fixture().items():
        onboarding.save_step(sid, number, {"data": data, "draft": False}, _anyone, deps=service)
    assert onboarding.get_session(sid, _anyone, deps=service)["progress"]["percent"] == 100

    def op() -> None:
        onboarding.get_session(sid, _anyone, deps=service)

    yield op
