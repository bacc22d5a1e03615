"""PostgresBcm against the real database: numeric version order, job de-dup on the partial unique
index (concurrently) and version collisions.  Finalize runs in tests/integration/test_bcm_contract.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.local.services import ServiceSet
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_bcm import PostgresBcm
from lib.domain.bcm import VersionChange
from lib.domain.bcm.records import NewManifest
from lib.errors import AlreadyExists
from lib.testing.accounts import sign_up

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
    return sign_up(db)


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
