"""PostgresBcm against the real database: numeric version order, job de-dup on the partial unique
index (concurrently) and version collisions.  Finalize runs in tests/integration/test_bcm_contract.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devtools.local.services import ServiceSet
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_bcm import PostgresBcm
from lib.domain.bcm import VersionChange
from lib.domain.bcm.records import NewManifest
from lib.errors import AlreadyExists

pytestmark = pytest.mark.services
CHECKSUM = "c" * 64


@pytest.fixture(scope="module")
def db(services: ServiceSet) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(services.env["DATABASE_URL"], max_size=10)
    yield database
    database.close()


@pytest.fixture
def repo(db: PostgresDatabase) -> PostgresBcm:
    return PostgresBcm(db)


def _workspace(db: PostgresDatabase) -> tuple[str, str]:
    with db.transaction() as conn:
        row = conn.execute(
            "insert into auth.users (email) values (%s) returning id", (f"{uuid.uuid4().hex[:10]}@example.com",)
        ).fetchone()
        assert row is not None
        ws = conn.execute("select id from public.workspaces where owner_id = %s", (row["id"],)).fetchone()
        assert ws is not None
    return str(row["id"]), str(ws["id"])


def _version(version: str) -> NewManifest:
    return NewManifest(VersionChange(version, "patch"), CHECKSUM, 10, {"v": version}, "rebuild")


def test_history_and_current_order_versions_numerically(repo: PostgresBcm, db: PostgresDatabase) -> None:
    _, ws = _workspace(db)
    for version in ("1.0.0", "1.9.0", "1.10.0", "1.2.3"):
        repo.add_version(ws, _version(version), context_id=None)
    current = repo.current(ws)
    assert current is not None
    assert current.version == "1.10.0"
    assert [m.version for m in repo.history(ws, 3)] == ["1.10.0", "1.9.0", "1.2.3"]
    with pytest.raises(AlreadyExists):
        repo.add_version(ws, _version("1.9.0"), context_id=None)


def test_open_job_is_deduplicated_under_concurrency(repo: PostgresBcm, db: PostgresDatabase) -> None:
    _, ws = _workspace(db)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: repo.open_job(ws, CHECKSUM, reason=None, requested_by=None), range(6)))
    assert len({job.id for job, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    job = results[0][0]
    started = repo.start_job(job.id)
    assert started is not None
    assert started.status == "running"
    again, created = repo.open_job(ws, CHECKSUM, reason=None, requested_by=None)
    assert (again.id, created) == (job.id, False)  # running is still open
    repo.finish_job(job.id, "skipped", result_version="1.0.0")
    repo.finish_job(job.id, "failed", error="late")  # finished once: ignored
    finished = repo.job(job.id)
    assert finished is not None
    assert (finished.status, finished.result_version, finished.error) == ("skipped", "1.0.0", None)
    fresh, created = repo.open_job(ws, CHECKSUM, reason=None, requested_by=None)
    assert created
    assert fresh.id != job.id
    latest = repo.latest_job(ws)
    assert latest is not None
    assert latest.id == fresh.id
