"""onboarding_step (and maintenance's expire-sessions) through functions_framework.

Real HTTP layer (HS256 Supabase tokens, Postgres membership), real Postgres,
Valkey and the Firestore emulator; Cloud Tasks is the in-memory fake.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devtools.local.devserver import load_function_app
from devtools.local.oidc_signer import LocalOidcSigner
from devtools.local.services import ServiceSet
from lib import bootstrap
from lib.adapters.firestore import FirestoreDocuments
from lib.adapters.firestore_drafts import FirestoreDrafts
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_entitlements import PostgresEntitlements
from lib.adapters.postgres_onboarding import PostgresOnboarding, PostgresOnboardingUnit
from lib.adapters.redis import RedisKeyValue
from lib.adapters.redis_sessions import RedisSessionCache
from lib.clock import SystemClock
from lib.config import Settings
from lib.services.entitlements.gate import Entitlements
from lib.services.onboarding import OnboardingDeps
from lib.testing.accounts import sign_up_in
from lib.testing.fakes import FakeTaskQueue
from tests.conftest import needs
from tests.functions.support import AUDIENCE, INVOKER, http_deps, installed, preset, task_token, user_token
from tests.unit.services.onboarding.onboarding_support import complete_data

pytestmark = pytest.mark.services

SECRET = "onboarding-test-secret-that-is-long-enough-for-hs256"


@dataclass
class Env:
    step: Any
    maintenance: Any
    db: PostgresDatabase
    kv: RedisKeyValue
    tasks: FakeTaskQueue
    signer: LocalOidcSigner
    settings: Settings


@pytest.fixture(scope="module")
def env(services: ServiceSet) -> Iterator[Env]:
    needs(services, "firestore")
    settings = Settings(
        app_env="test",
        database_url=services.env["DATABASE_URL"],
        redis_url=services.env["REDIS_URL"],
        firestore_emulator_host=services.env["FIRESTORE_EMULATOR_HOST"],
        supabase_jwt_secret=SECRET,
        functions_base_url=AUDIENCE,
        tasks_invoker_email=INVOKER,
    )
    db = PostgresDatabase(services.env["DATABASE_URL"], max_size=5)
    kv = RedisKeyValue.from_url(services.env["REDIS_URL"])
    tasks = FakeTaskQueue()
    service = OnboardingDeps(
        repo=PostgresOnboarding(db),
        unit=lambda: PostgresOnboardingUnit(db),
        drafts=FirestoreDrafts(
            FirestoreDocuments(settings.gcp_project, emulator_host=settings.firestore_emulator_host)
        ),
        cache=RedisSessionCache(kv),
        tasks=tasks,
        clock=SystemClock(),
        ai_queue=settings.tasks_queue_ai,
        functions_base_url=AUDIENCE,
        entitlements=Entitlements(PostgresEntitlements(db), SystemClock()),
    )
    signer = LocalOidcSigner()
    http = http_deps(settings, signer, db=db)
    with installed(preset(bootstrap.Container(settings), http=http, onboarding=service)):
        step = load_function_app("onboarding_step").test_client()
        maintenance = load_function_app("maintenance").test_client()
        yield Env(step, maintenance, db, kv, tasks, signer, settings)
    db.close()


def sign_up(env: Env, *, paid: bool) -> tuple[str, str, dict[str, str]]:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    with env.db.transaction() as conn:
        user, ws = sign_up_in(conn, email=email)
        if paid:
            conn.execute(
                "insert into public.subscriptions (workspace_id, plan_id, status) values (%s, 'free', 'active')", (ws,)
            )
    token = user_token(SECRET, sub=user, email=email, issuer=env.settings.jwt_issuer)
    return user, ws, {"Authorization": f"Bearer {token}"}


def put(env: Env, headers: dict[str, str], sid: str, n: int, body: dict[str, Any]) -> Any:
    return env.step.put(f"/sessions/{sid}/steps/{n}", json=body, headers=headers)


def test_steps_catalogue(env: Env) -> None:
    _, _, auth = sign_up(env, paid=False)
    response = env.step.get("/steps", headers=auth)
    assert response.status_code == 200
    steps = response.get_json()
    assert [s["number"] for s in steps] == list(range(1, 24))
    assert steps[0]["slug"] == "company_profile"
    assert steps[0]["ai_task"] is None
    assert steps[1]["ai_task"] == "classify_evidence"
    assert steps[0]["schema"]["type"] == "object"
    assert env.step.get("/steps").status_code == 401


def test_before_payment_the_clear_4xx(env: Env) -> None:
    _, _, auth = sign_up(env, paid=False)
    response = env.step.post("/sessions", json={}, headers=auth)
    assert response.status_code == 402
    problem = response.get_json()
    assert problem["code"] == "subscription_inactive"
    assert problem["subscription_status"] is None
    assert response.content_type.startswith("application/problem+json")


def test_the_journey_over_http(env: Env) -> None:
    user, ws, auth = sign_up(env, paid=True)
    created = env.step.post("/sessions", json={}, headers=auth)
    assert created.status_code == 201, created.get_data(as_text=True)
    sid = created.get_json()["session_id"]
    again = env.step.post("/sessions", json={"workspace_id": ws}, headers=auth)
    assert again.status_code == 200
    assert again.get_json()["session_id"] == sid

    draft = put(env, auth, sid, 1, {"data": {"name": "Hisaab"}, "draft": True})
    assert draft.status_code == 200, draft.get_data(as_text=True)
    body = draft.get_json()
    assert body["step"]["status"] == "draft"
    assert body["progress"]["complete"] == 0
    assert body["saved_at"]

    bad = put(env, auth, sid, 1, {"data": {"name": 7}, "draft": True, "version": 1})
    assert bad.status_code == 422
    assert "data.name" in [e["path"] for e in bad.get_json()["errors"]]
    stale = put(env, auth, sid, 1, {"data": {"name": "Late"}, "draft": True, "version": 0})
    assert stale.status_code == 409
    assert stale.get_json()["code"] == "version_conflict"

    for n, data in complete_data().items():
        version = 1 if n == 1 else 0
        saved = put(env, auth, sid, n, {"data": data, "draft": False, "version": version})
        assert saved.status_code == 200, (n, saved.get_data(as_text=True))
    view = env.step.get(f"/sessions/{sid}", headers=auth)
    assert view.status_code == 200
    session = view.get_json()
    assert session["progress"]["percent"] == 100
    assert session["progress"]["complete"] == 23
    assert session["workspace_id"] == ws
    assert session["status"] == "active"
    assert session["expires_at"]
    env.kv.client.flushall()
    assert env.step.get(f"/sessions/{sid}", headers=auth).get_json() == session

    with env.db.connection() as conn:
        status = conn.execute("select onboarding_status from public.users where id = %s", (user,)).fetchone()
    assert status == {"onboarding_status": "in_progress"}


def test_another_workspaces_session_is_404(env: Env) -> None:
    _, _, owner = sign_up(env, paid=True)
    _, _, stranger = sign_up(env, paid=True)
    sid = env.step.post("/sessions", json={}, headers=owner).get_json()["session_id"]
    for response in (
        env.step.get(f"/sessions/{sid}", headers=stranger),
        put(env, stranger, sid, 1, {"data": {"name": "x"}, "draft": True}),
        env.step.post(f"/sessions/{sid}/steps/2/ai", headers=stranger),
        env.step.get(f"/sessions/{uuid.uuid4()}", headers=owner),
    ):
        assert response.status_code == 404
        assert response.get_json()["code"] == "session_not_found"


def test_too_large_and_unknown_step(env: Env) -> None:
    _, _, auth = sign_up(env, paid=True)
    sid = env.step.post("/sessions", json={}, headers=auth).get_json()["session_id"]
    items = [{"id": f"n{i}", "kind": "note", "title": "t", "text": "y" * 9000} for i in range(40)]
    big = put(env, auth, sid, 2, {"data": {"items": items}, "draft": True})
    assert big.status_code == 413
    assert put(env, auth, sid, 24, {"data": {}, "draft": True}).status_code == 404
    session = env.step.get(f"/sessions/{sid}", headers=auth).get_json()
    assert session["steps"][1]["status"] == "empty"


def test_ai_request(env: Env) -> None:
    _, ws, auth = sign_up(env, paid=True)
    sid = env.step.post("/sessions", json={}, headers=auth).get_json()["session_id"]
    no_task = env.step.post(f"/sessions/{sid}/steps/1/ai", headers=auth)
    assert no_task.status_code == 422
    assert no_task.get_json()["code"] == "no_ai_task"
    first = env.step.post(f"/sessions/{sid}/steps/2/ai", headers=auth)
    assert first.status_code == 202
    assert first.get_json()["status"] == "queued"
    second = env.step.post(f"/sessions/{sid}/steps/2/ai", headers=auth)
    assert second.get_json() == first.get_json()
    mine = [t for t in env.tasks.tasks if t.payload["session_id"] == sid]
    assert len(mine) == 1
    assert mine[0].url == f"{AUDIENCE}/onboarding_ai/"
    assert mine[0].payload["workspace_id"] == ws
    assert mine[0].payload["step"] == 2
    step = env.step.get(f"/sessions/{sid}", headers=auth).get_json()["steps"][1]
    assert step["ai"]["status"] == "queued"


def test_maintenance_abandons_and_post_sessions_resumes(env: Env) -> None:
    user, _, auth = sign_up(env, paid=True)
    sid = env.step.post("/sessions", json={}, headers=auth).get_json()["session_id"]
    assert put(env, auth, sid, 1, {"data": {"name": "A"}, "draft": True}).status_code == 200
    with env.db.connection() as conn:
        conn.execute(
            "update public.onboarding_sessions set last_saved_at = now() - interval '8 days' where id = %s", (sid,)
        )
    token = task_token(env.signer, "maintenance")
    swept = env.maintenance.post("/expire-sessions", json={}, headers={"Authorization": f"Bearer {token}"})
    assert swept.status_code == 200, swept.get_data(as_text=True)
    assert swept.get_json()["abandoned"] >= 1
    assert env.step.get(f"/sessions/{sid}", headers=auth).get_json()["status"] == "abandoned"
    refused = put(env, auth, sid, 1, {"data": {"name": "B"}, "draft": True})
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "session_not_active"
    resumed = env.step.post("/sessions", json={}, headers=auth)
    assert resumed.status_code == 200
    assert json.loads(resumed.get_data())["session_id"] == sid
    assert resumed.get_json()["resumed"] is True
    with env.db.connection() as conn:
        status = conn.execute("select onboarding_status from public.users where id = %s", (user,)).fetchone()
    assert status == {"onboarding_status": "in_progress"}
