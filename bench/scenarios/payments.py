"""Payments: initiate's own cost, one confirmed webhook, and webhook throughput with duplicates.

All three run against the local suite served on a free port (real Postgres,
Valkey, the Cloud Tasks dispatcher, the PhonePe simulator and the mail catcher):

- ``payments.initiate_own_cost``: the ``initiate_payment`` service in-process
  (plan lookup, order insert, the reconciliation task enqueued over HTTP to the
  local dispatcher, the PENDING update) with a gateway that answers instantly,
  so PhonePe's round trip is excluded by construction (not subtracted).  The
  HTTP router and JWT check are measured by the ``http.*`` scenarios.
- ``payments.webhook_confirmed``: one ``POST /payment_webhook/`` over HTTP for a
  fresh order paid at the simulator (webhook dropped there): header check,
  ledger insert, the order-status call to the simulator, the grant transaction
  and the confirmation email to the mail catcher.  Preparing the order is not timed.
- ``payments.webhook_throughput``: 4 threads posting webhooks for a fixed
  budget, one delivery in four a duplicate of one already sent; every batch
  then checks that each order was granted exactly once (an error row otherwise).
  ``ops/s`` is requests per second (each sample is a batch's wall time divided
  by its requests).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import BenchContext, Measured, Operation, Target, scenario

# Issue 3, "Speed": our own cost of initiate, PhonePe excluded.
INITIATE_TARGET = Target(p95_ms=15.0)
# Issue 3, "Speed": a webhook including the status confirmation against the simulator.
WEBHOOK_TARGET = Target(p95_ms=25.0)
# The reconciliation tasks initiate queues must not fire during a run: stretch the ladder 100x.
BENCH_TIME_SCALE = 100.0
# Throughput: worker threads, and one delivery in this many is a duplicate.
THREADS = 4
DUPLICATE_EVERY = 4
# Throughput: requests per timed batch (a multiple of THREADS).
BATCH = 40
# Throughput: batches measured (quick runs take a tenth, at least MIN_SAMPLES).
THROUGHPUT_BATCHES = 15


@dataclass
class _Suite:
    base: str
    settings: Any
    container: Any
    user_id: str
    workspace_id: str
    header: str
    http: Any  # a keep-alive httpx.Client for the untimed preparation (a new client per call costs a TLS context)


@contextmanager
def _served(ctx: BenchContext) -> Iterator[_Suite]:
    ctx.require("postgres", "redis", "schema")
    from lib.adapters.phonepe import TOKEN_KEY as PHONEPE_TOKEN_KEY
    from lib.config import Settings
    from lib.domain.payments import webhook_authorization
    from lib.local.devserver import LocalApp, build_suite, build_wsgi
    from lib.local.services import ServiceSet, free_port
    from tests.e2e.support import serving

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        app_env="local",
        dev_routes=True,
        functions_base_url=base,
        frontend_url=base,
        supabase_url=f"{base}/_dev/auth",
        oidc_local_jwks_url=f"{base}/_dev/oidc/jwks",
        tasks_local_url=f"{base}/_dev/tasks",
        resend_base_url=f"{base}/_dev/resend",
        phonepe_api_base=f"{base}/_dev/phonepe/apis/pg-sandbox",
        phonepe_token_url=f"{base}/_dev/phonepe/apis/pg-sandbox/v1/oauth/token",
    )
    services = ServiceSet(root=Path("."), env=dict(ctx.env), missing=dict(ctx.missing))
    dev = build_suite(settings, services, time_scale=BENCH_TIME_SCALE)
    # A token cached in Redis by an earlier simulator instance is unknown to this one.
    dev.container.kv.delete(PHONEPE_TOKEN_KEY)
    app = LocalApp(dev, build_wsgi(dev))
    dev.dispatcher.start()
    try:
        with serving(app, port):
            import httpx

            signup = httpx.post(f"{base}/_dev/token", json={"email": f"bench-{uuid.uuid4().hex[:8]}@example.com"})
            signup.raise_for_status()
            who = signup.json()
            header = webhook_authorization(
                settings.phonepe_webhook_username, settings.phonepe_webhook_password.get_secret_value()
            )
            with httpx.Client(base_url=base, timeout=10) as prep:
                yield _Suite(base, settings, dev.container, who["user_id"], who["workspace_id"], header, prep)
    finally:
        app.stop()


class _InstantGateway:
    """A ``PaymentGateway`` that answers at once: initiate's cost without PhonePe's round trip."""

    def pay(self, *, merchant_order_id: str, amount_paise: int, **_: Any) -> Any:
        from lib.services.payments.ports import PayResult

        expire = datetime.now(UTC) + timedelta(minutes=20)
        return PayResult(f"OMO{merchant_order_id}", "PENDING", expire, f"https://pay.invalid/{merchant_order_id}")

    def order_status(self, merchant_order_id: str) -> Any:
        from lib.services.payments.ports import GatewayStatus

        return GatewayStatus(found=False)


def _paid_order(suite: _Suite) -> str:
    """A PENDING order, paid at the simulator with its webhook dropped (untimed preparation)."""
    from lib.services.payments.initiate import InitiateCommand, initiate_payment

    cmd = InitiateCommand(suite.user_id, suite.workspace_id, "starter", "monthly")
    body, _ = initiate_payment(cmd, deps=suite.container.payment_deps)
    mid = str(body["merchant_order_id"])
    done = suite.http.post(f"/_dev/phonepe/orders/{mid}/complete", params={"webhook": "drop"})
    done.raise_for_status()
    return mid


def _webhook_body(mid: str) -> bytes:
    payload = {"merchantOrderId": mid, "state": "COMPLETED", "amount": 99900, "orderId": f"OMO{mid}"}
    return json.dumps({"event": "checkout.order.completed", "payload": payload}).encode()


@scenario("payments.initiate_own_cost", target=INITIATE_TARGET, iterations=1500, warmup=50, budget_s=10.0)
def initiate_own_cost(ctx: BenchContext) -> Generator[Operation, None, None]:
    from lib.services.payments.initiate import InitiateCommand, initiate_payment

    with _served(ctx) as suite:
        deps = replace(suite.container.payment_deps, gateway=_InstantGateway())
        cmd = InitiateCommand(suite.user_id, suite.workspace_id, "growth", "annual")

        def op() -> object:
            body, status = initiate_payment(cmd, deps=deps)
            if status != 201:  # pragma: no cover - a broken run is an error row
                raise RuntimeError(f"initiate answered {status}: {body}")
            return body

        yield op


@scenario("payments.webhook_confirmed", target=WEBHOOK_TARGET, iterations=300, warmup=10, budget_s=20.0)
def webhook_confirmed(ctx: BenchContext) -> Generator[Operation, None, None]:
    import httpx

    with _served(ctx) as suite, httpx.Client(base_url=suite.base, timeout=10) as http:
        headers = {"Authorization": suite.header, "Content-Type": "application/json"}

        def op() -> Measured:
            body = _webhook_body(_paid_order(suite))
            start = time.perf_counter_ns()
            response = http.post("/payment_webhook/", content=body, headers=headers)
            elapsed = time.perf_counter_ns() - start
            if response.status_code != 200:
                raise RuntimeError(f"webhook answered {response.status_code}: {response.text}")
            return Measured(elapsed)

        yield op


def _grants(suite: _Suite, mids: list[str]) -> dict[str, tuple[str, int]]:
    """Per order: its state and how many confirmation emails the grant queued (1 = granted once)."""
    with suite.container.db.connection() as conn:
        rows = conn.execute(
            "select t.merchant_order_id as mid, t.state,"
            " (select count(*) from public.email_outbox e where e.payload->>'merchant_order_id' = t.merchant_order_id)"
            " as grants from public.payment_transactions t where t.merchant_order_id = any(%s)",
            (mids,),
        ).fetchall()
    return {r["mid"]: (r["state"], int(r["grants"])) for r in rows}


@scenario("payments.webhook_throughput", iterations=THROUGHPUT_BATCHES, warmup=1, budget_s=60.0)
def webhook_throughput(ctx: BenchContext) -> Generator[Operation, None, None]:
    import httpx

    with _served(ctx) as suite:
        clients = [httpx.Client(base_url=suite.base, timeout=10) for _ in range(THREADS)]
        headers = {"Authorization": suite.header, "Content-Type": "application/json"}
        pool = ThreadPoolExecutor(THREADS)
        unique_per_batch = BATCH - BATCH // DUPLICATE_EVERY
        sent: list[str] = []

        def post(job: tuple[int, list[bytes]]) -> list[int]:
            index, bodies = job
            client = clients[index]
            return [client.post("/payment_webhook/", content=b, headers=headers).status_code for b in bodies]

        def op() -> Measured:
            fresh = [_paid_order(suite) for _ in range(unique_per_batch)]
            # One in DUPLICATE_EVERY re-sends an order already delivered (this batch's or an earlier one).
            pool_of_sent = sent + fresh
            mids: list[str] = []
            for i in range(BATCH):
                if i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1:
                    mids.append(pool_of_sent[(i * 7) % len(pool_of_sent)])
                else:
                    mids.append(fresh.pop())
            bodies = [_webhook_body(m) for m in mids]
            jobs = [(t, bodies[t::THREADS]) for t in range(THREADS)]
            start = time.perf_counter_ns()
            codes = [c for chunk in pool.map(post, jobs) for c in chunk]
            elapsed = time.perf_counter_ns() - start
            if any(c != 200 for c in codes):
                raise RuntimeError(f"non-2xx webhook answers: {sorted(set(codes))}")
            distinct = sorted(set(mids))
            grants = _grants(suite, distinct)
            wrong = {m: g for m, g in grants.items() if g != ("COMPLETED", 1)}
            if wrong or len(grants) != len(distinct):
                raise RuntimeError(f"double or missing grants: {wrong}")
            sent.extend(m for m in distinct if m not in sent)
            return Measured(elapsed // BATCH)

        try:
            yield op
        finally:
            pool.shutdown()
            for client in clients:
                client.close()
