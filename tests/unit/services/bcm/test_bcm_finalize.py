"""finalize over fakes: the 23 steps -> business_context -> manifest 1.0.0, once, and what follows the commit."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lib.domain.bcm import manifest_checksum
from lib.errors import Conflict, NotFound, Unprocessable
from lib.services.bcm.finalize import finalize_session, gather_steps
from lib.services.bcm.tiers import COLLECTION, pointer_key
from tests.unit.services.bcm.bcm_support import BcmRig


@pytest.fixture
def rig() -> BcmRig:
    return BcmRig()


def test_finalize_stores_context_and_first_version_and_fills_tiers(rig: BcmRig) -> None:
    session_id = rig.completed_session()
    result = finalize_session(session_id, rig.mine, deps=rig.deps)
    assert result["onboarding_status"] == "completed"
    assert result["manifest"]["version"] == "1.0.0"
    assert result["business_context"]["session_id"] == session_id
    assert result["business_context"]["workspace_id"] == rig.workspace
    [stored] = rig.repo.manifests
    assert (stored.change, stored.source) == ("initial", "onboarding")
    assert result["manifest"]["checksum"] == stored.checksum == manifest_checksum(stored.manifest)
    assert stored.token_count <= 1200
    assert rig.kv.get(pointer_key(rig.workspace)) == b"1.0.0"
    assert rig.docs.get(COLLECTION, rig.workspace) is not None
    # The hot session is purged and the durable draft is stamped finalized.
    assert rig.kv.get(f"onb:session:{session_id}") is None
    draft = rig.onboarding.stored(session_id)
    assert draft is not None
    assert draft["status"] == "finalized"


def test_finalize_twice_returns_the_same_result_and_one_version(rig: BcmRig) -> None:
    session_id = rig.completed_session()
    first = finalize_session(session_id, rig.mine, deps=rig.deps)
    rig.clock.advance(60)
    again = finalize_session(session_id, rig.mine, deps=rig.deps)
    assert again == first
    assert len(rig.repo.manifests) == 1
    assert rig.repo.finalize_calls == 1


def test_concurrent_finalizes_make_one_manifest_and_both_get_it(rig: BcmRig) -> None:
    session_id = rig.completed_session()
    barrier = threading.Barrier(4)

    def call() -> dict[str, Any]:
        barrier.wait()
        return finalize_session(session_id, rig.mine, deps=rig.deps)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: call(), range(4)))
    assert len(rig.repo.manifests) == 1
    assert len(rig.repo.contexts) == 1
    assert all(r["manifest"] == results[0]["manifest"] for r in results)
    assert all(r["business_context"] == results[0]["business_context"] for r in results)


def test_incomplete_steps_are_a_422_listing_each_and_nothing_is_stored(rig: BcmRig) -> None:
    session_id = rig.completed_session(skip=(4, 17))
    with pytest.raises(Unprocessable) as caught:
        finalize_session(session_id, rig.mine, deps=rig.deps)
    assert [e.path for e in caught.value.errors] == ["steps.4", "steps.17"]
    assert caught.value.extra["missing_steps"] == [4, 17]
    assert rig.repo.manifests == []
    assert rig.repo.contexts == {}


def test_a_draft_step_counts_as_missing() -> None:
    steps = {"s01": {"status": "draft", "data": {"name": "x"}}}
    data, missing = gather_steps({"steps": steps})
    assert data == {}
    assert missing[0].path == "steps.1"
    assert "draft" in missing[0].message
    assert len(missing) == 23


def test_another_workspace_session_is_404(rig: BcmRig) -> None:
    session_id = rig.completed_session()
    with pytest.raises(NotFound):
        finalize_session(session_id, lambda _ws: False, deps=rig.deps)
    finalize_session(session_id, rig.mine, deps=rig.deps)
    with pytest.raises(NotFound):  # the stored result is guarded too
        finalize_session(session_id, lambda _ws: False, deps=rig.deps)


def test_unknown_or_malformed_session_is_404(rig: BcmRig) -> None:
    with pytest.raises(NotFound):
        finalize_session(str(uuid.uuid4()), rig.mine, deps=rig.deps)
    with pytest.raises(NotFound):
        finalize_session("not-a-uuid", rig.mine, deps=rig.deps)


def test_an_abandoned_session_is_409(rig: BcmRig) -> None:
    session_id = rig.completed_session()
    rig.repo.sessions[session_id] = ("abandoned", rig.onboarding.user)
    with pytest.raises(Conflict):
        finalize_session(session_id, rig.mine, deps=rig.deps)


def test_cache_outage_does_not_fail_finalize(rig: BcmRig) -> None:
    session_id = rig.completed_session()
    rig.docs.down = True  # tier2 unreachable after the commit
    result = finalize_session(session_id, rig.mine, deps=rig.deps)
    assert result["manifest"]["version"] == "1.0.0"
