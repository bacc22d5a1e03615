"""The raw-client baselines every scenario's ratio is measured against.

Each is the cheapest round trip to one real local service with its plain
client (no adapter, no retry, no pool): the floor our own code sits on.
Measured in the same run as the scenarios, so a ratio means "our layer
costs N times the raw call" on whatever machine runs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator

from bench.harness import BenchContext, Operation, scenario

# Raw calls are sub-millisecond: many iterations keep p99 meaningful, the budget keeps `make bench` short.
RAW_ITERATIONS = 5000
RAW_WARMUP = 200
RAW_BUDGET_S = 3.0


@scenario("baseline.redis_get", iterations=RAW_ITERATIONS, warmup=RAW_WARMUP, budget_s=RAW_BUDGET_S)
def redis_get(ctx: BenchContext) -> Generator[Operation, None, None]:
    import redis

    ctx.require("redis")
    client = redis.Redis.from_url(ctx.env["REDIS_URL"])
    key = f"bench:baseline:{uuid.uuid4().hex}"
    client.set(key, b"x" * 64, ex=300)
    try:
        yield lambda: client.get(key)
    finally:
        client.delete(key)
        client.close()


@scenario("baseline.pg_select1", iterations=RAW_ITERATIONS, warmup=RAW_WARMUP, budget_s=RAW_BUDGET_S)
def pg_select1(ctx: BenchContext) -> Generator[Operation, None, None]:
    import psycopg

    ctx.require("postgres")
    conn = psycopg.connect(ctx.env["DATABASE_URL"], autocommit=True)  # one connection, reused
    try:
        yield lambda: conn.execute("select 1").fetchone()
    finally:
        conn.close()


@scenario("baseline.firestore_get", iterations=1000, warmup=50, budget_s=RAW_BUDGET_S)
def firestore_get(ctx: BenchContext) -> Generator[Operation, None, None]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    ctx.require("firestore")
    # The SDK finds the emulator through FIRESTORE_EMULATOR_HOST, which the harness exported.
    client = firestore.Client(project="bench-local", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    doc = client.collection("bench_baseline").document(uuid.uuid4().hex)
    doc.set({"value": "x" * 64})
    try:
        yield doc.get
    finally:
        doc.delete()
        client.close()  # type: ignore[no-untyped-call]
