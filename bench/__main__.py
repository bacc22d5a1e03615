"""``python -m bench [--only PREFIX] [--quick]``: run the scenarios against the real local services.

Prints ``scenario | n | p50 | p95 | p99 | ops/s | ratio | target | result``
and writes ``bench/results.json``.  Exits 1 when a scenario misses its target
or errors (skips, e.g. a missing emulator, do not fail the run).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path

from bench import harness

RESULTS = Path(__file__).resolve().parent / "results.json"


def load_scenarios() -> None:
    """Import the baselines, then every module in bench.scenarios (each registers on import)."""
    importlib.import_module("bench.baselines")
    import bench.scenarios

    for module in pkgutil.iter_modules(bench.scenarios.__path__):
        importlib.import_module(f"bench.scenarios.{module.name}")


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Send fd 1 to /dev/null while scenarios run: functions log a JSON line per request to
    stdout (as Cloud Logging wants), which must still be paid for but not drown the table."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="PREFIX", help="run scenarios whose name starts with PREFIX (+ baselines)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the iterations: a smoke run")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    args = parser.parse_args(argv)

    load_scenarios()
    scenarios = harness.select(harness.REGISTRY, args.only)
    if args.list:
        for sc in scenarios:
            print(f"{sc.name}  (baseline: {sc.baseline or '-'}, target: {sc.target.describe() if sc.target else '-'})")
        return 0
    if not scenarios:
        print(f"no scenario matches {args.only!r}", file=sys.stderr)
        return 2

    from bench.environment import local_services

    with local_services(quick=args.quick) as ctx:
        for name, why in ctx.missing.items():
            print(f"note: {name}: {why}", file=sys.stderr)
        with stdout_to_devnull():
            results = harness.run(scenarios, ctx, progress=lambda n: print(f"running {n}", file=sys.stderr, flush=True))
    print(harness.render_table(results))
    harness.write_results(results, args.results, quick=args.quick)
    print(f"\nwrote {args.results}")
    failed = [r.name for r in results if r.status == "error" or r.passed is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
