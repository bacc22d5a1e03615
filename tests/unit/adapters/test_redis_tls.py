"""Memorystore TLS: rediss:// connections verify the server with the configured CA, plain ones take no TLS options."""

from __future__ import annotations

import redis

from lib.adapters.redis import RedisKeyValue, tls_options
from lib.http.ratelimit import _no_retry_redis_storage

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_tls_options_only_for_rediss_with_a_ca() -> None:
    assert tls_options("rediss://default:pw@10.0.0.3:6378/0", PEM) == {"ssl_ca_data": PEM}
    assert tls_options("rediss://default:pw@10.0.0.3:6378/0", None) == {}
    assert tls_options("redis://127.0.0.1:6379/0", PEM) == {}  # a plain connection class rejects ssl options


def test_the_key_value_pool_carries_the_ca_and_blocks_when_full() -> None:
    kv = RedisKeyValue.from_url("rediss://default:pw@10.0.0.3:6378/0", ca_pem=PEM, max_connections=7)
    pool = kv.client.connection_pool  # built without connecting
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert pool.max_connections == 7
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["ssl_ca_data"] == PEM


def test_the_rate_limiter_storage_carries_the_ca() -> None:
    storage = _no_retry_redis_storage("rediss://default:pw@10.0.0.3:6378/0", 0.3, PEM)
    kwargs = storage.storage.connection_pool.connection_kwargs  # type: ignore[attr-defined]
    assert kwargs["ssl_ca_data"] == PEM
