"""Rate limits counted in a real Valkey, and what happens when it dies or freezes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from typing import Any

import pytest
from flask import Request
from limits.storage import RedisStorage
from werkzeug.test import EnvironBuilder

from devtools.local.services import ServiceSet
from lib.config import Settings
from lib.errors import ServiceUnavailable, TooManyRequests
from lib.http import HttpDeps, Principal, RequestContext, Router
from lib.http.ratelimit import RedisRateLimiter

# A dead or frozen Redis must cost a request well under this.
FAIL_FAST_S = 1.0


@pytest.fixture
def redis_url(services: ServiceSet) -> str:
    return services.env["REDIS_URL"]


@pytest.mark.services
def test_counts_in_redis_across_limiter_instances(redis_url: str) -> None:
    """Two instances (two warm functions) share one budget."""
    fn = f"fn-{uuid.uuid4().hex[:8]}"
    a = RedisRateLimiter(lambda: RedisStorage(redis_url), limits={"write": "3/minute"})
    b = RedisRateLimiter(lambda: RedisStorage(redis_url), limits={"write": "3/minute"})
    assert a.check(fn, "write", "user:1").remaining == 2
    assert b.check(fn, "write", "user:1").remaining == 1
    assert a.check(fn, "write", "user:1").remaining == 0
    with pytest.raises(TooManyRequests) as info:
        b.check(fn, "write", "user:1")
    assert 1 <= int(info.value.headers["Retry-After"]) <= 60
    assert info.value.headers["RateLimit-Limit"] == "3"
    assert a.check(fn, "write", "user:2").remaining == 2


@pytest.mark.services
def test_the_moving_window_frees_capacity_as_hits_age(redis_url: str) -> None:
    fn = f"fn-{uuid.uuid4().hex[:8]}"
    limiter = RedisRateLimiter(lambda: RedisStorage(redis_url), limits={"read": "2/second"})
    limiter.check(fn, "read", "u")
    limiter.check(fn, "read", "u")
    with pytest.raises(TooManyRequests):
        limiter.check(fn, "read", "u")
    time.sleep(1.1)
    assert limiter.check(fn, "read", "u").remaining == 1


@pytest.mark.services
def test_default_settings_limiter_works_against_valkey(redis_url: str) -> None:
    limiter = RedisRateLimiter.from_settings(Settings(redis_url=redis_url, redis_timeout_ms=300))
    decision = limiter.check(f"fn-{uuid.uuid4().hex[:8]}", "expensive", "user:x")
    assert (decision.limit, decision.remaining, decision.degraded) == (10, 9, False)


def _timed(fn: Any) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def test_killed_redis_fails_open_for_reads_closed_for_writes(
    own_valkey: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, url = own_valkey
    settings = Settings(redis_url=url, redis_timeout_ms=300)
    reads, writes = RedisRateLimiter.from_settings(settings), RedisRateLimiter.from_settings(settings)
    assert not reads.check("fn", "read", "u").degraded
    assert not writes.check("fn", "write", "u").degraded
    proc.kill()
    proc.wait(5)
    assert _timed(lambda: reads.check("fn", "read", "u").degraded or pytest.fail("not degraded")) < FAIL_FAST_S

    def closed() -> None:
        with pytest.raises(ServiceUnavailable) as info:
            writes.check("fn", "write", "u")
        assert info.value.code == "rate_limiter_unavailable"

    assert _timed(closed) < FAIL_FAST_S


def test_frozen_redis_does_not_hang_requests(own_valkey: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, url = own_valkey
    settings = Settings(redis_url=url, redis_timeout_ms=300)
    limiter = RedisRateLimiter.from_settings(settings)
    limiter.check("fn", "read", "u")
    os.kill(proc.pid, signal.SIGSTOP)  # accepts TCP, never answers
    try:
        assert _timed(lambda: limiter.check("fn", "read", "u")) < FAIL_FAST_S
        fresh = RedisRateLimiter.from_settings(settings)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            fresh.check("fn", "expensive", "u")
        assert time.monotonic() - started < FAIL_FAST_S
    finally:
        os.kill(proc.pid, signal.SIGCONT)


# -------------------------------------------------------------- through the router
class AnyUser:
    def verify(self, token: str) -> Principal:
        return Principal(token, None, "authenticated", {})


router = Router("limited")


@router.route("/poll", methods=["GET"], auth="user", rate="read")
def poll(ctx: RequestContext) -> Any:
    return {"ok": True}


@router.route("/webhook", methods=["POST"], auth="none", rate="write")
def hook(ctx: RequestContext) -> Any:
    return {"received": True}


@pytest.mark.services
def test_router_with_real_redis_sends_ratelimit_headers_and_429(redis_url: str) -> None:
    limiter = RedisRateLimiter(lambda: RedisStorage(redis_url), limits={"read": "2/minute", "write": "1/minute"})
    deps = HttpDeps(settings=Settings(), jwt=AnyUser(), rate_limiter=limiter)
    user = f"user-{uuid.uuid4().hex[:8]}"

    def get() -> Any:
        req = EnvironBuilder(path="/poll", headers={"Authorization": f"Bearer {user}"}).get_request(Request)
        return router.dispatch(req, deps=deps)

    ok = get()
    assert ok.status_code == 200
    assert ok.headers["RateLimit-Limit"] == "2"
    assert ok.headers["RateLimit-Remaining"] == "1"
    assert get().headers["RateLimit-Remaining"] == "0"
    limited = get()
    assert limited.status_code == 429
    assert json.loads(limited.get_data())["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert int(limited.headers["RateLimit-Reset"]) >= 1

    # Unauthenticated callers are limited per client IP.
    suffix = uuid.uuid4().int
    ip, other_ip = f"10.9.{suffix % 250}.{suffix // 250 % 250}", f"10.8.{suffix % 250}.{suffix // 250 % 250}"

    def webhook(addr: str) -> int:
        req = EnvironBuilder(path="/webhook", method="POST", json={}, headers={"X-Forwarded-For": addr}).get_request(
            Request
        )
        return router.dispatch(req, deps=deps).status_code

    assert webhook(ip) == 200
    assert webhook(ip) == 429
    assert webhook(other_ip) == 200
