"""The context function (and the rebuild worker) through functions_framework against the real stack.

Tier matrix on the real Redis and Firestore emulator, outages made by pointing
an adapter at a port nobody listens on; exports downloaded over HTTP from the
Storage emulator with the real ``GcsBlobs``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from devtools.local.services import free_port
from lib.adapters.firestore import FirestoreDocuments
from lib.adapters.redis import RedisKeyValue
from lib.clock import SystemClock
from lib.domain.bcm import ReducedManifest, Source
from lib.services.bcm.deps import BcmDeps
from lib.services.bcm.tiers import COLLECTION, ManifestCache, entry_key, pointer_key
from tests.functions.bcm_env import BcmEnv, User, bcm_env

__all__ = ["bcm_env"]
pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def owner(bcm_env: BcmEnv) -> User:
    return bcm_env.finalized_user()


@pytest.fixture
def deps(bcm_env: BcmEnv) -> Iterator[BcmDeps]:
    """The function's BcmDeps; whatever a test swaps (cache, reducer) is put back."""
    live: BcmDeps = bcm_env.container.bcm
    saved = (live.cache, live.reduce)
    yield live
    live.cache, live.reduce = saved


def _fresh_cache(bcm_env: BcmEnv, *, redis_down: bool = False, firestore_down: bool = False) -> ManifestCache:
    """A new instance's cache (empty tier0), optionally with Redis or Firestore unreachable."""
    kv = (
        RedisKeyValue.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout_ms=200)
        if redis_down
        else bcm_env.container.kv
    )
    docs = (
        FirestoreDocuments("bcm-test", emulator_host=f"127.0.0.1:{free_port()}", timeout_s=0.5, retry_budget_s=0.5)
        if firestore_down
        else bcm_env.container.documents
    )
    return ManifestCache(kv, docs, SystemClock())


def _manifest(bcm_env: BcmEnv, user: User) -> dict[str, Any]:
    response = bcm_env.get(user, "/manifest")
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


# --------------------------------------------------------------------- tier matrix ----


@pytest.mark.parametrize(
    ("empty", "redis_down", "firestore_down", "expected"),
    [
        ((), False, False, "tier0"),
        (("tier0",), False, False, "tier1"),
        (("tier0", "tier1"), False, False, "tier2"),
        (("tier0", "tier1", "tier2"), False, False, "origin"),
        (("tier0",), True, False, "tier2"),
        (("tier0", "tier2"), True, False, "origin"),
        (("tier0",), False, True, "tier1"),
        (("tier0", "tier1"), False, True, "origin"),
        (("tier0",), True, True, "origin"),
    ],
)
def test_tier_matrix(
    bcm_env: BcmEnv,
    owner: User,
    deps: BcmDeps,
    empty: tuple[str, ...],
    redis_down: bool,
    firestore_down: bool,
    expected: str,
) -> None:
    ws = owner.workspace_id
    _manifest(bcm_env, owner)  # every tier filled (and this instance's memory)
    if "tier1" in empty:
        bcm_env.container.kv.delete(pointer_key(ws), entry_key(ws, "1.0.0"))
    if "tier2" in empty:
        bcm_env.container.documents.delete(COLLECTION, ws)
    if "tier0" in empty or redis_down or firestore_down:
        deps.cache = _fresh_cache(bcm_env, redis_down=redis_down, firestore_down=firestore_down)
    body = _manifest(bcm_env, owner)
    assert body["served_from"] == expected
    assert body["version"] == "1.0.0"
    assert body["workspace_id"] == ws
    stored = deps.repo.current(ws)
    assert stored is not None
    assert body["checksum"] == stored.checksum
    assert body["manifest"] == stored.manifest
    assert body["freshness"]["stale"] is False


def test_manifest_none_yet_is_404(bcm_env: BcmEnv) -> None:
    user = bcm_env.sign_up()
    response = bcm_env.get(user, "/manifest")
    assert response.status_code == 404
    assert response.get_json()["code"] == "manifest_not_found"


# ------------------------------------------------------------------------ tenancy ----


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/manifest?workspace_id={ws}", None),
        ("GET", "/version-history?workspace_id={ws}", None),
        ("GET", "/export?workspace_id={ws}&format=json", None),
        ("GET", "/export?workspace_id={ws}&format=markdown&inline=true", None),
        ("GET", "/recommendations?workspace_id={ws}&for=move", None),
        ("POST", "/guardrails/check", {"text": "hello"}),
        ("POST", "/rebuild", {}),
    ],
)
def test_another_workspace_is_404(
    bcm_env: BcmEnv, owner: User, method: str, path: str, body: dict[str, Any] | None
) -> None:
    stranger = bcm_env.finalized_user()  # has a manifest of its own: the 404 is about membership
    target = path.format(ws=owner.workspace_id)
    if method == "GET":
        response = bcm_env.get(stranger, target)
    else:
        response = bcm_env.post(stranger, target, {**(body or {}), "workspace_id": owner.workspace_id})
    assert response.status_code == 404
    assert owner.workspace_id not in response.get_data(as_text=True).replace(target, "")


# ------------------------------------------------------------------ history, export ----


def test_version_history(bcm_env: BcmEnv, owner: User) -> None:
    response = bcm_env.get(owner, "/version-history?limit=5")
    assert response.status_code == 200
    [version] = response.get_json()["versions"]
    assert (version["version"], version["change"], version["source"]) == ("1.0.0", "initial", "onboarding")
    assert bcm_env.get(owner, "/version-history?limit=0").status_code == 422


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_export_link_downloads_the_document_from_storage(bcm_env: BcmEnv, owner: User, fmt: str) -> None:
    response = bcm_env.get(owner, f"/export?format={fmt}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["expires_at"]
    download = httpx.get(body["url"], timeout=10)
    assert download.status_code == 200
    stored = bcm_env.container.bcm.repo.current(owner.workspace_id)
    assert stored is not None
    if fmt == "json":
        doc = json.loads(download.content)
        assert doc["manifest"] == stored.manifest
        assert doc["checksum"] == stored.checksum
    else:
        text = download.content.decode()
        assert text.startswith(f"# {stored.manifest['foundation']['company']}")
        assert stored.checksum in text


def test_export_inline_returns_the_document_with_a_filename(bcm_env: BcmEnv, owner: User) -> None:
    response = bcm_env.get(owner, "/export?format=json&inline=true")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="bcm-')
    assert response.headers["Content-Disposition"].endswith('-v1.0.0.json"')
    assert json.loads(response.data)["version"] == "1.0.0"


# ------------------------------------------------------------ guardrails, recommendations ----


def test_guardrails_check(bcm_env: BcmEnv, owner: User) -> None:
    clean = bcm_env.post(owner, "/guardrails/check", {"text": "We reconcile every month."})
    assert clean.status_code == 200
    assert clean.get_json()["ok"] is True
    dirty = bcm_env.post(owner, "/guardrails/check", {"text": "A hassle-free way to recover ITC."})
    body = dirty.get_json()
    assert body["ok"] is False
    assert body["violations"][0]["excerpt"] == "A hassle-free way to recover ITC."
    assert bcm_env.post(owner, "/guardrails/check", {}).status_code == 422


def test_recommendations(bcm_env: BcmEnv, owner: User) -> None:
    response = bcm_env.get(owner, "/recommendations?for=campaign")
    assert response.status_code == 200
    body = response.get_json()
    assert body["manifest_version"] == "1.0.0"
    assert body["icp"]["name"]
    assert body["channels"][0]["priority"] == "primary"
    assert body["creative"]["headline"]
    assert bcm_env.get(owner, "/recommendations?for=nothing").status_code == 422


# ------------------------------------------------------------------------- rebuilds ----


def _edit_description(bcm_env: BcmEnv, user: User, text: str) -> None:
    with bcm_env.container.db.transaction() as conn:
        conn.execute(
            "update business_contexts set document = jsonb_set(document, '{company_profile,description}', %s::jsonb),"
            " checksum = md5(random()::text) || md5(random()::text) where workspace_id = %s",
            (json.dumps(text), user.workspace_id),
        )


def test_rebuild_request_is_deduplicated_and_unchanged_content_makes_no_version(bcm_env: BcmEnv) -> None:
    user = bcm_env.finalized_user()
    bcm_env.tasks.take()
    first = bcm_env.post(user, "/rebuild", {"reason": "check"})
    again = bcm_env.post(user, "/rebuild", {})
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert first.get_json()["status"] == "queued"
    [response] = bcm_env.deliver_rebuilds()
    assert response.status_code == 200
    assert response.get_json()["status"] == "skipped"
    assert bcm_env.scalar("select count(*) from bcm_manifests where workspace_id = %s", user.workspace_id) == 1
    body = _manifest(bcm_env, user)
    assert body["version"] == "1.0.0"
    assert body["rebuild"] == {"job_id": first.get_json()["job_id"], "status": "skipped"}


def test_rebuild_with_new_content_serves_the_new_version(bcm_env: BcmEnv) -> None:
    user = bcm_env.finalized_user()
    bcm_env.tasks.take()
    _manifest(bcm_env, user)  # warm every tier with 1.0.0
    _edit_description(bcm_env, user, "Now also GST refunds for exporters, reconciled every month.")
    job = bcm_env.post(user, "/rebuild", {}).get_json()
    assert _manifest(bcm_env, user)["freshness"]["stale"] is True  # queued: a newer version is coming
    [response] = bcm_env.deliver_rebuilds()
    assert response.get_json() == {"job_id": job["job_id"], "status": "succeeded", "version": "1.0.1"}
    body = _manifest(bcm_env, user)
    assert (body["version"], body["served_from"]) == ("1.0.1", "tier0")
    assert body["rebuild"]["status"] == "succeeded"
    history = bcm_env.get(user, "/version-history").get_json()["versions"]
    assert [(v["version"], v["source"], v["change"]) for v in history] == [
        ("1.0.1", "rebuild", "patch"),
        ("1.0.0", "onboarding", "initial"),
    ]


def test_a_failing_rebuild_leaves_the_old_version_served(bcm_env: BcmEnv, deps: BcmDeps) -> None:
    user = bcm_env.finalized_user()
    bcm_env.tasks.take()
    _edit_description(bcm_env, user, "A change that would be a patch, if the rebuild worked.")

    def broken(_context: Mapping[str, Any], *, source: Source) -> ReducedManifest:
        raise RuntimeError("reducer crashed")

    deps.reduce = broken
    job = bcm_env.post(user, "/rebuild", {}).get_json()
    [task] = bcm_env.tasks.take()
    retried = bcm_env.deliver(dict(task.payload), retry_count=0)
    assert retried.status_code == 503  # not the last attempt: Cloud Tasks retries
    last = bcm_env.deliver(dict(task.payload), retry_count=deps.config.rebuild_max_attempts - 1)
    assert last.status_code == 200  # acknowledged: the failure is recorded, not retried forever
    assert last.get_json()["status"] == "failed"
    assert bcm_env.scalar("select status from bcm_jobs where id = %s", job["job_id"]) == "failed"
    assert bcm_env.scalar("select error from bcm_jobs where id = %s", job["job_id"]) == "reducer crashed"
    body = _manifest(bcm_env, user)
    assert body["version"] == "1.0.0"
    assert body["rebuild"] == {"job_id": job["job_id"], "status": "failed"}


def test_the_worker_needs_an_internal_token(bcm_env: BcmEnv, owner: User) -> None:
    response = bcm_env.apps["bcm_rebuild"].test_client().post("/", json={"job_id": "x"}, headers=owner.auth)
    assert response.status_code == 401
