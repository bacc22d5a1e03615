"""The entitlements port against the in-memory fake AND PostgreSQL: the subscription with its plan's
limits, and a daily counter that concurrent callers never push past the limit."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from devtools.local.services import ServiceSet
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_entitlements import PostgresEntitlements
from lib.domain.subscriptions import PlanLimits
from lib.services.entitlements.ports import EntitlementsRepo
from lib.testing.accounts import sign_up_in
from lib.testing.fake_entitlements import FakeEntitlements

RACERS = 20
TODAY = date(2026, 12, 5)


@dataclass
class Backend:
    repo: EntitlementsRepo
    new_workspace: Callable[[str | None], str]  # plan (None: no subscription) -> workspace id


@pytest.fixture(scope="module")
def db(services: ServiceSet) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(services.env["DATABASE_URL"], min_size=1, max_size=RACERS + 2)
    yield database
    database.close()


def _fake() -> Backend:
    fake = FakeEntitlements()

    def new_workspace(plan: str | None) -> str:
        ws = str(uuid.uuid4())
        if plan is not None:
            fake.grant(ws, plan, now=datetime(2026, 12, 1, tzinfo=UTC), days=30)
        return ws

    return Backend(fake, new_workspace)


def _postgres(db: PostgresDatabase) -> Backend:
    def new_workspace(plan: str | None) -> str:
        with db.transaction() as conn:
            _, ws_id = sign_up_in(conn)
            if plan is not None:
                end = None if plan == "free" else datetime(2026, 12, 31, tzinfo=UTC)
                conn.execute(
                    "insert into public.subscriptions (workspace_id, plan_id, status, current_period_start,"
                    " current_period_end) values (%s, %s, 'active', %s, %s)",
                    (ws_id, plan, datetime(2026, 12, 1, tzinfo=UTC), end),
                )
        return ws_id

    return Backend(PostgresEntitlements(db), new_workspace)


@pytest.fixture(params=["fake", pytest.param("postgres", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest) -> Backend:
    return _fake() if request.param == "fake" else _postgres(request.getfixturevalue("db"))


def test_facts_are_the_subscription_and_its_plans_limits(backend: Backend) -> None:
    ws = backend.new_workspace("starter")
    sub, limits = backend.repo.entitlement_facts(ws)
    assert sub is not None
    assert (sub.plan_id, sub.status) == ("starter", "active")
    assert sub.current_period_end is not None
    assert limits == PlanLimits(10, 50, 200)
    assert backend.repo.entitlement_facts(backend.new_workspace("enterprise"))[1] == PlanLimits()
    assert backend.repo.entitlement_facts(backend.new_workspace(None)) == (None, PlanLimits())


def test_use_counts_per_action_and_day_up_to_the_limit(backend: Backend) -> None:
    ws = backend.new_workspace("free")
    assert [backend.repo.use(ws, "rebuild", TODAY, 2) for _ in range(3)] == [True, True, False]
    assert backend.repo.use(ws, "export", TODAY, 2)
    assert backend.repo.use(ws, "rebuild", TODAY + timedelta(days=1), 2)
    assert backend.repo.used(ws, TODAY) == {"rebuild": 2, "export": 1}


def test_concurrent_uses_never_pass_the_limit(backend: Backend) -> None:
    ws = backend.new_workspace("free")
    barrier = threading.Barrier(RACERS)

    def race(_: int) -> bool:
        barrier.wait()
        return backend.repo.use(ws, "ai_suggestion", TODAY, 5)

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(race, range(RACERS)))
    assert results.count(True) == 5
    assert backend.repo.used(ws, TODAY) == {"ai_suggestion": 5}
