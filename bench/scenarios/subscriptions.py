"""The hourly subscription sweep over 100 000 subscriptions, 1 % of them due.

A scratch database gets 100 000 signed-up workspaces with a monthly
subscription each: 99 % have their next sweep days away, 1 000 are due now
(their 7-day reminder).  One sample is one sweep run
(``sweep_subscriptions``: find what is due through the partial index, move
it, write its reminders), timed by itself; between samples the same 1 000
rows are made due again and their reminders deleted, untimed.  Before timing,
the scenario checks with ``EXPLAIN`` that the due query reads the
``subscriptions_next_sweep_at_idx`` index and never the whole table, and
refuses to run otherwise.  Target: p95 <= 200 ms per run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

from bench.harness import BenchContext, Measured, Operation, Target, scenario

SUBSCRIPTIONS = 100_000
DUE = 1_000
SWEEP_TARGET = Target(p95_ms=200.0)


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(_plan_nodes(child))
    return nodes


def _uses_the_index(conn: Any) -> bool:
    row = conn.execute(
        "explain (format json) select workspace_id from public.subscriptions where next_sweep_at <= now()"
        " order by next_sweep_at limit 1000 for update skip locked"
    ).fetchone()
    plan = row["QUERY PLAN"] if isinstance(row, dict) else row[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes = _plan_nodes(plan[0]["Plan"])
    index_scan = any(n.get("Index Name") == "subscriptions_next_sweep_at_idx" for n in nodes)
    seq_scan = any(n.get("Node Type") == "Seq Scan" and n.get("Relation Name") == "subscriptions" for n in nodes)
    return index_scan and not seq_scan


@scenario("subscriptions.sweep_100k_1pct_due", target=SWEEP_TARGET, iterations=60, warmup=3, budget_s=30.0)
def sweep_100k(ctx: BenchContext) -> Generator[Operation, None, None]:
    ctx.require("postgres")
    from devtools.db.migrate import migrate
    from devtools.db.scratch import scratch_database
    from lib.adapters.postgres import PostgresDatabase
    from lib.adapters.postgres_payments import PostgresPayments, PostgresPaymentsUnit
    from lib.clock import SystemClock
    from lib.services.payments.subscriptions import sweep_subscriptions
    from lib.testing.fake_payments import payment_deps

    with scratch_database(ctx.env["DATABASE_URL"], prefix="bench_sweep") as url:
        migrate(url, local_shim=True)
        db = PostgresDatabase(url, max_size=2)
        setup = PostgresDatabase(url, max_size=1, statement_timeout_ms=600_000)  # 100 000 sign-ups take a while
        try:
            with setup.connection() as conn:
                conn.execute(
                    "insert into auth.users (email) select 'sweep' || g || '@example.com'"
                    " from generate_series(1, %s) g",
                    (SUBSCRIPTIONS,),
                )
                # Due rows: the first DUE workspaces, 6 days 23 hours before their period end.
                conn.execute(
                    "insert into public.subscriptions (workspace_id, plan_id, billing_period, status,"
                    " current_period_start, current_period_end, next_sweep_at)"
                    " select w.id, 'starter', 'monthly', 'active', now() - interval '23 days',"
                    " case when w.rn <= %(due)s then now() + interval '7 days' - interval '1 hour'"
                    " else now() + (1 + w.rn %% 20) * interval '1 day' + interval '7 days' end,"
                    " case when w.rn <= %(due)s then now() - interval '1 hour'"
                    " else now() + (1 + w.rn %% 20) * interval '1 day' end"
                    " from (select id, row_number() over (order by id) as rn from public.workspaces) w",
                    {"due": DUE},
                )
                conn.execute("analyze public.subscriptions")
                if not _uses_the_index(conn):
                    raise RuntimeError("the due-subscriptions query does not use subscriptions_next_sweep_at_idx")
                due_ids = [
                    r["workspace_id"]
                    for r in conn.execute(
                        "select workspace_id from public.subscriptions where next_sweep_at <= now()"
                    ).fetchall()
                ]
            deps = payment_deps(PostgresPayments(db), lambda: PostgresPaymentsUnit(db), SystemClock())

            def op() -> Measured:
                with db.connection() as conn:  # untimed: the same rows due again, their reminders gone
                    conn.execute(
                        "update public.subscriptions set status = 'active',"
                        " next_sweep_at = now() - interval '1 hour' where workspace_id = any(%s)",
                        (due_ids,),
                    )
                    conn.execute("delete from public.email_outbox")
                start = time.perf_counter_ns()
                result = sweep_subscriptions(deps=deps)
                elapsed = time.perf_counter_ns() - start
                if result.examined != DUE or result.emails != DUE:
                    raise RuntimeError(f"the sweep did not handle exactly the due rows: {result}")
                return Measured(elapsed)

            yield op
        finally:
            setup.close()
            db.close()
