"""The limiter's decisions on ``limits``' in-memory storage, and its Redis-down behaviour."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from limits.errors import StorageError
from limits.storage import MemoryStorage

from lib.config import Settings
from lib.errors import ServiceUnavailable, TooManyRequests
from lib.http.ratelimit import BREAKER_OPEN_S, RATE_LIMITS, RedisRateLimiter

SMALL = {"read": "3/minute", "write": "2/minute", "expensive": "1/minute"}


class FlakyStorage(MemoryStorage):
    """limits' own memory storage with an outage switch; counts what reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def acquire_entry(self, *args: Any, **kwargs: Any) -> bool:
        self.calls += 1
        if self.down:
            raise StorageError(ConnectionError("redis down"))
        return super().acquire_entry(*args, **kwargs)


class Monotonic:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_counts_per_identity_and_says_what_is_left() -> None:
    limiter = RedisRateLimiter(MemoryStorage, limits=SMALL)
    first = limiter.check("fn", "read", "user:a")
    assert (first.limit, first.remaining) == (3, 2)
    assert first.headers["RateLimit-Limit"] == "3"
    assert first.headers["RateLimit-Remaining"] == "2"
    assert 1 <= int(first.headers["RateLimit-Reset"]) <= 60
    assert first.headers["RateLimit-Policy"] == "3;w=60"
    limiter.check("fn", "read", "user:a")
    assert limiter.check("fn", "read", "user:a").remaining == 0
    with pytest.raises(TooManyRequests) as info:
        limiter.check("fn", "read", "user:a")
    assert info.value.status == 429
    assert 1 <= int(info.value.headers["Retry-After"]) <= 60
    assert info.value.headers["RateLimit-Remaining"] == "0"
    # Another user, another class and another function each have their own budget.
    assert limiter.check("fn", "read", "user:b").remaining == 2
    assert limiter.check("fn", "write", "user:a").remaining == 1
    assert limiter.check("other", "read", "user:a").remaining == 2


def test_default_budgets_are_named() -> None:
    assert RATE_LIMITS == {"read": "120/minute", "write": "60/minute", "expensive": "10/minute"}
    limiter = RedisRateLimiter(MemoryStorage)
    assert limiter.check("fn", "expensive", "ip:1.2.3.4").limit == 10


def test_unknown_class_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown rate class"):
        RedisRateLimiter(MemoryStorage).check("fn", "cheap", "user:a")


def test_storage_outage_fails_open_for_reads_and_closed_otherwise() -> None:
    storage = FlakyStorage()
    storage.down = True
    limiter = RedisRateLimiter(lambda: storage, limits=SMALL)
    decision = limiter.check("fn", "read", "user:a")
    assert decision.degraded
    assert decision.headers == {}
    for rate_class in ("write", "expensive"):
        with pytest.raises(ServiceUnavailable) as info:
            limiter.check("fn", rate_class, "user:a")
        assert info.value.code == "rate_limiter_unavailable"
        assert info.value.headers["Retry-After"]


def test_breaker_skips_redis_for_a_while_after_a_failure() -> None:
    storage, clock = FlakyStorage(), Monotonic()
    limiter = RedisRateLimiter(lambda: storage, limits=SMALL, monotonic=clock)
    storage.down = True
    assert limiter.check("fn", "read", "u").degraded
    assert storage.calls == 1
    storage.down = False
    for _ in range(5):
        assert limiter.check("fn", "read", "u").degraded
    assert storage.calls == 1  # no request paid for the dead cache again
    clock.t += BREAKER_OPEN_S + 0.1
    assert not limiter.check("fn", "read", "u").degraded
    assert storage.calls == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_redis_client_against_a_dead_port_fails_fast() -> None:
    settings = Settings(redis_url=f"redis://127.0.0.1:{_closed_port()}/0", redis_timeout_ms=200)
    limiter = RedisRateLimiter.from_settings(settings)
    started = time.monotonic()
    assert limiter.check("fn", "read", "u").degraded
    limiter = RedisRateLimiter.from_settings(settings)
    with pytest.raises(ServiceUnavailable):
        limiter.check("fn", "write", "u")
    assert time.monotonic() - started < 1.0
