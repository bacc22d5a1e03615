"""The onboarding repository port and the rules the services run over it (the first save, the
abandon sweep, resuming), through the same cases over the in-memory ``FakeOnboardingRepo`` AND
the real PostgreSQL, so the fake the onboarding unit tests stand on cannot drift from the database.

The drafts and their cache are in-memory here in both cases: this file is about the Postgres
half (the session rows and ``users.onboarding_status``); tests/integration/test_onboarding_storage.py
runs the whole service against Firestore and Redis too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import pytest

from devtools.local.services import ServiceSet
from lib.adapters.firestore_drafts import FirestoreDrafts
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_onboarding import PostgresOnboarding, PostgresOnboardingUnit
from lib.adapters.redis_sessions import RedisSessionCache
from lib.errors import Unavailable
from lib.services import onboarding
from lib.services.entitlements.gate import Entitlements
from lib.services.onboarding import OnboardingDeps, abandon_stale_sessions
from lib.services.onboarding.ports import OnboardingRepo, OnboardingUnit
from lib.testing.accounts import sign_up
from lib.testing.fake_entitlements import FakeEntitlements
from lib.testing.fake_onboarding import FakeOnboardingRepo, FakeOnboardingUnit
from lib.testing.fakes import FakeDocuments, FakeKeyValue, FakeTaskQueue, ManualClock
from tests.unit.services.onboarding.onboarding_support import complete_data

STEP_DATA = complete_data()
RACERS = 8
IDLE = timedelta(days=8)  # past the 7-day abandon threshold


@dataclass
class World:
    deps: OnboardingDeps
    clock: ManualClock
    subs: FakeEntitlements
    new_user: Callable[[], tuple[str, str]]  # -> (user id, workspace id)
    user_status: Callable[[str], str]
    set_user_status: Callable[[str, str], None]

    def start(self, user: str, ws: str) -> str:
        self.subs.grant(ws, now=self.clock.now(), days=365)
        return str(onboarding.start_session(ws, user, deps=self.deps).session["session_id"])

    def save(self, sid: str, number: int = 1) -> None:
        body = {"data": STEP_DATA[number], "draft": True}
        onboarding.save_step(sid, number, body, _anyone, deps=self.deps)

    def idle_session(self) -> tuple[str, str, str]:
        """(user, workspace, session): a session saved once, then left past the abandon threshold."""
        user, ws = self.new_user()
        sid = self.start(user, ws)
        self.save(sid)
        self.clock.advance(IDLE.total_seconds())
        return user, ws, sid

    def status(self, sid: str) -> str:
        row = self.deps.repo.get(sid)
        assert row is not None
        return row.status


def _anyone(_workspace: str) -> bool:
    return True


def _deps(
    repo: OnboardingRepo, unit: Callable[[], OnboardingUnit], clock: ManualClock
) -> tuple[OnboardingDeps, FakeEntitlements]:
    subs = FakeEntitlements()
    deps = OnboardingDeps(
        repo=repo,
        unit=unit,
        drafts=FirestoreDrafts(FakeDocuments()),
        cache=RedisSessionCache(FakeKeyValue(clock), breaker_s=0.0),
        tasks=FakeTaskQueue(),
        clock=clock,
        entitlements=Entitlements(subs, clock),
        ai_queue="onboarding-ai",
        functions_base_url="http://functions.test",
    )
    return deps, subs


def _fake() -> World:
    clock = ManualClock(datetime.now(UTC))
    repo = FakeOnboardingRepo(clock)
    deps, subs = _deps(repo, lambda: FakeOnboardingUnit(repo), clock)

    def new_user() -> tuple[str, str]:
        return str(uuid.uuid4()), str(uuid.uuid4())

    def set_user_status(user: str, status: str) -> None:
        repo.user_status[user] = status

    return World(deps, clock, subs, new_user, lambda user: repo.user_status.get(user, "pending"), set_user_status)


def _postgres(db: PostgresDatabase) -> World:
    # The rows' created_at is the database's now(): start the service clock there too.
    clock = ManualClock(datetime.now(UTC))
    deps, subs = _deps(PostgresOnboarding(db), lambda: PostgresOnboardingUnit(db), clock)

    def new_user() -> tuple[str, str]:
        return sign_up(db)

    def user_status(user: str) -> str:
        with db.connection() as conn:
            row = conn.execute("select onboarding_status from public.users where id = %s", (user,)).fetchone()
        assert row is not None
        return str(row["onboarding_status"])

    def set_user_status(user: str, status: str) -> None:
        with db.connection() as conn:
            conn.execute("update public.users set onboarding_status = %s where id = %s", (status, user))

    return World(deps, clock, subs, new_user, user_status, set_user_status)


@pytest.fixture(scope="module")
def db(services: ServiceSet) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(services.env["DATABASE_URL"], max_size=RACERS + 5)
    yield database
    database.close()


@pytest.fixture(params=["fake", pytest.param("postgres", marks=pytest.mark.services)])
def world(request: pytest.FixtureRequest) -> World:
    return _fake() if request.param == "fake" else _postgres(request.getfixturevalue("db"))


def test_the_first_save_moves_a_pending_user_through_payment_confirmed_to_in_progress(world: World) -> None:
    user, ws = world.new_user()
    sid = world.start(user, ws)
    assert world.user_status(user) == "pending"  # starting moves nobody; saving does
    world.save(sid, 1)
    assert world.user_status(user) == "in_progress"
    world.save(sid, 2)
    assert world.user_status(user) == "in_progress"
    row = world.deps.repo.get(sid)
    assert row is not None
    assert row.last_saved_at is not None


def test_a_finished_user_stays_put_on_a_first_save(world: World) -> None:
    user, ws = world.new_user()
    world.set_user_status(user, "payment_confirmed")
    world.set_user_status(user, "in_progress")
    world.set_user_status(user, "completed")
    sid = world.start(user, ws)
    world.save(sid)
    assert world.user_status(user) == "completed"


def test_the_mirror_never_moves_last_saved_at_backwards(world: World) -> None:
    user, ws = world.new_user()
    sid = world.start(user, ws)
    now = world.clock.now()
    world.deps.repo.record_write(sid, written_at=now, steps_complete=3, percent=13.04)
    world.deps.repo.record_write(sid, written_at=now - timedelta(seconds=5), steps_complete=1, percent=4.35)
    row = world.deps.repo.get(sid)
    assert row is not None
    assert row.last_saved_at == now
    assert row.steps_complete == 3


def test_the_sweep_abandons_an_idle_session_and_its_user_and_spares_a_fresh_one(world: World) -> None:
    idle_user, idle_ws = world.new_user()
    fresh_user, fresh_ws = world.new_user()
    idle = world.start(idle_user, idle_ws)
    world.save(idle)
    fresh = world.start(fresh_user, fresh_ws)
    world.clock.advance(IDLE.total_seconds())
    world.save(fresh)  # saved after the cutoff: not idle
    result = abandon_stale_sessions(deps=world.deps)
    assert result.abandoned >= 1
    assert world.status(idle) == "abandoned"
    assert world.user_status(idle_user) == "abandoned"
    assert world.status(fresh) == "active"
    assert world.user_status(fresh_user) == "in_progress"


def test_a_save_landing_before_the_move_wins_over_the_sweep(world: World) -> None:
    user, _ws, sid = world.idle_session()
    cutoff = world.clock.now() - timedelta(days=7)
    world.save(sid, 2)  # the sweep listed it as stale, then this save landed
    with world.deps.unit() as uow:
        assert uow.sessions.move_session(sid, to="abandoned", only_from="active", idle_before=cutoff) is None
    assert world.status(sid) == "active"
    assert world.user_status(user) == "in_progress"


def test_starting_again_resumes_an_abandoned_session_and_its_user(world: World) -> None:
    user, ws, sid = world.idle_session()
    abandon_stale_sessions(deps=world.deps)
    assert world.user_status(user) == "abandoned"
    again = onboarding.start_session(ws, user, deps=world.deps)
    assert again.resumed
    assert not again.created
    assert again.session["session_id"] == sid
    assert world.status(sid) == "active"
    assert world.user_status(user) == "in_progress"


class _UserMoveFails:
    """A unit whose user update fails after the session moved: the whole unit must roll back."""

    def __init__(self, inner: OnboardingUnit) -> None:
        self._inner = inner

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._inner.commit()

    @property
    def sessions(self) -> OnboardingRepo:
        inner = self._inner.sessions

        class Failing:
            def __getattr__(self, name: str) -> object:
                return getattr(inner, name)

            def set_user_onboarding_status(self, user_id: str, status: str) -> None:
                raise Unavailable("the user update failed", "postgres")

        return Failing()  # type: ignore[return-value]


def test_a_failed_user_move_rolls_the_session_move_back(world: World) -> None:
    user, _ws, sid = world.idle_session()
    healthy = world.deps.unit
    broken = replace(world.deps, unit=lambda: _UserMoveFails(healthy()))
    with pytest.raises(Unavailable):
        abandon_stale_sessions(deps=broken)
    assert world.status(sid) == "active"
    assert world.user_status(user) == "in_progress"


def test_of_racing_moves_of_one_session_exactly_one_lands(world: World) -> None:
    _user, _ws, sid = world.idle_session()
    cutoff = world.clock.now() - timedelta(days=7)

    def move(_: int) -> bool:
        with world.deps.unit() as uow:
            moved = uow.sessions.move_session(sid, to="abandoned", only_from="active", idle_before=cutoff)
            uow.commit()
        return moved is not None

    with ThreadPoolExecutor(RACERS) as pool:
        landed = list(pool.map(move, range(RACERS)))
    assert landed.count(True) == 1
    assert world.status(sid) == "abandoned"


def test_concurrent_sweeps_leave_the_session_and_its_user_abandoned(world: World) -> None:
    user, _ws, sid = world.idle_session()
    with ThreadPoolExecutor(RACERS) as pool:
        list(pool.map(lambda _: abandon_stale_sessions(deps=world.deps), range(RACERS)))
    assert world.status(sid) == "abandoned"
    assert world.user_status(user) == "abandoned"


def test_concurrent_resumes_leave_one_active_session(world: World) -> None:
    user, ws, sid = world.idle_session()
    abandon_stale_sessions(deps=world.deps)
    with ThreadPoolExecutor(RACERS) as pool:
        starts = list(pool.map(lambda _: onboarding.start_session(ws, user, deps=world.deps), range(RACERS)))
    assert {s.session["session_id"] for s in starts} == {sid}
    assert sum(1 for s in starts if s.resumed) == 1
    assert world.status(sid) == "active"
    assert world.user_status(user) == "in_progress"
