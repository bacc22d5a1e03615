"""A real BCM stack for the function and e2e tests: every adapter against the local services.

Postgres, Redis (Valkey), the Firestore emulator and the Storage emulator are
the real ones (``tests/conftest.py``'s ``services``); only Cloud Tasks is the
in-memory ``FakeTaskQueue`` (a test delivers a task by calling the worker), and
the rate limiter counts in memory.  Users are made by the sign-up trigger and
get HS256 Supabase tokens; the rebuild worker gets local OIDC tokens.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.local.devserver import load_function_app
from devtools.local.oidc_signer import LocalOidcSigner
from devtools.local.services import ServiceSet
from lib import bootstrap
from lib.config import Settings
from lib.testing.fakes import FakeTaskQueue
from tests.conftest import BUCKETS, needs
from tests.functions.support import AUDIENCE, INVOKER, http_deps, installed, preset, task_token, user_token

SECRET = "bcm-functions-secret-that-is-long-enough-for-hs256"
FIXTURE = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "steps_complete.json"
BCM_FUNCTIONS = ("finalize", "context", "bcm_rebuild")


@dataclass
class User:
    id: str
    workspace_id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class BcmEnv:
    apps: dict[str, Any]
    container: bootstrap.Container
    tasks: FakeTaskQueue
    signer: LocalOidcSigner
    settings: Settings

    # --- people -------------------------------------------------------------------------------
    def sign_up(self, *, paid: bool = True) -> User:
        email = f"bcm-{uuid.uuid4().hex[:10]}@example.com"
        with self.container.db.transaction() as conn:
            row = conn.execute(
                'insert into auth.users (email, raw_user_meta_data) values (%s, \'{"full_name": "Asha"}\'::jsonb)'
                " returning id",
                (email,),
            ).fetchone()
            assert row is not None
            user_id = str(row["id"])
            ws = conn.execute("select id from public.workspaces where owner_id = %s", (user_id,)).fetchone()
            assert ws is not None
            if paid:  # a paid plan without daily limits, so tests that call often never meet one
                conn.execute(
                    "update public.users set onboarding_status = 'payment_confirmed' where id = %s", (user_id,)
                )
                conn.execute(
                    "insert into public.subscriptions (workspace_id, plan_id, billing_period, status,"
                    " current_period_start, current_period_end)"
                    " values (%s, 'enterprise', 'annual', 'active', now(), now() + interval '1 year')",
                    (ws["id"],),
                )
        token = user_token(SECRET, sub=user_id, email=email, issuer=self.settings.jwt_issuer, ttl_s=3600)
        return User(user_id, str(ws["id"]), token)

    def completed_session(self, user: User, *, skip: tuple[int, ...] = ()) -> str:
        """An onboarding session with every step saved complete (through the onboarding service)."""
        from lib.domain.steps import STEPS
        from lib.services import onboarding

        deps = self.container.onboarding
        session_id = str(onboarding.start_session(user.workspace_id, user.id, deps=deps).session["session_id"])
        data = json.loads(FIXTURE.read_text(encoding="utf-8"))
        for step in STEPS:
            if step.number not in skip:
                body = {"data": data[step.slug], "draft": False}
                onboarding.save_step(session_id, step.number, body, lambda _w: True, deps=deps)
        return session_id

    # --- calls ------------------------------------------------------------------------------------
    def finalize(self, user: User, session_id: str, key: str | None = None) -> Any:
        headers = dict(user.auth)
        if key:
            headers["Idempotency-Key"] = key
        return self.apps["finalize"].test_client().post(f"/{session_id}", headers=headers)

    def get(self, user: User, path: str) -> Any:
        return self.apps["context"].test_client().get(path, headers=user.auth)

    def post(self, user: User, path: str, body: dict[str, Any]) -> Any:
        return self.apps["context"].test_client().post(path, json=body, headers=user.auth)

    def deliver(self, payload: dict[str, Any], *, retry_count: int = 0) -> Any:
        """One delivery of a rebuild task to the worker, as Cloud Tasks makes it."""
        token = task_token(self.signer, "bcm_rebuild")
        headers = {"Authorization": f"Bearer {token}", "X-CloudTasks-TaskRetryCount": str(retry_count)}
        return self.apps["bcm_rebuild"].test_client().post("/", json=payload, headers=headers)

    def deliver_rebuilds(self, *, retry_count: int = 0) -> list[Any]:
        """Deliver every queued rebuild task once."""
        return [self.deliver(dict(task.payload), retry_count=retry_count) for task in self.tasks.take()]

    def finalized_user(self) -> User:
        user = self.sign_up()
        response = self.finalize(user, self.completed_session(user))
        assert response.status_code == 200, response.get_data(as_text=True)
        return user

    def scalar(self, query: str, *params: Any) -> Any:
        with self.container.db.connection() as conn:
            row = conn.execute(query, params).fetchone()
        return None if row is None else next(iter(row.values()))


def build_env(env: Mapping[str, str], *, exports_bucket: str = BUCKETS[0]) -> BcmEnv:
    """The stack over the services ``env`` names (also used by ``bench/scenarios/bcm.py``).

    The caller installs ``env.container`` as ``lib.bootstrap``'s instance container
    (the functions resolve their dependencies through it) and closes its pool.
    """
    settings = Settings(
        app_env="test",
        database_url=env["DATABASE_URL"],
        redis_url=env["REDIS_URL"],
        firestore_emulator_host=env.get("FIRESTORE_EMULATOR_HOST"),
        storage_emulator_host=env.get("STORAGE_EMULATOR_HOST"),
        gcs_bucket_exports=exports_bucket,
        supabase_jwt_secret=SECRET,
        functions_base_url=AUDIENCE,
        tasks_invoker_email=INVOKER,
        db_pool_max=20,
    )
    container = bootstrap.Container(settings)
    tasks, signer = FakeTaskQueue(), LocalOidcSigner()
    preset(container, tasks=tasks, http=http_deps(settings, signer, db=container.db))
    return BcmEnv({}, container, tasks, signer, settings)


def load_apps(env: BcmEnv) -> None:
    env.apps.update({name: load_function_app(name) for name in BCM_FUNCTIONS})


@pytest.fixture(scope="module")
def bcm_env(services: ServiceSet) -> Iterator[BcmEnv]:
    needs(services, "firestore")
    env = build_env(services.env)
    with installed(env.container):
        load_apps(env)
        yield env
    env.container.db.close()  # type: ignore[attr-defined]
