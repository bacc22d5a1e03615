"""Finalize's rule (``lib.services.bcm.finalize.store_finalized``), one unit of work, run over the
in-memory ``FakeBcmRepo`` AND the real PostgreSQL through the same cases, so the fake the BCM
unit tests stand on cannot drift from the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from devtools.local.services import ServiceSet
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_bcm import PostgresBcm, PostgresBcmUnit
from lib.domain.bcm import VersionChange
from lib.domain.bcm.records import FinalizeWrite
from lib.errors import AlreadyExists, Rejected
from lib.services.bcm.finalize import store_finalized
from lib.services.bcm.ports import BcmRepo, BcmUnit
from lib.services.bcm.rebuild import open_job
from lib.testing.accounts import sign_up_in
from lib.testing.fake_bcm import FakeBcmRepo, FakeBcmUnit

CHECKSUM = "d" * 64
RACERS = 10


@dataclass
class Bcm:
    repo: BcmRepo
    unit: Callable[[], BcmUnit]
    session: Callable[[str], tuple[str, str, str]]  # status -> (session id, workspace id, user id)
    user_status: Callable[[str], str]


@pytest.fixture(scope="module")
def db(services: ServiceSet) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(services.env["DATABASE_URL"], max_size=RACERS + 5)
    yield database
    database.close()


def _fake() -> Bcm:
    repo = FakeBcmRepo()

    def session(status: str) -> tuple[str, str, str]:
        sid, ws, user = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        repo.sessions[sid] = (status, user)
        repo.user_status[user] = "payment_confirmed"
        return sid, ws, user

    return Bcm(repo, lambda: FakeBcmUnit(repo), session, lambda user: repo.user_status[user])


def _postgres(db: PostgresDatabase) -> Bcm:
    def session(status: str) -> tuple[str, str, str]:
        with db.transaction() as conn:
            user, ws = sign_up_in(conn)
            conn.execute("update public.users set onboarding_status = 'payment_confirmed' where id = %s", (user,))
            sid = str(uuid.uuid4())
            conn.execute(
                "insert into onboarding_sessions (id, workspace_id, user_id, status) values (%s, %s, %s, %s)",
                (sid, ws, user, status),
            )
        return sid, ws, user

    def user_status(user: str) -> str:
        with db.connection() as conn:
            row = conn.execute("select onboarding_status from public.users where id = %s", (user,)).fetchone()
        assert row is not None
        return str(row["onboarding_status"])

    return Bcm(PostgresBcm(db), lambda: PostgresBcmUnit(db), session, user_status)


@pytest.fixture(params=["fake", pytest.param("postgres", marks=pytest.mark.services)])
def bcm(request: pytest.FixtureRequest) -> Bcm:
    return _fake() if request.param == "fake" else _postgres(request.getfixturevalue("db"))


def _write(sid: str, ws: str, user: str) -> FinalizeWrite:
    return FinalizeWrite(sid, ws, user, "2.0", {"x": 1}, CHECKSUM, CHECKSUM, 10, {"v": 1}, 23)


def _initial(_current: object) -> VersionChange:
    return VersionChange("1.0.0", "initial")


def test_finalize_stores_context_manifest_session_and_status_once(bcm: Bcm) -> None:
    sid, ws, user = bcm.session("active")
    done = store_finalized(_write(sid, ws, user), _initial, unit=bcm.unit)
    assert done.created
    assert (done.manifest.version, done.manifest.business_context_id) == ("1.0.0", done.context.id)
    assert done.onboarding_status == "completed"
    assert bcm.user_status(user) == "completed"
    again = store_finalized(_write(sid, ws, user), _initial, unit=bcm.unit)
    assert not again.created
    assert (again.context.id, again.manifest.version) == (done.context.id, "1.0.0")
    current = bcm.repo.current(ws)
    assert current is not None
    assert current.version == "1.0.0"


def test_finalize_refuses_unknown_and_abandoned_sessions_and_writes_nothing(bcm: Bcm) -> None:
    sid, ws, user = bcm.session("abandoned")
    with pytest.raises(Rejected) as caught:
        store_finalized(_write(sid, ws, user), _initial, unit=bcm.unit)
    assert caught.value.details["status"] == "abandoned"
    with pytest.raises(Rejected):
        store_finalized(_write(str(uuid.uuid4()), ws, user), _initial, unit=bcm.unit)
    assert bcm.repo.current(ws) is None
    assert bcm.repo.finalized(sid) is None
    assert bcm.user_status(user) == "payment_confirmed"


def test_a_failed_step_rolls_the_whole_finalize_back(bcm: Bcm) -> None:
    sid, ws, user = bcm.session("active")

    def explode(_current: object) -> VersionChange:
        raise RuntimeError("reducer blew up after the context was written")

    with pytest.raises(RuntimeError):
        store_finalized(_write(sid, ws, user), explode, unit=bcm.unit)
    assert bcm.repo.finalized(sid) is None
    assert bcm.repo.latest_context(ws) is None
    assert store_finalized(_write(sid, ws, user), _initial, unit=bcm.unit).created  # nothing half-written blocks it


def test_concurrent_finalizes_of_one_session_store_one_context(bcm: Bcm) -> None:
    sid, ws, user = bcm.session("active")

    def one(_: int) -> str:
        try:
            return "created" if store_finalized(_write(sid, ws, user), _initial, unit=bcm.unit).created else "read"
        except AlreadyExists:
            return "lost"

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(one, range(RACERS)))
    assert outcomes.count("created") == 1
    assert set(outcomes) <= {"created", "read"}
    assert len(bcm.repo.history(ws, 10)) == 1


def test_open_job_is_one_per_source_under_concurrency_and_reopens_once_finished(bcm: Bcm) -> None:
    _, ws, _ = bcm.session("active")
    with ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(lambda _: open_job(ws, CHECKSUM, reason=None, requested_by=None, repo=bcm.repo), range(6))
        )
    assert len({job.id for job, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    job = results[0][0]
    started = bcm.repo.start_job(job.id)
    assert started is not None
    assert started.status == "running"
    again, created = open_job(ws, CHECKSUM, reason=None, requested_by=None, repo=bcm.repo)
    assert (again.id, created) == (job.id, False)  # running is still open
    bcm.repo.finish_job(job.id, "skipped", result_version="1.0.0")
    bcm.repo.finish_job(job.id, "failed", error="late")  # finished once: ignored
    finished = bcm.repo.job(job.id)
    assert finished is not None
    assert (finished.status, finished.result_version, finished.error) == ("skipped", "1.0.0", None)
    fresh, created = open_job(ws, CHECKSUM, reason=None, requested_by=None, repo=bcm.repo)
    assert created
    assert fresh.id != job.id
    latest = bcm.repo.latest_job(ws)
    assert latest is not None
    assert latest.id == fresh.id
