"""The benchmark harness: a scenario registry, a timing loop, stats and a report.

A scenario is a generator function registered with ``@scenario``: it sets up
(clients, data), yields the operation to time, and tears down after the
``yield``.  The operation either returns nothing (its wall time is the
sample) or a ``Measured`` duration it took itself (cold starts measure inside
a child process, where spawning the process is not the thing measured).

Each scenario names the baseline it is compared with (raw Redis GET, raw
``SELECT 1``, raw Firestore read...), measured in the same run on the same
machine, so the ratio survives a slower or faster machine where absolute
numbers do not; a ``Target`` turns ratio or latency into pass/fail.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Below this, a duration reads better in microseconds.
MICROSECONDS_BELOW_NS = 1_000_000
# Every scenario gets at least this many samples, even past its time budget (p50 of one sample means little).
MIN_SAMPLES = 3
# --quick divides iterations, warm-up and budget by this (a smoke run, not a measurement).
QUICK_DIVISOR = 10


class ScenarioSkipped(Exception):
    """Raised by a scenario's setup when what it needs is not available here."""


@dataclass(frozen=True)
class Measured:
    """A duration the operation measured itself, used instead of its wall time."""

    ns: int


Operation = Callable[[], object]
Setup = Callable[["BenchContext"], Generator[Operation, None, None]]


@dataclass(frozen=True)
class Target:
    """What passing means: p50 at most ``p50_ms``, p95 at most ``p95_ms``, and/or p50 at most
    ``max_ratio`` x the baseline's p50 (each bound that is set must hold)."""

    p95_ms: float | None = None
    max_ratio: float | None = None
    p50_ms: float | None = None

    def describe(self) -> str:
        parts = []
        if self.max_ratio is not None:
            parts.append(f"<={self.max_ratio:g}x")
        if self.p50_ms is not None:
            parts.append(f"p50<={self.p50_ms:g}ms")
        if self.p95_ms is not None:
            parts.append(f"p95<={self.p95_ms:g}ms")
        return " ".join(parts) or "-"

    def met(self, p95_ns: float, ratio: float | None, *, p50_ns: float = 0.0) -> bool | None:
        """True/False, or None when the ratio it needs is unknown (baseline skipped)."""
        if self.p95_ms is not None and p95_ns > self.p95_ms * 1e6:
            return False
        if self.p50_ms is not None and p50_ns > self.p50_ms * 1e6:
            return False
        if self.max_ratio is not None:
            if ratio is None:
                return None
            return ratio <= self.max_ratio
        return True


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Setup
    baseline: str | None = None
    target: Target | None = None
    iterations: int = 2000
    warmup: int = 100
    budget_s: float = 3.0


REGISTRY: dict[str, Scenario] = {}


def scenario(
    name: str,
    *,
    baseline: str | None = None,
    target: Target | None = None,
    iterations: int = 2000,
    warmup: int = 100,
    budget_s: float = 3.0,
) -> Callable[[Setup], Setup]:
    """Register a scenario (a generator: set up, ``yield`` the operation, tear down)."""

    def register(setup: Setup) -> Setup:
        if name in REGISTRY:
            raise ValueError(f"scenario {name!r} registered twice")
        REGISTRY[name] = Scenario(name, setup, baseline, target, iterations, warmup, budget_s)
        return setup

    return register


@dataclass
class BenchContext:
    """What scenarios may use: the services' environment and which are missing."""

    env: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # service -> why it is not running
    quick: bool = False

    def require(self, *names: str) -> None:
        for name in names:
            if name in self.missing:
                raise ScenarioSkipped(f"{name}: {self.missing[name]}")
            var = SERVICE_VARS.get(name)
            if var and not self.env.get(var):
                raise ScenarioSkipped(f"{name}: {var} is not set")


SERVICE_VARS = {
    "postgres": "DATABASE_URL",
    "redis": "REDIS_URL",
    "firestore": "FIRESTORE_EMULATOR_HOST",
    "storage": "STORAGE_EMULATOR_HOST",
}


@dataclass
class Result:
    name: str
    status: str  # ok | skipped | error
    n: int = 0
    p50_ns: float = 0.0
    p95_ns: float = 0.0
    p99_ns: float = 0.0
    mean_ns: float = 0.0
    ops_per_s: float = 0.0
    baseline: str | None = None
    ratio: float | None = None
    target: str = "-"
    passed: bool | None = None
    detail: str = ""


def percentiles(samples: list[int]) -> tuple[float, float, float]:
    """p50, p95, p99 (linear interpolation between closest ranks)."""
    if len(samples) == 1:
        return (float(samples[0]),) * 3
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def _timed_loop(op: Operation, iterations: int, budget_s: float) -> list[int]:
    samples: list[int] = []
    clock = time.perf_counter_ns
    deadline = clock() + int(budget_s * 1e9)
    gc.collect()
    gc.disable()  # a collection inside the loop would land in one unlucky sample
    try:
        while len(samples) < iterations and (clock() < deadline or len(samples) < MIN_SAMPLES):
            start = clock()
            outcome = op()
            elapsed = clock() - start
            samples.append(outcome.ns if isinstance(outcome, Measured) else elapsed)
    finally:
        gc.enable()
    return samples


def _failed(result: Result, exc: Exception) -> Result:
    """``result`` marked skipped (``ScenarioSkipped``) or errored (anything else)."""
    if isinstance(exc, ScenarioSkipped):
        result.status, result.detail = "skipped", str(exc)
    else:
        result.status, result.detail = "error", f"{type(exc).__name__}: {exc}"
    return result


def measure(sc: Scenario, ctx: BenchContext) -> Result:
    divisor = QUICK_DIVISOR if ctx.quick else 1
    iterations = max(MIN_SAMPLES, sc.iterations // divisor)
    warmup = sc.warmup // divisor
    result = Result(sc.name, "ok", baseline=sc.baseline, target=sc.target.describe() if sc.target else "-")
    try:
        steps = sc.setup(ctx)
        op = next(steps)
    except Exception as exc:  # a skipped or broken scenario is a row, not a crash
        return _failed(result, exc)
    try:
        for _ in range(warmup):
            op()
        samples = _timed_loop(op, iterations, sc.budget_s / divisor)
    except Exception as exc:
        return _failed(result, exc)
    finally:
        steps.close()
    result.n = len(samples)
    result.p50_ns, result.p95_ns, result.p99_ns = percentiles(samples)
    result.mean_ns = statistics.fmean(samples)
    result.ops_per_s = 1e9 / result.mean_ns if result.mean_ns else 0.0
    return result


def select(names: Iterable[str], only: str | None) -> list[Scenario]:
    """Scenarios whose name starts with ``only`` plus the baselines they compare with.

    Baselines (named ``baseline.*`` or compared with) come first, then the rest, each group in registration order
    (``bench.baselines`` is imported first), so every ratio can be computed.
    """
    wanted: set[str] = set()
    pending = [n for n in names if only is None or n.startswith(only)]
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        if name not in REGISTRY:
            raise KeyError(f"unknown scenario or baseline {name!r}")
        wanted.add(name)
        base = REGISTRY[name].baseline
        if base:
            pending.append(base)
    baselines = {REGISTRY[n].baseline for n in wanted}
    ordered = [REGISTRY[n] for n in REGISTRY if n in wanted]
    return sorted(ordered, key=lambda s: 0 if s.name in baselines or s.name.startswith("baseline.") else 1)


def run(scenarios: list[Scenario], ctx: BenchContext, progress: Callable[[str], None] | None = None) -> list[Result]:
    done: dict[str, Result] = {}
    for sc in scenarios:
        if progress:
            progress(sc.name)
        result = measure(sc, ctx)
        base = done.get(sc.baseline) if sc.baseline else None
        if result.status == "ok":
            if base is not None and base.status == "ok" and base.p50_ns:
                result.ratio = result.p50_ns / base.p50_ns
            if sc.target is not None:
                result.passed = sc.target.met(result.p95_ns, result.ratio, p50_ns=result.p50_ns)
        done[sc.name] = result
    return list(done.values())


# --- reporting ----------------------------------------------------------------------------------


def fmt_duration(ns: float) -> str:
    if ns < MICROSECONDS_BELOW_NS:
        return f"{ns / 1e3:.3f} us"
    return f"{ns / 1e6:.3f} ms"


def _verdict(r: Result) -> str:
    if r.status != "ok":
        return r.status
    return {True: "pass", False: "FAIL", None: "-"}[r.passed]


def render_table(results: list[Result]) -> str:
    header = ("scenario", "n", "p50", "p95", "p99", "ops/s", "ratio", "target", "result")
    rows = [header]
    for r in results:
        if r.status == "ok":
            ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
            rows.append(
                (
                    r.name,
                    str(r.n),
                    fmt_duration(r.p50_ns),
                    fmt_duration(r.p95_ns),
                    fmt_duration(r.p99_ns),
                    f"{r.ops_per_s:,.0f}",
                    ratio,
                    r.target,
                    _verdict(r),
                )
            )
        else:
            rows.append((r.name, "-", "-", "-", "-", "-", "-", r.target, _verdict(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 2, 3, 4, 5, 6}
    lines = []
    for row in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append(" | ".join(cells).rstrip())
    lines.insert(1, "-+-".join("-" * w for w in widths))
    notes = [f"  {r.name}: {r.detail}" for r in results if r.detail]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def write_results(results: list[Result], path: Path, *, quick: bool) -> None:
    payload: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "quick": quick,
        "unit": "ns",
        "results": [asdict(r) for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
