"""``python -m bench`` end to end on one real baseline, against the session's local services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main
from devtools.local.services import ServiceSet


@pytest.mark.services
def test_quick_run_of_the_redis_baseline_prints_the_table_and_writes_results(
    services: ServiceSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.json"
    assert main(["--quick", "--only", "baseline.redis_get", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("baseline.redis_get"))
    cells = [c.strip() for c in row.split("|")]
    assert int(cells[1]) >= 3
    assert cells[2].endswith((" us", " ms"))
    payload = json.loads(results.read_text())
    (only,) = payload["results"]
    assert only["name"] == "baseline.redis_get"
    assert only["status"] == "ok"
    assert 0 < only["p50_ns"] <= only["p95_ns"] <= only["p99_ns"]
