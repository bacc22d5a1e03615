"""Per-user (or per-IP) rate limits per route class, counted in Redis by ``limits``.

A moving window (``limits``' atomic Lua scripts) is exact at the window's
edge, where a fixed window would let twice the limit through.  When Redis is
unreachable, cheap reads fail open (a cache outage must not take the product
down) and writes / expensive work fail closed (503), because those are what a
limiter exists to protect.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lib.config import Settings
from lib.errors import ServiceUnavailable, TooManyRequests

if TYPE_CHECKING:  # imported on first use: a function without rate-limited routes never loads them
    from limits import RateLimitItem
    from limits.storage import Storage
    from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

# Route classes and their budgets per caller, per function.
RATE_LIMITS: Mapping[str, str] = {
    "read": "120/minute",  # polling a payment or a session every 0.5 s stays under it
    "write": "60/minute",  # autosave of onboarding steps, one per second at most
    "expensive": "10/minute",  # AI suggestions, rebuilds, exports: real cost per call
}
# Classes served without a limiter when Redis is down; every other class answers 503.
FAIL_OPEN_CLASSES = frozenset({"read"})
# After a Redis failure, skip Redis for this long: a dead cache must not add its timeout to every request.
BREAKER_OPEN_S = 5.0
# What a fail-closed 503 tells the client to wait.
UNAVAILABLE_RETRY_AFTER_S = 5
KEY_PREFIX = "bcm-rl"


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one check; ``headers`` go on the response whatever its status."""

    rate_class: str
    limit: int
    remaining: int
    reset_after_s: int
    window_s: int
    degraded: bool = False  # True when Redis was down and the class failed open

    @property
    def headers(self) -> dict[str, str]:
        if self.degraded:
            return {}
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.reset_after_s),
            "RateLimit-Policy": f"{self.limit};w={self.window_s}",
        }


def _no_retry_redis_storage(uri: str, timeout_s: float, ca_pem: str | None = None) -> Storage:
    from limits.storage import RedisStorage
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from lib.adapters.redis import tls_options

    # redis-py retries 3 times with backoff by default; a limiter must fail within one timeout.
    return RedisStorage(
        uri,
        wrap_exceptions=True,
        key_prefix=KEY_PREFIX,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),  # type: ignore[arg-type]
        health_check_interval=0,
        **tls_options(uri, ca_pem),  # type: ignore[arg-type]  # passed through to redis-py
    )


class RedisRateLimiter:
    """``check(function, rate_class, identity)`` counts a hit and raises 429 when over budget."""

    def __init__(
        self,
        storage_factory: Callable[[], Storage],
        *,
        limits: Mapping[str, str] = RATE_LIMITS,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        from limits import parse

        self._storage_factory = storage_factory
        self._items: dict[str, RateLimitItem] = {name: parse(spec) for name, spec in limits.items()}
        self._strategy: MovingWindowRateLimiter | None = None
        self._lock = threading.Lock()
        self._clock = clock
        self._monotonic = monotonic
        self._breaker_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisRateLimiter:
        uri = settings.redis_url.get_secret_value()
        timeout_s = settings.redis_timeout_ms / 1000
        ca_pem = settings.redis_ca_pem
        return cls(lambda: _no_retry_redis_storage(uri, timeout_s, ca_pem))

    def _limiter(self) -> MovingWindowRateLimiter:
        # Built on first use: nothing connects at import or construction time.
        if self._strategy is None:
            from limits.strategies import MovingWindowRateLimiter

            with self._lock:
                if self._strategy is None:
                    self._strategy = MovingWindowRateLimiter(self._storage_factory())
        return self._strategy

    def check(self, function: str, rate_class: str, identity: str) -> RateDecision:
        from limits.errors import StorageError
        from redis.exceptions import RedisError

        item = self._items.get(rate_class)
        if item is None:
            raise ValueError(f"unknown rate class {rate_class!r}; known: {sorted(self._items)}")
        window_s = item.get_expiry()
        try:
            if self._monotonic() < self._breaker_until:
                raise StorageError(ConnectionError("rate limiter circuit open"))
            limiter = self._limiter()
            allowed = limiter.hit(item, function, rate_class, identity)
            stats = limiter.get_window_stats(item, function, rate_class, identity)
        except (StorageError, RedisError, OSError) as exc:
            self._breaker_until = self._monotonic() + BREAKER_OPEN_S
            return self._unavailable(rate_class, item, exc)
        reset_after = max(1, math.ceil(stats.reset_time - self._clock()))
        decision = RateDecision(rate_class, item.amount, stats.remaining, reset_after, window_s)
        if not allowed:
            raise TooManyRequests(
                f"Too many requests; retry in {reset_after} s.",
                code="rate_limited",
                headers={"Retry-After": str(reset_after), **decision.headers},
            )
        return decision

    def _unavailable(self, rate_class: str, item: RateLimitItem, exc: Exception) -> RateDecision:
        if rate_class in FAIL_OPEN_CLASSES:
            log.warning("rate limiter unavailable; failing open", extra={"rate_class": rate_class, "error": str(exc)})
            return RateDecision(rate_class, item.amount, item.amount, item.get_expiry(), item.get_expiry(), True)
        log.error("rate limiter unavailable; failing closed", extra={"rate_class": rate_class, "error": str(exc)})
        raise ServiceUnavailable(
            "The rate limiter is unavailable; try again shortly.",
            code="rate_limiter_unavailable",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
        ) from exc
