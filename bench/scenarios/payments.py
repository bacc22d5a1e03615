"""Payments: initiate's own cost, one confirmed webhook, and webhook throughput with duplicates.

- ``payments.initiate_own_cost``: the ``initiate_payment`` service in-process
  (plan lookup, order insert, the reconciliation task enqueued over HTTP to the
  local dispatcher, the PENDING update) with a gateway that answers instantly,
  so PhonePe's round trip is excluded by construction (not subtracted).  The
  HTTP router and JWT check are measured by the ``http.*`` scenarios.
- ``payments.webhook_confirmed``: one ``POST /payment_webhook/`` over HTTP for a
  fresh order paid at the simulator (webhook dropped there): header check,
  ledger insert, the order-status call to the simulator, the grant transaction
  and the confirmation email to the mail catcher.  Preparing the order is not timed.
- ``payments.webhook_throughput``: what production pays.  ``payment_webhook`` is
  served as Cloud Functions serves it (``functions-framework``: gunicorn, one
  gthread worker, ``SERVER_THREADS`` threads, keep-alive) in its own process;
  the PhonePe simulator and the mail catcher (remote in production) run in
  another (``bench.servers``); ``LOAD_THREADS`` keep-alive clients post
  webhooks, one delivery in ``DUPLICATE_EVERY`` a duplicate of one already
  sent (often concurrently with its original).  Only the posting is timed
  (orders are prepared before each batch); every batch then checks that each
  order is COMPLETED with exactly one outbox row (an error row otherwise).
  ``ops/s`` is requests per second (each sample is a batch's wall time divided
  by its requests).  Caveat: all processes, plus Postgres and Valkey, still
  share this machine's cores, so the stand-ins' and the load generator's CPU is
  apart from ours but not free; the CPU each process spent per request is
  printed to stderr at the end of the scenario.
- ``payments.webhook_throughput.dev_server``: the same load, 4 threads, against
  the whole local suite in this one process on werkzeug's dev server (a new
  connection per request): the figure before, kept for comparison.
"""

from __future__ import annotations

import json
import os
import sys
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

# Target: our own cost of initiate, PhonePe excluded.
INITIATE_TARGET = Target(p95_ms=15.0)
# Target: a webhook including the status confirmation against the simulator.
WEBHOOK_TARGET = Target(p95_ms=25.0)
# The reconciliation tasks initiate queues must not fire during a run: stretch the ladder 100x.
BENCH_TIME_SCALE = 100.0
# Throughput: one delivery in this many is a duplicate.
DUPLICATE_EVERY = 4
# Dev-server throughput (the old figure): client threads and requests per timed batch (a multiple of both).
DEV_THREADS = 4
DEV_BATCH = 40
# Served throughput: client threads (4-8 tried; 8 keeps the server's threads busy) and requests per batch.
LOAD_THREADS = 8
LOAD_BATCH = 160
# One worker as deployed; THREADS and DB_POOL_MAX come from infra/terraform's table (deployed_sizing).
WEBHOOK = "payment_webhook"
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
    deps: Any  # the PaymentDeps the untimed preparation initiates orders with
    sim: str = "/_dev/phonepe"  # the simulator's mount on ``http``


@contextmanager
def _served(ctx: BenchContext) -> Iterator[_Suite]:
    ctx.require("postgres", "redis", "schema")
    from devtools.local.services import ServiceSet
    from lib.config import Settings
    from lib.domain.payments import webhook_authorization
    from tests.e2e.served import served_suite

    services = ServiceSet(root=Path("."), env=dict(ctx.env), missing=dict(ctx.missing))
    with served_suite(services, Settings(app_env="local", dev_routes=True), time_scale=BENCH_TIME_SCALE) as served:
        import httpx

        base, settings, container = served.base, served.settings, served.dev.container
        signup = httpx.post(f"{base}/_dev/token", json={"email": f"bench-{uuid.uuid4().hex[:8]}@example.com"})
        signup.raise_for_status()
        who = signup.json()
        header = webhook_authorization(
            settings.phonepe_webhook_username, settings.phonepe_webhook_password.get_secret_value()
        )
        with httpx.Client(base_url=base, timeout=10) as prep:
            yield _Suite(
                base,
                settings,
                container,
                who["user_id"],
                who["workspace_id"],
                header,
                prep,
                container.payment_deps,
            )


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

    # The bench pays again and again for one workspace: drop the plan the last payment granted, or
    # the next order would be an early renewal (409 renewal_not_open).
    with suite.container.db.connection() as conn:
        conn.execute("delete from public.subscriptions where workspace_id = %s", (suite.workspace_id,))
    cmd = InitiateCommand(suite.user_id, suite.workspace_id, "starter", "monthly")
    body, _ = initiate_payment(cmd, deps=suite.deps)
    mid = str(body["merchant_order_id"])
    done = suite.http.post(f"{suite.sim}/orders/{mid}/complete", params={"webhook": "drop"})
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


@contextmanager
def _load(suite: _Suite, base: str, *, threads: int, batch: int, meter: _CpuMeter | None = None) -> Iterator[Operation]:
    """The throughput operation: prepare a batch of paid orders (untimed), post ``batch`` webhooks to
    ``base`` from ``threads`` keep-alive clients, one in ``DUPLICATE_EVERY`` a duplicate, then check
    that every order was granted exactly once."""
    import httpx

    clients = [httpx.Client(base_url=base, timeout=10) for _ in range(threads)]
    headers = {"Authorization": suite.header, "Content-Type": "application/json"}
    pool = ThreadPoolExecutor(threads)
    unique_per_batch = batch - batch // DUPLICATE_EVERY
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
        for i in range(batch):
            if i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1:
                mids.append(pool_of_sent[(i * 7) % len(pool_of_sent)])
            else:
                mids.append(fresh.pop())
        bodies = [_webhook_body(m) for m in mids]
        jobs = [(t, bodies[t::threads]) for t in range(threads)]
        if meter is not None:
            meter.start()
        start = time.perf_counter_ns()
        codes = [c for chunk in pool.map(post, jobs) for c in chunk]
        elapsed = time.perf_counter_ns() - start
        if meter is not None:
            meter.stop(batch)
        if any(c != 200 for c in codes):
            raise RuntimeError(f"non-2xx webhook answers: {sorted(set(codes))}")
        distinct = sorted(set(mids))
        grants = _grants(suite, distinct)
        wrong = {m: g for m, g in grants.items() if g != ("COMPLETED", 1)}
        if wrong or len(grants) != len(distinct):
            raise RuntimeError(f"double or missing grants: {wrong}")
        sent.extend(m for m in distinct if m not in sent)
        return Measured(elapsed // batch)

    try:
        yield op
    finally:
        pool.shutdown()
        for client in clients:
            client.close()


@scenario("payments.webhook_throughput.dev_server", iterations=THROUGHPUT_BATCHES, warmup=1, budget_s=60.0)
def webhook_throughput_dev_server(ctx: BenchContext) -> Generator[Operation, None, None]:
    with _served(ctx) as suite, _load(suite, suite.base, threads=DEV_THREADS, batch=DEV_BATCH) as op:
        yield op


# --- served as in production ---------------------------------------------------------------------


def _tree_cpu(proc: Any) -> float:
    """CPU seconds of ``proc``, its live descendants and its reaped children (a postmaster's backends)."""
    import psutil

    total = 0.0
    try:
        t = proc.cpu_times()
        total += t.user + t.system + t.children_user + t.children_system
        for child in proc.children(recursive=True):
            with_child = child.cpu_times()
            total += with_child.user + with_child.system
    except psutil.Error:
        pass
    return total


def _listener(url: str) -> Any:
    """The process listening on ``url``'s port on this machine, or None (not local, or not visible)."""
    from urllib.parse import urlsplit

    import psutil

    port = urlsplit(url).port
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return psutil.Process(conn.pid)
    except psutil.Error:
        return None
    return None


class _CpuMeter:
    """CPU seconds each process spends inside the timed windows, per request (printed at the end)."""

    def __init__(self, probes: dict[str, Any]) -> None:
        self.probes = probes  # name -> () -> CPU seconds so far
        self.spent = dict.fromkeys(probes, 0.0)
        self.requests = 0
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: probe() for name, probe in self.probes.items()}

    def stop(self, requests: int) -> None:
        for name, probe in self.probes.items():
            self.spent[name] += probe() - self._before[name]
        self.requests += requests

    def report(self) -> str:
        if not self.requests:
            return "no requests measured"
        per = {name: spent / self.requests * 1e3 for name, spent in self.spent.items()}
        return ", ".join(f"{name} {ms:.2f} ms" for name, ms in per.items())


def _machine_busy_s() -> float:
    """All cores' non-idle CPU seconds since boot (other work on the machine included)."""
    import psutil

    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def deployed_sizing(function: str) -> tuple[int, int]:
    """(concurrency, db_pool) of ``function`` in ``local.functions`` (infra/terraform/locals.tf)."""
    from tools.tfcheck import Terraform

    cfg = Terraform.load().functions[function]
    return int(cfg["concurrency"]), int(cfg["db_pool"])


@contextmanager
def _production_like(ctx: BenchContext, *, threads: int, db_pool: int) -> Iterator[tuple[_Suite, str, _CpuMeter]]:
    """payment_webhook on functions-framework (gunicorn) and the stand-ins, each in its own process;
    the untimed preparation (initiate, pay at the simulator) runs here against the same processes."""
    ctx.require("postgres", "redis", "schema")
    import httpx
    import psutil

    from bench.servers import free_port, serve_function, serve_stand_ins, stand_ins_env
    from devtools.local.dev_auth import DevAuth
    from lib import bootstrap
    from lib.adapters.phonepe import TOKEN_KEY as PHONEPE_TOKEN_KEY
    from lib.config import Settings
    from lib.domain.payments import webhook_authorization
    from lib.testing.fakes import FakeTaskQueue

    function_base = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        **ctx.env,
        "APP_ENV": "local",
        "DEV_ROUTES": "false",
        "TASKS_MODE": "local",
        "FUNCTIONS_BASE_URL": function_base,
        "DB_POOL_MAX": str(db_pool),
    }
    with serve_stand_ins(env) as stand_ins:
        # Reconciliation is only queued for an order not yet visible, which the bench never sends.
        env.update(stand_ins_env(stand_ins.base), TASKS_LOCAL_URL=f"{stand_ins.base}/tasks")
        settings = Settings(
            app_env="local",
            dev_routes=True,
            functions_base_url=function_base,
            database_url=ctx.env["DATABASE_URL"],
            redis_url=ctx.env["REDIS_URL"],
            phonepe_api_base=env["PHONEPE_API_BASE"],
            phonepe_token_url=env["PHONEPE_TOKEN_URL"],
            resend_base_url=env["RESEND_BASE_URL"],
            tasks_local_url=env["TASKS_LOCAL_URL"],
        )
        container = bootstrap.Container(settings)
        # A token cached in Redis by an earlier simulator instance is unknown to this one.
        container.kv.delete(PHONEPE_TOKEN_KEY)
        try:
            user = DevAuth(settings, container.db).sign_in(f"bench-{uuid.uuid4().hex[:8]}@example.com")
            header = webhook_authorization(
                settings.phonepe_webhook_username, settings.phonepe_webhook_password.get_secret_value()
            )
            # The ladder initiate schedules would never fire within a run: keep it out of Postgres and HTTP.
            deps = replace(container.payment_deps, tasks=FakeTaskQueue())
            port = int(function_base.rsplit(":", 1)[1])
            with (
                serve_function(WEBHOOK, env, port=port, threads=threads) as server,
                httpx.Client(base_url=stand_ins.base, timeout=10) as prep,
            ):
                suite = _Suite(
                    function_base, settings, container, user.user_id, user.workspace_id, header, prep, deps, "/phonepe"
                )
                me = psutil.Process()
                probes: dict[str, Any] = {
                    "function server": server.cpu_seconds,
                    "stand-ins": stand_ins.cpu_seconds,
                    "load generator": lambda: sum(me.cpu_times()[:2]),
                }
                for name, url in (("postgres", ctx.env["DATABASE_URL"]), ("valkey", ctx.env["REDIS_URL"])):
                    proc = _listener(url)
                    if proc is not None:
                        probes[name] = lambda p=proc: _tree_cpu(p)
                probes["machine (all processes)"] = _machine_busy_s
                yield suite, server.base, _CpuMeter(probes)
        finally:
            db = container.__dict__.get("db")
            if db is not None:
                db.close()


def _throughput(ctx: BenchContext, name: str, *, threads: int, db_pool: int) -> Generator[Operation, None, None]:
    with _production_like(ctx, threads=threads, db_pool=db_pool) as (suite, base, meter):
        try:
            with _load(suite, base, threads=LOAD_THREADS, batch=LOAD_BATCH, meter=meter) as op:
                yield op
        finally:
            print(f"{name} (threads {threads}, db pool {db_pool}), CPU per request: {meter.report()}", file=sys.stderr)


@scenario("payments.webhook_throughput", iterations=THROUGHPUT_BATCHES, warmup=1, budget_s=60.0)
def webhook_throughput(ctx: BenchContext) -> Generator[Operation, None, None]:
    """As deployed: the concurrency (gunicorn threads) and DB pool of infra/terraform."""
    concurrency, db_pool = deployed_sizing(WEBHOOK)
    yield from _throughput(ctx, "payments.webhook_throughput", threads=concurrency, db_pool=db_pool)


@scenario(
    "payments.webhook_throughput.concurrency_1",
    iterations=THROUGHPUT_BATCHES,
    warmup=1,
    budget_s=60.0,
    baseline="payments.webhook_throughput",
)
def webhook_throughput_one_at_a_time(ctx: BenchContext) -> Generator[Operation, None, None]:
    """The same load with one request per instance (Cloud Functions' default concurrency): what the
    deployed concurrency buys.  The ratio is this scenario's time per request over the deployed one's."""
    _, db_pool = deployed_sizing(WEBHOOK)
    yield from _throughput(ctx, "payments.webhook_throughput.concurrency_1", threads=1, db_pool=db_pool)
