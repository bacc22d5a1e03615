"""RedisKeyValue against a real Valkey: scripts through ``.client``, and the
fail-fast promise when the server is gone or frozen."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid

import pytest

from devtools.local.services import ServiceSet
from lib.adapters.redis import RedisKeyValue
from lib.errors import Unavailable

# The promise: a stopped Redis costs a caller well under this.
FAIL_FAST_S = 1.5


def _timed_failure(kv: RedisKeyValue) -> float:
    start = time.monotonic()
    with pytest.raises(Unavailable) as err:
        kv.get("k")
    assert err.value.retryable is True
    return time.monotonic() - start


def test_killed_server_fails_fast(own_valkey: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, url = own_valkey
    kv = RedisKeyValue.from_url(url, timeout_ms=300)
    kv.set("k", b"v")
    assert kv.get("k") == b"v"
    proc.kill()
    proc.wait(5)
    assert _timed_failure(kv) < FAIL_FAST_S  # pooled connection is dead
    assert _timed_failure(RedisKeyValue.from_url(url, timeout_ms=300)) < FAIL_FAST_S  # fresh client


def test_frozen_server_fails_fast(own_valkey: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, url = own_valkey
    kv = RedisKeyValue.from_url(url, timeout_ms=300)
    kv.ping()
    os.kill(proc.pid, signal.SIGSTOP)  # accepts TCP, never answers: the worst case
    try:
        assert _timed_failure(kv) < FAIL_FAST_S
        assert _timed_failure(RedisKeyValue.from_url(url, timeout_ms=300)) < FAIL_FAST_S
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    kv.ping()  # recovers by itself once the server answers again


@pytest.mark.services
def test_raw_client_runs_scripts(services: ServiceSet) -> None:
    kv = RedisKeyValue.from_url(services.env["REDIS_URL"], timeout_ms=300)
    key = f"test:script:{uuid.uuid4().hex}"
    incr_with_ttl = kv.client.register_script(
        "local n = redis.call('INCR', KEYS[1]); redis.call('EXPIRE', KEYS[1], ARGV[1]); return n"
    )
    assert incr_with_ttl(keys=[key], args=[60]) == 1
    assert incr_with_ttl(keys=[key], args=[60]) == 2
    assert 0 < kv.client.ttl(key) <= 60
    assert kv.delete(key) == 1


@pytest.mark.services
def test_more_concurrent_callers_than_pooled_connections_all_succeed(services: ServiceSet) -> None:
    """40 request threads on a 4-connection pool: callers wait for a connection instead of failing
    (redis-py's default pool raises "Too many connections" past its limit)."""
    from concurrent.futures import ThreadPoolExecutor

    kv = RedisKeyValue.from_url(services.env["REDIS_URL"], timeout_ms=1000, max_connections=4)
    prefix = f"pool-{uuid.uuid4()}"
    start = threading.Barrier(40)

    def request(i: int) -> bytes | None:
        start.wait()
        kv.set(f"{prefix}:{i}", str(i).encode(), ttl_s=30)
        return kv.get(f"{prefix}:{i}")

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(request, range(40)))
    assert answers == [str(i).encode() for i in range(40)]
    assert len(kv.client.connection_pool._connections) <= 4  # type: ignore[attr-defined]
    kv.close()
