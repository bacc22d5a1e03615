"""bench.harness: selection and ordering, the timing loop, ratios, targets and the table."""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path

import pytest

from bench import harness
from bench.harness import BenchContext, Measured, Operation, Result, Scenario, ScenarioSkipped, Target


def fixed(ns: int) -> Scenario:
    def setup(ctx: BenchContext) -> Generator[Operation, None, None]:
        yield lambda: Measured(ns)

    return Scenario(f"fixed{ns}", setup, iterations=10, warmup=2, budget_s=1.0)


def test_measure_uses_self_measured_durations_and_computes_stats() -> None:
    result = harness.measure(fixed(2_000_000), BenchContext())
    assert result.status == "ok"
    assert result.n == 10
    assert result.p50_ns == result.p95_ns == result.p99_ns == 2_000_000
    assert result.ops_per_s == pytest.approx(500.0)


def test_setup_runs_once_and_teardown_runs_after_the_loop() -> None:
    events: list[str] = []

    def setup(ctx: BenchContext) -> Generator[Operation, None, None]:
        events.append("setup")
        try:
            yield lambda: events.append("op")
        finally:
            events.append("teardown")

    result = harness.measure(Scenario("s", setup, iterations=5, warmup=3), BenchContext())
    assert result.n == 5
    assert events == ["setup"] + ["op"] * 8 + ["teardown"]


def test_quick_divides_iterations_but_keeps_a_minimum() -> None:
    sc = Scenario("q", fixed(1).setup, iterations=20, warmup=0)
    assert harness.measure(sc, BenchContext(quick=True)).n == harness.MIN_SAMPLES


def test_skips_and_errors_become_rows_not_crashes() -> None:
    def skips(ctx: BenchContext) -> Generator[Operation, None, None]:
        ctx.require("firestore")
        yield lambda: None

    def breaks(ctx: BenchContext) -> Generator[Operation, None, None]:
        def op() -> None:
            raise RuntimeError("boom")

        yield op

    ctx = BenchContext(missing={"firestore": "emulator not installed"})
    skipped = harness.measure(Scenario("a", skips), ctx)
    assert (skipped.status, skipped.detail) == ("skipped", "firestore: emulator not installed")
    errored = harness.measure(Scenario("b", breaks), ctx)
    assert (errored.status, errored.detail) == ("error", "RuntimeError: boom")


def test_require_skips_when_the_services_variable_is_unset() -> None:
    with pytest.raises(ScenarioSkipped, match="REDIS_URL"):
        BenchContext(env={}).require("redis")


def test_run_computes_ratio_to_the_baseline_and_applies_the_target() -> None:
    base = fixed(1_000)
    fast = Scenario("fast", fixed(1_500).setup, baseline=base.name, target=Target(max_ratio=2.0), iterations=5)
    slow = Scenario("slow", fixed(3_000).setup, baseline=base.name, target=Target(max_ratio=2.0), iterations=5)
    results = {r.name: r for r in harness.run([base, fast, slow], BenchContext())}
    assert results["fast"].ratio == pytest.approx(1.5)
    assert results["fast"].passed is True
    assert results["slow"].ratio == pytest.approx(3.0)
    assert results["slow"].passed is False


def test_target_on_p95_and_unknown_ratio() -> None:
    assert Target(p95_ms=1.0).met(999_999, None) is True
    assert Target(p95_ms=1.0).met(1_000_001, None) is False
    assert Target(max_ratio=1.0).met(1, None) is None
    assert Target(max_ratio=1.5, p95_ms=2).describe() == "<=1.5x p95<=2ms"
    assert Target(p50_ms=2.0).met(9e9, None, p50_ns=1_999_999) is True
    assert Target(p50_ms=2.0).met(0, None, p50_ns=2_000_001) is False
    assert Target(p50_ms=2.0).describe() == "p50<=2ms"


def test_select_by_prefix_pulls_in_baselines_first(monkeypatch: pytest.MonkeyPatch) -> None:
    noop = fixed(1).setup
    registry = {
        "baseline.raw": Scenario("baseline.raw", noop),
        "cold.all": Scenario("cold.all", noop),
        "pay.a": Scenario("pay.a", noop, baseline="baseline.raw"),
        "cold.fn": Scenario("cold.fn", noop, baseline="cold.all"),
        "pay.b": Scenario("pay.b", noop, baseline="cold.all"),
    }
    monkeypatch.setattr(harness, "REGISTRY", registry)
    assert [s.name for s in harness.select(registry, "pay.")] == ["baseline.raw", "cold.all", "pay.a", "pay.b"]
    assert [s.name for s in harness.select(registry, "cold.fn")] == ["cold.all", "cold.fn"]
    assert harness.select(registry, "nothing") == []


def test_durations_are_microseconds_when_tiny_and_milliseconds_otherwise() -> None:
    assert harness.fmt_duration(95_782) == "95.782 us"
    assert harness.fmt_duration(2_155_000) == "2.155 ms"


def test_table_and_results_file(tmp_path: Path) -> None:
    results = [
        Result("baseline.x", "ok", n=10, p50_ns=1e3, p95_ns=2e3, p99_ns=3e3, mean_ns=1e3, ops_per_s=1e6),
        Result(
            "y",
            "ok",
            n=10,
            p50_ns=2e6,
            p95_ns=2e6,
            p99_ns=2e6,
            mean_ns=2e6,
            ops_per_s=500,
            ratio=2.0,
            baseline="baseline.x",
            target="<=3x",
            passed=True,
        ),
        Result("z", "skipped", target="<=1x", detail="lib/http does not exist yet"),
    ]
    table = harness.render_table(results).splitlines()
    assert [c.strip() for c in table[0].split("|")] == [
        "scenario",
        "n",
        "p50",
        "p95",
        "p99",
        "ops/s",
        "ratio",
        "target",
        "result",
    ]
    assert [c.strip() for c in table[3].split("|")] == [
        "y",
        "10",
        "2.000 ms",
        "2.000 ms",
        "2.000 ms",
        "500",
        "2.00x",
        "<=3x",
        "pass",
    ]
    assert table[4].split("|")[-1].strip() == "skipped"
    assert "  z: lib/http does not exist yet" in table
    path = tmp_path / "results.json"
    harness.write_results(results, path, quick=True)
    payload = json.loads(path.read_text())
    assert payload["quick"] is True
    assert [r["name"] for r in payload["results"]] == ["baseline.x", "y", "z"]
