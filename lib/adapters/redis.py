"""``KeyValue`` on Redis / Memorystore (redis-py).

Redis is a cache here: losing it loses nothing, so every call must fail FAST
when it is down (callers fall back to the durable store or fail closed).  The
client uses sub-second socket timeouts and two quick retries with jittered
exponential backoff, so a stopped server surfaces as ``Unavailable`` well
within a second instead of a multi-second hang.  The client is built lazily
on first use (cold starts pay nothing until Redis is needed) and reused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from lib.errors import Rejected, Unavailable

SERVICE = "redis"
# Two retries absorb a dropped pooled connection (Memorystore maintenance)
# without multiplying the wait when the server is really gone.
RETRIES = 2
# First retry after ~20 ms, never more than 100 ms: the whole call stays < 1 s.
BACKOFF_BASE_S = 0.02
BACKOFF_CAP_S = 0.1
# Idle pooled connections are PINGed before reuse after this long, so a
# connection the server or a NAT dropped is replaced instead of failing a call.
HEALTH_CHECK_INTERVAL_S = 30
# Connections per instance.  Functions serve up to 40 concurrent requests on
# threads; commands take well under a millisecond, so a blocking pool this
# size keeps up, and a thread that finds it empty waits (up to the timeout)
# instead of failing as redis-py's default pool does past its limit.
MAX_CONNECTIONS = 32
DEFAULT_TIMEOUT_MS = 300
# Only a refused/reset connection is retried: it is fixed by reconnecting.  A
# timeout means the server is frozen or overloaded; waiting again would turn
# one timeout into several (redis-py nests connect and command retries).
_RETRIED: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError,)


def tls_options(url: str, ca_pem: str | None) -> dict[str, str]:
    """Verify a ``rediss://`` server against ``ca_pem`` (Memorystore's own CA), when given."""
    if ca_pem and url.startswith("rediss://"):
        return {"ssl_ca_data": ca_pem}
    return {}


class RedisKeyValue:
    """``lib.ports.KeyValue`` over redis-py; errors become ``Unavailable`` /
    ``Rejected``.  ``client`` exposes the raw ``redis.Redis`` for Lua scripts
    and the rate limiter (which need more than the port offers)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        client: redis.Redis | None = None,
        ca_pem: str | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_ms / 1000
        self._client = client
        self._ca_pem = ca_pem
        self._max_connections = max_connections
        self._lock = threading.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        ca_pem: str | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> RedisKeyValue:
        return cls(url, timeout_ms=timeout_ms, ca_pem=ca_pem, max_connections=max_connections)

    @property
    def client(self) -> redis.Redis:
        """The shared client, created on first use (no I/O until a command)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    pool = redis.BlockingConnectionPool.from_url(
                        self._url,
                        max_connections=self._max_connections,
                        timeout=self._timeout_s,  # the wait for a free connection
                        socket_timeout=self._timeout_s,
                        socket_connect_timeout=self._timeout_s,
                        retry=Retry(
                            ExponentialWithJitterBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S),
                            RETRIES,
                            supported_errors=_RETRIED,
                        ),
                        health_check_interval=HEALTH_CHECK_INTERVAL_S,
                        # No CLIENT SETINFO round trip on each new connection.
                        lib_name=None,
                        lib_version=None,
                        **tls_options(self._url, self._ca_pem),
                    )
                    self._client = redis.Redis(connection_pool=pool)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def get(self, key: str) -> bytes | None:
        with _translated():
            return _bytes_or_none(self.client.get(key))

    def mget(self, keys: list[str]) -> list[bytes | None]:
        if not keys:
            return []
        with _translated():
            return [_bytes_or_none(v) for v in self.client.mget(keys)]

    def set(self, key: str, value: bytes, *, ttl_s: int | None = None) -> None:
        _check_ttl(ttl_s)
        with _translated():
            self.client.set(key, value, ex=ttl_s)

    def set_if_absent(self, key: str, value: bytes, *, ttl_s: int) -> bool:
        _check_ttl(ttl_s)
        with _translated():
            return bool(self.client.set(key, value, ex=ttl_s, nx=True))

    def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        with _translated():
            return int(self.client.delete(*keys))

    def expire(self, key: str, ttl_s: int) -> bool:
        _check_ttl(ttl_s)
        with _translated():
            return bool(self.client.expire(key, ttl_s))

    def ping(self) -> None:
        with _translated():
            self.client.ping()


def _check_ttl(ttl_s: int | None) -> None:
    if ttl_s is not None and ttl_s <= 0:
        raise Rejected("ttl must be positive", SERVICE)


def _bytes_or_none(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    return str(value).encode()  # a client built with decode_responses=True


@contextmanager
def _translated() -> Iterator[None]:
    """redis-py exceptions -> ``lib.errors`` (auth before connection: it subclasses it)."""
    try:
        yield
    except redis.exceptions.AuthenticationError as exc:
        raise Rejected(f"authentication failed: {exc}", SERVICE) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise Unavailable(str(exc) or type(exc).__name__, SERVICE) from exc
    except redis.exceptions.ResponseError as exc:
        raise Rejected(str(exc), SERVICE) from exc
    except redis.exceptions.RedisError as exc:
        raise Unavailable(str(exc) or type(exc).__name__, SERVICE) from exc
