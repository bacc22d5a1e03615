"""What onboarding must hold: all 23 steps saved complete reach 100 %, and the session reads back
identical after the local suite restarts.

The test runs its own persistent suite in a temporary ``LOCAL_DIR`` (not the session's
services, which it could not stop): Postgres, Valkey, the Firestore and Storage emulators,
and the dev app served on a free port.  It stops them the way ``make dev`` does
(``devtools.local.devserver.stop_local``: the Firestore data is exported under ``LOCAL_DIR``),
starts them again on the same directory, and reads the session back, first as the restarted
suite serves it, then with Redis flushed so it can only come from Firestore.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from devtools.db.migrate import migrate
from devtools.local.devserver import LocalApp, build_app, stop_local
from devtools.local.services import ServiceSet, free_port, start_all
from lib.domain.steps import STEPS
from tests.conftest import needs, settings_for
from tests.e2e.support import local_settings, serving

pytestmark = pytest.mark.services
FIXTURE = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "steps_complete.json"
BUCKETS = ["bcm-exports-restart", "bcm-evidence-restart"]
# The variables that would make start_all reuse someone else's servers instead of starting its own.
SHARED_SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "FIRESTORE_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")
# Two starts and stops of the whole suite plus 23 saves; well under a minute on this machine.
TIME_LIMIT_S = 60.0
HTTP_TIMEOUT_S = 30.0


@dataclass
class Suite:
    services: ServiceSet
    http: httpx.Client

    def sign_in(self, email: str) -> dict[str, Any]:
        response = self.http.post("/_dev/token", json={"email": email})
        assert response.status_code == 200, response.text
        token = dict(response.json())
        token["headers"] = {"Authorization": f"Bearer {token['access_token']}"}
        return token


@contextmanager
def local_suite(local_dir: Path) -> Iterator[Suite]:
    """The persistent local suite on ``local_dir``, served on a free port; stopped as ``make dev`` stops."""
    services = start_all(local_dir, persistent=True, buckets=BUCKETS)
    app: LocalApp | None = None
    try:
        needs(services, "firestore")  # the in-memory fallback would not survive a restart
        migrate(services.env["DATABASE_URL"], local_shim=True)
        port = free_port()
        app = build_app(local_settings(settings_for(services), port), services, local_dir=local_dir)
        with serving(app, port) as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S) as http:
            yield Suite(services, http)
    finally:  # the server stopped when serving() exited; now the suite, the export, every service
        stop_local(app.suite if app is not None else None, services, local_dir)


def test_complete_session_reads_back_identical_after_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    for name in SHARED_SERVICE_VARS:
        monkeypatch.delenv(name, raising=False)
    local_dir = tmp_path / "local"
    email = f"restart-{uuid.uuid4().hex[:8]}@example.com"
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert list(data) == [step.slug for step in STEPS]

    with local_suite(local_dir) as suite:
        user = suite.sign_in(email)
        h = user["headers"]
        paid = suite.http.post("/initiate_payment/", json={"plan": "free", "billing_period": "monthly"}, headers=h)
        assert paid.status_code == 200, paid.text
        started_session = suite.http.post("/onboarding_step/sessions", json={}, headers=h)
        assert started_session.status_code == 201, started_session.text
        session_id = started_session.json()["session_id"]
        saved: httpx.Response | None = None
        for step in STEPS:
            saved = suite.http.put(
                f"/onboarding_step/sessions/{session_id}/steps/{step.number}",
                json={"data": data[step.slug], "draft": False},
                headers=h,
            )
            assert saved.status_code == 200, saved.text
            assert saved.json()["step"]["status"] == "complete", saved.text
        assert saved is not None
        progress = saved.json()["progress"]
        assert (progress["complete"], progress["total"], progress["percent"]) == (23, 23, 100)
        read = suite.http.get(f"/onboarding_step/sessions/{session_id}", headers=h)
        assert read.status_code == 200, read.text
        before = read.json()
        assert before["progress"]["percent"] == 100
        assert before["progress"]["statuses"] == ["complete"] * 23
        assert [s["data"] for s in before["steps"]] == [data[step.slug] for step in STEPS]
        assert [s["version"] for s in before["steps"]] == [1] * 23

    assert (local_dir / "firestore" / "export" / "export.overall_export_metadata").exists()

    with local_suite(local_dir) as suite:
        again = suite.sign_in(email)  # same email: the same user; the dev signing key was kept on disk
        assert (again["user_id"], again["workspace_id"], again["created"]) == (
            user["user_id"],
            user["workspace_id"],
            False,
        )
        url = f"/onboarding_step/sessions/{session_id}"
        # Nothing legitimately differs: every field of the view (steps, data, versions, progress,
        # timestamps, expires_at) comes from the stored document or the Postgres row, both restored.
        after = suite.http.get(url, headers=again["headers"])
        assert after.status_code == 200, after.text
        assert after.json() == before

        # Served from Firestore alone: the hot cache emptied, the same session.
        with redis.Redis.from_url(suite.services.env["REDIS_URL"]) as kv:
            kv.flushall()
            assert kv.dbsize() == 0
        from_store = suite.http.get(url, headers=again["headers"])
        assert from_store.status_code == 200, from_store.text
        assert from_store.json() == before

    assert time.monotonic() - started < TIME_LIMIT_S
