"""Test session harness.

Tests marked ``services`` (or using the ``services`` fixture) get the real
local services, started once per session in a temporary directory on free
ports: PostgreSQL (migrations and the local auth shim applied), Valkey, the
Firestore emulator and the Cloud Storage emulator.  Where an emulator is not
installed, its tests skip with the reason, unless ``REQUIRE_EMULATORS=1``
(set by ``.ci/run``) turns the skip into a failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.local.services import ServiceSet, start_all
from lib.config import Settings

BUCKETS = ["bcm-exports-test", "bcm-evidence-test"]


def _require_emulators() -> bool:
    return os.environ.get("REQUIRE_EMULATORS") == "1"


@pytest.fixture(scope="session")
def services() -> Iterator[ServiceSet]:
    root = Path(tempfile.mkdtemp(prefix="bcm-test-"))
    svc = start_all(root, persistent=False, buckets=BUCKETS)
    os.environ.update(svc.env)
    from devtools.db.migrate import migrate

    migrate(svc.env["DATABASE_URL"], local_shim=True)
    try:
        yield svc
    finally:
        svc.stop()


def needs(svc: ServiceSet, name: str) -> None:
    """Skip (or fail in CI) when an emulator the test needs is missing."""
    if name in svc.missing:
        if _require_emulators():
            pytest.fail(f"REQUIRE_EMULATORS=1 but {name} is missing: {svc.missing[name]}")
        pytest.skip(svc.missing[name])


@pytest.fixture(scope="session")
def settings(services: ServiceSet) -> Settings:
    return settings_for(services)


def settings_for(services: ServiceSet) -> Settings:
    """The tests' settings over a running ``ServiceSet`` (the session's, or one a test starts itself)."""
    return Settings(
        app_env="test",
        database_url=services.env["DATABASE_URL"],
        redis_url=services.env["REDIS_URL"],
        firestore_emulator_host=services.env.get("FIRESTORE_EMULATOR_HOST"),
        storage_emulator_host=services.env.get("STORAGE_EMULATOR_HOST"),
        gcs_bucket_exports=BUCKETS[0],
        gcs_bucket_evidence=BUCKETS[1],
        supabase_jwt_secret="test-jwt-secret-that-is-long-enough-for-hs256",
        dev_routes=True,
    )


@pytest.fixture
def firestore_host(services: ServiceSet) -> str:
    needs(services, "firestore")
    return services.env["FIRESTORE_EMULATOR_HOST"]
