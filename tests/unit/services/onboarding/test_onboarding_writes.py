"""The save's write path over fakes: how many store calls a save costs, and how a
concurrent writer is caught by the one conditional write and resolved on the durable copy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest

from lib.adapters.firestore_drafts import FirestoreDrafts
from lib.adapters.redis_sessions import RedisSessionCache
from lib.errors import Conflict
from lib.services import onboarding
from lib.services.onboarding import OnboardingDeps
from lib.testing.fake_onboarding import FakeOnboardingUnit
from lib.testing.fakes import FakeKeyValue
from tests.unit.services.onboarding.onboarding_support import AI_QUEUE, BASE_URL, Rig


class RacingDrafts(FirestoreDrafts):
    """Runs ``before_write`` (another instance's save) once, just before the next conditional write."""

    before_write: Callable[[], object] | None = None

    def update_unchanged(
        self, session_id: str, base: Mapping[str, Any], updates: Mapping[str, Any], *, version: str
    ) -> tuple[dict[str, Any], str]:
        hook, self.before_write = self.before_write, None
        if hook is not None:
            hook()
        return super().update_unchanged(session_id, base, updates, version=version)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def other_instance(rig: Rig) -> OnboardingDeps:
    """A second function instance: the same Firestore and Postgres, its own (cold) Redis."""
    return OnboardingDeps(
        repo=rig.repo,
        unit=lambda: FakeOnboardingUnit(rig.repo),
        drafts=FirestoreDrafts(rig.documents),
        cache=RedisSessionCache(FakeKeyValue(rig.clock), breaker_s=0.0),
        tasks=rig.tasks,
        clock=rig.clock,
        ai_queue=AI_QUEUE,
        functions_base_url=BASE_URL,
        entitlements=rig.deps.entitlements,
    )


def racing(rig: Rig) -> RacingDrafts:
    drafts = RacingDrafts(rig.documents)
    rig.deps = replace(rig.deps, drafts=drafts)
    return drafts


def test_a_warm_save_is_one_firestore_write_and_no_read(rig: Rig) -> None:
    sid = rig.start()
    rig.save(sid, 1, {"name": "One"}, draft=True)  # the first save learns the version (one read)
    rig.documents.calls.clear()
    rig.save(sid, 2, {"items": []}, draft=True)
    rig.save(sid, 1, {"name": "Two"}, draft=True, version=1)
    assert dict(rig.documents.calls) == {"update_if_unchanged": 2}


def test_with_redis_down_a_save_is_one_read_and_one_write(rig: Rig) -> None:
    sid = rig.start()
    rig.save(sid, 1, {"name": "One"}, draft=True)
    rig.kv.down = True
    rig.documents.calls.clear()
    assert rig.save(sid, 1, {"name": "Two"}, draft=True, version=1)["step"]["version"] == 2
    assert dict(rig.documents.calls) == {"get_with_version": 1, "update_if_unchanged": 1}


def test_a_write_in_between_fails_the_precondition_and_the_save_lands_on_top(rig: Rig) -> None:
    sid = rig.start()
    rig.save(sid, 1, {"name": "One"}, draft=True)
    other = other_instance(rig)
    racing(rig).before_write = lambda: onboarding.save_step(
        sid, 2, {"data": {"items": []}, "draft": True}, rig.mine, deps=other
    )
    rig.documents.calls.clear()
    out = rig.save(sid, 4, {}, draft=True)
    assert out["step"]["version"] == 1
    # The conditional write failed once, the durable copy was read, the write landed on it.
    assert dict(rig.documents.calls) == {"update_if_unchanged": 3, "get_with_version": 2}
    statuses = rig.read(sid)["progress"]["statuses"]
    assert statuses[:4] == ["draft", "draft", "empty", "draft"]


def test_two_racers_on_the_same_step_version_exactly_one_wins(rig: Rig) -> None:
    """Both instances saw version 1; the other one saves first, in the gap before our write."""
    sid = rig.start()
    rig.save(sid, 1, {"name": "v1"}, draft=True)
    other = other_instance(rig)
    racing(rig).before_write = lambda: onboarding.save_step(
        sid, 1, {"data": {"name": "B"}, "draft": True, "version": 1}, rig.mine, deps=other
    )
    with pytest.raises(Conflict) as err:
        rig.save(sid, 1, {"name": "A"}, draft=True, version=1)
    assert err.value.code == "version_conflict"
    assert err.value.extra == {"current_version": 2}
    assert rig.read(sid)["steps"][0]["data"] == {"name": "B"}
    stored = rig.stored(sid)
    assert stored is not None
    assert stored["steps"]["s01"]["version"] == 2


def test_the_cache_keeps_the_version_of_the_copy_it_holds(rig: Rig) -> None:
    sid = rig.start()
    rig.save(sid, 1, {"name": "One"}, draft=True)
    cached = rig.deps.cache.get_versioned(sid)
    durable = rig.documents.get_with_version("onboarding_drafts", sid)
    assert cached is not None
    assert durable is not None
    assert cached == (rig.deps.drafts.get(sid), durable[1])


def test_a_cached_copy_of_the_earlier_format_still_saves(rig: Rig) -> None:
    """A bare document (no version) in Redis: the save reads the version, then writes."""
    import json

    sid = rig.start()
    rig.save(sid, 1, {"name": "One"}, draft=True)
    doc = rig.deps.drafts.get(sid)
    rig.kv.set(f"onb:session:{sid}", json.dumps(doc).encode())
    rig.documents.calls.clear()
    assert rig.save(sid, 1, {"name": "Two"}, draft=True, version=1)["step"]["version"] == 2
    assert dict(rig.documents.calls) == {"get_with_version": 1, "update_if_unchanged": 1}
