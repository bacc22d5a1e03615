"""The BCM journey over real HTTP against the local suite (dev server on a free port).

Sign up (dev token) -> free plan -> 23 steps through onboarding_step ->
finalize -> GET /context/manifest -> rebuild through the local Cloud Tasks
dispatcher and the OIDC-protected worker -> export downloaded from the
Storage emulator; a second user gets 404 for all of it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.local.devserver import build_app
from devtools.local.services import ServiceSet, free_port
from lib.config import Settings
from lib.domain.steps import STEPS
from tests.conftest import needs
from tests.e2e.support import local_settings, serving

pytestmark = pytest.mark.services
FIXTURE = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "steps_complete.json"
# The rebuild goes through the local dispatcher: it must be served well within this.
REBUILD_DEADLINE_S = 20.0


@pytest.fixture(scope="module")
def base(services: ServiceSet, settings: Settings) -> Iterator[str]:
    needs(services, "firestore")
    port = free_port()
    app = build_app(local_settings(settings, port), services)
    try:
        with serving(app, port) as url:
            yield url
    finally:
        app.stop()


def _user(http: httpx.Client) -> dict[str, Any]:
    response = http.post("/_dev/token", json={"email": f"journey-{uuid.uuid4().hex[:8]}@example.com"})
    assert response.status_code == 200, response.text
    token = response.json()
    token["headers"] = {"Authorization": f"Bearer {token['access_token']}"}
    return dict(token)


def test_onboarding_to_manifest_rebuild_and_export(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        user = _user(http)
        h = user["headers"]
        paid = http.post("/initiate_payment/", json={"plan": "free", "billing_period": "monthly"}, headers=h)
        assert paid.status_code == 200, paid.text
        session = http.post("/onboarding_step/sessions", json={}, headers=h)
        assert session.status_code in (200, 201), session.text
        session_id = session.json()["session_id"]
        data = json.loads(FIXTURE.read_text(encoding="utf-8"))
        for step in STEPS:
            saved = http.put(
                f"/onboarding_step/sessions/{session_id}/steps/{step.number}",
                json={"data": data[step.slug], "draft": False},
                headers=h,
            )
            assert saved.status_code == 200, saved.text

        finalized = http.post(f"/finalize/{session_id}", headers={**h, "Idempotency-Key": uuid.uuid4().hex})
        assert finalized.status_code == 200, finalized.text
        assert finalized.json()["manifest"]["version"] == "1.0.0"
        assert http.post(f"/finalize/{session_id}", headers=h).json() == finalized.json()

        manifest = http.get("/context/manifest", headers=h)
        assert manifest.status_code == 200, manifest.text
        body = manifest.json()
        assert (body["version"], body["checksum"]) == ("1.0.0", finalized.json()["manifest"]["checksum"])
        assert body["served_from"] in {"tier0", "tier1", "tier2", "origin"}

        job = http.post("/context/rebuild", json={"reason": "journey"}, headers=h)
        assert job.status_code == 202, job.text
        assert http.post("/context/rebuild", json={}, headers=h).json()["job_id"] == job.json()["job_id"]
        deadline = time.monotonic() + REBUILD_DEADLINE_S
        rebuild: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            rebuild = http.get("/context/manifest", headers=h).json()["rebuild"]
            if rebuild and rebuild["status"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        assert rebuild == {"job_id": job.json()["job_id"], "status": "skipped"}  # nothing changed: no version
        versions = http.get("/context/version-history", headers=h).json()["versions"]
        assert [v["version"] for v in versions] == ["1.0.0"]

        export = http.get("/context/export?format=markdown", headers=h)
        assert export.status_code == 200, export.text
        download = httpx.get(export.json()["url"], timeout=10)
        assert download.status_code == 200
        assert body["checksum"] in download.text

        stranger = _user(http)["headers"]
        ws = user["workspace_id"]
        for path in (f"/context/manifest?workspace_id={ws}", f"/context/version-history?workspace_id={ws}"):
            assert http.get(path, headers=stranger).status_code == 404
        assert http.get(f"/context/export?workspace_id={ws}", headers=stranger).status_code == 404
        assert http.post(f"/finalize/{session_id}", headers=stranger).status_code == 404
