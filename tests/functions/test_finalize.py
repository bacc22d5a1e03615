"""finalize through functions_framework against the real stack (Postgres, Redis, Firestore, Storage)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lib.domain.bcm import manifest_checksum
from lib.services.bcm.tiers import pointer_key
from tests.functions.bcm_env import BcmEnv, bcm_env

__all__ = ["bcm_env"]
pytestmark = pytest.mark.services


def test_finalize_stores_everything_in_one_go(bcm_env: BcmEnv) -> None:
    user = bcm_env.sign_up()
    session_id = bcm_env.completed_session(user)
    response = bcm_env.finalize(user, session_id)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["onboarding_status"] == "completed"
    assert body["manifest"]["version"] == "1.0.0"
    assert body["business_context"]["version"] == "2.0"
    stored = bcm_env.container.bcm.repo.current(user.workspace_id)
    assert stored is not None
    assert (stored.change, stored.source) == ("initial", "onboarding")
    assert body["manifest"]["checksum"] == stored.checksum == manifest_checksum(stored.manifest)
    assert bcm_env.scalar("select status from onboarding_sessions where id = %s", session_id) == "finalized"
    assert bcm_env.scalar("select onboarding_status from users where id = %s", user.id) == "completed"
    assert bcm_env.scalar("select onboarding_completed_at is not null from users where id = %s", user.id) is True
    assert bcm_env.container.kv.get(pointer_key(user.workspace_id)) == b"1.0.0"
    assert bcm_env.container.kv.get(f"onb:session:{session_id}") is None
    draft = bcm_env.container.documents.get("onboarding_drafts", session_id)
    assert draft is not None
    assert draft["status"] == "finalized"


def test_finalize_twice_returns_the_same_result(bcm_env: BcmEnv) -> None:
    user = bcm_env.sign_up()
    session_id = bcm_env.completed_session(user)
    first = bcm_env.finalize(user, session_id, key=uuid.uuid4().hex)
    second = bcm_env.finalize(user, session_id)  # no key: the service itself is idempotent
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert bcm_env.scalar("select count(*) from bcm_manifests where workspace_id = %s", user.workspace_id) == 1


def test_two_concurrent_finalizes_make_one_manifest_and_both_get_it(bcm_env: BcmEnv) -> None:
    user = bcm_env.sign_up()
    session_id = bcm_env.completed_session(user)
    barrier = threading.Barrier(2)

    def call(_: int) -> Any:
        barrier.wait()
        return bcm_env.finalize(user, session_id)

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(call, range(2)))
    assert [r.status_code for r in responses] == [200, 200], [r.get_data(as_text=True) for r in responses]
    bodies = [r.get_json() for r in responses]
    assert bodies[0]["manifest"] == bodies[1]["manifest"]
    assert bodies[0]["business_context"] == bodies[1]["business_context"]
    assert bcm_env.scalar("select count(*) from bcm_manifests where workspace_id = %s", user.workspace_id) == 1
    assert bcm_env.scalar("select count(*) from business_contexts where session_id = %s", session_id) == 1


def test_incomplete_steps_are_422_and_nothing_is_written(bcm_env: BcmEnv) -> None:
    user = bcm_env.sign_up()
    session_id = bcm_env.completed_session(user, skip=(9, 21))
    response = bcm_env.finalize(user, session_id)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "steps_incomplete"
    assert [e["path"] for e in body["errors"]] == ["steps.9", "steps.21"]
    assert bcm_env.scalar("select count(*) from business_contexts where session_id = %s", session_id) == 0
    assert bcm_env.scalar("select status from onboarding_sessions where id = %s", session_id) == "active"


def test_another_users_session_is_404(bcm_env: BcmEnv) -> None:
    owner, stranger = bcm_env.sign_up(), bcm_env.sign_up()
    session_id = bcm_env.completed_session(owner)
    response = bcm_env.finalize(stranger, session_id)
    assert response.status_code == 404
    assert bcm_env.scalar("select status from onboarding_sessions where id = %s", session_id) == "active"
    assert bcm_env.finalize(owner, session_id).status_code == 200
    assert bcm_env.finalize(stranger, session_id).status_code == 404


def test_unauthenticated_is_401(bcm_env: BcmEnv) -> None:
    response = bcm_env.apps["finalize"].test_client().post(f"/{uuid.uuid4()}")
    assert response.status_code == 401
