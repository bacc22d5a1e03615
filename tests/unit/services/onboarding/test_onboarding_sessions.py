"""Sessions over fakes: start/resume rules, progress, validation, versions, storage order."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from lib.domain.subscriptions import SubscriptionInactive
from lib.errors import AppError, Conflict, NotFound, PayloadTooLarge, ServiceUnavailable, Unavailable, Unprocessable
from lib.services import onboarding
from lib.services.onboarding.errors import Gone
from lib.testing.fake_onboarding import FakeOnboardingRepo
from tests.unit.services.onboarding.onboarding_support import Rig, complete_data


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_starting_needs_a_payment_or_the_free_plan(rig: Rig) -> None:
    rig.subs.subscriptions.clear()
    with pytest.raises(SubscriptionInactive) as err:
        rig.start()
    assert err.value.status == 402
    assert err.value.code == "subscription_inactive"
    assert rig.repo.rows == {}
    assert rig.documents.query("onboarding_drafts", where=[]) == []
    rig.subs.grant(rig.workspace, "free", now=rig.clock.now())
    assert onboarding.start_session(rig.workspace, rig.user, deps=rig.deps).created


def test_a_lapsed_workspace_reads_its_session_but_saves_and_ai_are_402(rig: Rig) -> None:
    sid = rig.start()
    rig.save(sid, 1, {"name": "A"}, draft=True)
    rig.clock.advance((365 + 3) * 86400 + 1)  # the period and its 3-day grace are over
    for attempt in (
        lambda: rig.save(sid, 1, {"name": "B"}, draft=True),
        lambda: onboarding.request_ai(sid, 2, rig.mine, "req-1", deps=rig.deps),
    ):
        with pytest.raises(SubscriptionInactive) as err:
            attempt()
        assert err.value.extra["subscription_status"] == "expired"
    assert rig.read(sid)["steps"][0]["data"] == {"name": "A"}
    assert (
        onboarding.start_session(rig.workspace, rig.user, deps=rig.deps).session["session_id"] == sid
    )  # reading, not starting


def test_one_active_session_per_workspace(rig: Rig) -> None:
    first = onboarding.start_session(rig.workspace, rig.user, deps=rig.deps)
    again = onboarding.start_session(rig.workspace, rig.user, deps=rig.deps)
    assert first.created
    assert not again.created
    assert again.session["session_id"] == first.session["session_id"]
    assert first.session["progress"] == {
        "complete": 0,
        "total": 23,
        "percent": 0,
        "statuses": ["empty"] * 23,
        "last_saved_at": None,
    }
    assert [s["status"] for s in first.session["steps"]] == ["empty"] * 23


def test_all_23_steps_complete_reach_100_and_read_back_identical_without_redis(rig: Rig) -> None:
    sid = rig.start()
    for number, data in complete_data().items():
        out = rig.save(sid, number, data)
        assert out["step"]["status"] == "complete"
        assert out["step"]["version"] == 1
    view = rig.read(sid)
    assert view["progress"]["complete"] == 23
    assert view["progress"]["percent"] == 100
    assert rig.repo.rows[sid].steps_complete == 23
    assert rig.repo.percent[sid] == 100.0
    rig.kv.delete(*rig.kv.keys())  # FLUSHALL
    assert rig.read(sid) == view
    assert rig.kv.keys() == [f"onb:session:{sid}"]  # refilled from Firestore
    assert rig.read(sid) == view


def test_first_save_moves_onboarding_status_forward(rig: Rig) -> None:
    rig.repo.user_status[rig.user] = "payment_confirmed"
    sid = rig.start()
    assert rig.repo.user_status[rig.user] == "payment_confirmed"
    rig.save(sid, 1, {"name": "Acme"}, draft=True)
    assert rig.repo.user_status[rig.user] == "in_progress"


def test_a_draft_missing_required_fields_saves_as_draft(rig: Rig) -> None:
    sid = rig.start()
    out = rig.save(sid, 1, {"name": "Hisaab Labs"}, draft=True)
    assert out["step"]["status"] == "draft"
    assert out["step"]["data"] == {"name": "Hisaab Labs"}
    assert {e["path"] for e in out["step"]["errors"]} >= {"data.industry", "data.stage", "data.description"}
    assert out["progress"]["complete"] == 0
    assert out["progress"]["statuses"][0] == "draft"
    with pytest.raises(Unprocessable) as err:  # the same data, not as a draft
        rig.save(sid, 1, {"name": "Hisaab Labs"}, version=1)
    assert err.value.code == "step_incomplete"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"name": 42}, "data.name"),
        ({"name": "x" * 5000}, "data.name"),
        ({"founded_year": "nineteen"}, "data.founded_year"),
    ],
)
def test_bad_input_is_422_with_the_path_and_nothing_is_written(rig: Rig, data: dict[str, object], path: str) -> None:
    sid = rig.start()
    rig.save(sid, 1, {"name": "Before"}, draft=True)
    doc_before, cache_before = rig.stored(sid), rig.kv.get(f"onb:session:{sid}")
    row_before = rig.repo.rows[sid]
    with pytest.raises(Unprocessable) as err:
        rig.save(sid, 1, data, draft=True)
    assert path in [e.path for e in err.value.errors]
    assert rig.stored(sid) == doc_before
    assert rig.kv.get(f"onb:session:{sid}") == cache_before
    assert rig.repo.rows[sid] == row_before


def test_envelope_errors_name_the_field(rig: Rig) -> None:
    sid = rig.start()
    with pytest.raises(Unprocessable) as err:
        onboarding.save_step(sid, 1, {"data": {}, "draft": "yes", "version": -1}, rig.mine, deps=rig.deps)
    assert {e.path for e in err.value.errors} == {"draft", "version"}


def test_payload_over_256_kib_is_413_and_nothing_written(rig: Rig) -> None:
    sid = rig.start()
    before = rig.stored(sid)
    items = [{"id": f"n{i}", "kind": "note", "title": "t", "text": "y" * 9000} for i in range(40)]
    with pytest.raises(PayloadTooLarge) as err:
        rig.save(sid, 2, {"items": items}, draft=True)
    assert err.value.status == 413
    assert rig.stored(sid) == before


def test_stale_version_is_409_and_the_current_one_saves(rig: Rig) -> None:
    sid = rig.start()
    rig.save(sid, 1, {"name": "One"}, draft=True, version=0)
    rig.save(sid, 1, {"name": "Two"}, draft=True, version=1)
    with pytest.raises(Conflict) as err:
        rig.save(sid, 1, {"name": "Late"}, draft=True, version=1)
    assert err.value.code == "version_conflict"
    assert err.value.extra == {"current_version": 2}
    assert rig.read(sid)["steps"][0]["data"] == {"name": "Two"}
    assert rig.save(sid, 1, {"name": "Three"}, draft=True, version=2)["step"]["version"] == 3


def test_a_stale_cached_copy_never_decides_a_conflict_or_a_read(rig: Rig) -> None:
    sid = rig.start()
    rig.save(sid, 1, {"name": "One"}, draft=True)
    old_cache = rig.kv.get(f"onb:session:{sid}")
    rig.save(sid, 1, {"name": "Two"}, draft=True)
    rig.save(sid, 2, {"items": []}, draft=True)
    assert old_cache is not None
    rig.kv.set(f"onb:session:{sid}", old_cache)  # a late writer put an old copy back
    view = rig.read(sid)
    assert view["steps"][0]["data"] == {"name": "Two"}
    assert view["steps"][1]["status"] == "draft"
    rig.kv.set(f"onb:session:{sid}", old_cache)
    assert rig.save(sid, 1, {"name": "Three"}, draft=True, version=2)["step"]["version"] == 3


def test_redis_down_mid_session_loses_nothing(rig: Rig) -> None:
    sid = rig.start()
    data = complete_data()
    for number in range(1, 8):
        rig.save(sid, number, data[number])
    rig.kv.down = True
    for number in range(8, 16):
        rig.save(sid, number, data[number])
    during = rig.read(sid)
    assert during["progress"]["complete"] == 15
    rig.kv.down = False  # back, still holding the copy from before the outage
    for number in range(16, 24):
        rig.save(sid, number, data[number])
    after = rig.read(sid)
    assert after["progress"]["percent"] == 100
    assert [s["data"] for s in after["steps"]] == [data[n] for n in range(1, 24)]


def test_firestore_down_answers_503_and_acknowledges_nothing(rig: Rig) -> None:
    sid = rig.start()
    rig.save(sid, 1, {"name": "Kept"}, draft=True)
    cache_before = rig.kv.get(f"onb:session:{sid}")
    row_before = rig.repo.rows[sid]
    rig.documents.down = True
    with pytest.raises(ServiceUnavailable) as err:
        rig.save(sid, 1, {"name": "Lost"}, draft=True, version=1)
    assert err.value.code == "drafts_unavailable"
    assert err.value.headers["Retry-After"]
    assert rig.kv.get(f"onb:session:{sid}") == cache_before
    assert rig.repo.rows[sid] == row_before
    rig.documents.down = False
    assert rig.read(sid)["steps"][0]["data"] == {"name": "Kept"}


class _MirrorDown(FakeOnboardingRepo):
    """Postgres answers the row lookup, then fails the mirror write (a blip mid-save)."""

    def record_write(self, session_id: str, **kwargs: Any) -> None:
        raise Unavailable("simulated outage", "postgres")


def test_postgres_mirror_down_does_not_lose_an_acknowledged_save() -> None:
    rig = Rig()
    sid = rig.start()
    rig.save(sid, 1, {"name": "One"}, draft=True)
    flaky = _MirrorDown(rig.clock)
    flaky.rows = rig.repo.rows
    rig.deps = replace(rig.deps, repo=flaky)
    out = rig.save(sid, 1, {"name": "Two"}, draft=True, version=1)
    assert out["step"]["version"] == 2
    assert rig.stored(sid)["steps"]["s01"]["data"] == {"name": "Two"}  # type: ignore[index]
    assert rig.read(sid)["steps"][0]["data"] == {"name": "Two"}


def test_another_workspaces_session_is_404(rig: Rig) -> None:
    sid = rig.start()
    with pytest.raises(NotFound) as err:
        onboarding.get_session(sid, lambda _ws: False, deps=rig.deps)
    assert err.value.code == "session_not_found"
    with pytest.raises(NotFound):
        onboarding.save_step(sid, 1, {"data": {}, "draft": True}, lambda _ws: False, deps=rig.deps)
    with pytest.raises(NotFound):
        onboarding.get_session(str(uuid.uuid4()), rig.mine, deps=rig.deps)
    with pytest.raises(NotFound):
        onboarding.get_session("not-a-uuid", rig.mine, deps=rig.deps)


def test_unknown_step_is_404(rig: Rig) -> None:
    sid = rig.start()
    with pytest.raises(NotFound) as err:
        rig.save(sid, 24, {}, draft=True)
    assert err.value.code == "step_not_found"


def test_expires_at_is_30_days_after_the_last_write(rig: Rig) -> None:
    sid = rig.start()
    rig.clock.advance(3600)
    saved = rig.save(sid, 1, {"name": "A"}, draft=True)["saved_at"]
    stored = rig.stored(sid)
    assert stored is not None
    from datetime import datetime, timedelta

    assert stored["expires_at"] == datetime.fromisoformat(saved) + timedelta(days=30)
    assert rig.kv.ttl(f"onb:session:{sid}") == 7 * 24 * 3600


def test_abandon_after_7_days_and_resume(rig: Rig) -> None:
    rig.repo.user_status[rig.user] = "payment_confirmed"
    sid = rig.start()
    rig.save(sid, 1, {"name": "A"}, draft=True)
    rig.clock.advance(6 * 86400)
    assert onboarding.abandon_stale(deps=rig.deps) == {"examined": 0, "abandoned": 0}
    rig.clock.advance(86400 + 1)
    assert onboarding.abandon_stale(deps=rig.deps) == {"examined": 1, "abandoned": 1}
    assert rig.repo.rows[sid].status == "abandoned"
    assert rig.repo.user_status[rig.user] == "abandoned"
    assert rig.read(sid)["status"] == "abandoned"
    with pytest.raises(Conflict) as err:
        rig.save(sid, 1, {"name": "B"}, draft=True)
    assert err.value.code == "session_not_active"
    resumed = onboarding.start_session(rig.workspace, rig.user, deps=rig.deps)
    assert resumed.resumed
    assert not resumed.created
    assert resumed.session["session_id"] == sid
    assert resumed.session["status"] == "active"
    assert resumed.session["steps"][0]["data"] == {"name": "A"}
    assert rig.repo.user_status[rig.user] == "in_progress"
    assert rig.save(sid, 1, {"name": "B"}, draft=True)["step"]["version"] == 2


def test_resuming_after_the_draft_expired_starts_afresh(rig: Rig) -> None:
    sid = rig.start()
    rig.clock.advance(8 * 86400)
    onboarding.abandon_stale(deps=rig.deps)
    rig.documents.delete("onboarding_drafts", sid)  # Firestore TTL removed it
    with pytest.raises(Gone):
        rig.read(sid)
    fresh = onboarding.start_session(rig.workspace, rig.user, deps=rig.deps)
    assert fresh.created
    assert fresh.session["session_id"] != sid


def test_finalized_session_cannot_change(rig: Rig) -> None:
    sid = rig.start()
    rig.repo.finalize(sid)
    with pytest.raises(AppError) as err:
        rig.save(sid, 1, {"name": "A"}, draft=True)
    assert err.value.code == "session_not_active"
