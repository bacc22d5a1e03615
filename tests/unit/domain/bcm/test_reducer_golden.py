"""Golden manifests: the reducer's exact bytes for three realistic business_context documents.

    tests/golden/small.input.json       a founder who filled in the minimum (one ICP, one channel, one KPI)
    tests/golden/typical.input.json     built from tests/unit/fixtures/steps_complete.json (two ICPs, full answers)
    tests/golden/very_large.input.json  every list near its step limit, long texts (forces compression)

When the reducer's output changes on purpose, regenerate and review the diff:

    python -m lib.domain.bcm --update-golden
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lib.domain.bcm import TOKEN_BUDGET, count_tokens, reduce_context

REPO = Path(__file__).resolve().parents[4]
GOLDEN = REPO / "tests" / "golden"
NAMES = ("small", "typical", "very_large")
HASH_SEEDS = ("0", "1", "12345")


def _input(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"{name}.input.json").read_text(encoding="utf-8"))
    return data


def _golden(name: str) -> bytes:
    return (GOLDEN / f"{name}.manifest.json").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_manifest_is_byte_identical_to_its_golden_file(name: str) -> None:
    reduced = reduce_context(_input(name), source="onboarding")
    assert reduced.canonical == _golden(name), "intended? run: python -m lib.domain.bcm --update-golden"


@pytest.mark.parametrize("name", NAMES)
def test_recorded_token_count_is_the_real_count_and_within_budget(name: str) -> None:
    golden = _golden(name)
    manifest = json.loads(golden)
    real = count_tokens(golden.decode("utf-8"))
    assert manifest["meta"]["token_count"] == real
    assert real <= TOKEN_BUDGET == manifest["meta"]["token_budget"]
    assert manifest["meta"]["tokenizer"] == "cl100k_base"


@pytest.mark.parametrize("name", NAMES)
def test_checksum_recomputed_with_hashlib_matches_and_tampering_breaks_it(name: str) -> None:
    reduced = reduce_context(_input(name), source="onboarding")
    content = copy.deepcopy(reduced.manifest)
    del content["meta"]["source"], content["meta"]["token_count"]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert hashlib.sha256(canonical).hexdigest() == reduced.checksum
    content["foundation"]["company"] += "!"
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert hashlib.sha256(canonical).hexdigest() != reduced.checksum


def test_small_and_typical_need_no_compression_and_very_large_records_its_drops() -> None:
    for name in ("small", "typical"):
        meta = json.loads(_golden(name))["meta"]
        assert (meta["compression"], meta["dropped"]) == ("none", [])
    reduced = reduce_context(_input("very_large"), source="onboarding")
    meta = reduced.manifest["meta"]
    assert meta["compression"] == reduced.compression == "heavy"
    assert meta["dropped"] == list(reduced.dropped)
    assert {"icps[1:]", "messaging.soundbites", "competitive.alternatives[3:]"} <= set(meta["dropped"])
    assert meta["counts"]["alternatives"] == 50
    assert len(reduced.manifest["icps"]) == 1


_SUBPROCESS_SCRIPT = """
import hashlib, json, sys
from lib.domain.bcm import reduce_context
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        print(hashlib.sha256(reduce_context(json.load(f), source="onboarding").canonical).hexdigest())
"""


def test_bytes_are_identical_across_processes_and_hash_seeds() -> None:
    paths = [str(GOLDEN / f"{name}.input.json") for name in NAMES]
    expected = [hashlib.sha256(_golden(name)).hexdigest() for name in NAMES]
    for seed in HASH_SEEDS:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS_SCRIPT, *paths],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert out.stdout.split() == expected, f"PYTHONHASHSEED={seed}"


def test_repeated_runs_in_one_process_give_the_same_bytes() -> None:
    context = _input("typical")
    first = reduce_context(context, source="onboarding").canonical
    assert all(reduce_context(context, source="onboarding").canonical == first for _ in range(5))


def test_update_golden_writes_what_the_tests_expect(tmp_path: Path) -> None:
    from lib.domain.bcm.__main__ import main

    (tmp_path / "small.input.json").write_bytes((GOLDEN / "small.input.json").read_bytes())
    assert main(["--update-golden", "--golden-dir", str(tmp_path)]) == 0
    assert (tmp_path / "small.manifest.json").read_bytes() == _golden("small")


def test_write_schema_writes_the_published_text(tmp_path: Path) -> None:
    from lib.domain.bcm.__main__ import schema_text, write_schema
    from lib.domain.context import SCHEMA_PATH

    target = write_schema(tmp_path / "schemas" / "business_context.v2.schema.json")
    assert target.read_text(encoding="utf-8") == schema_text() == SCHEMA_PATH.read_text(encoding="utf-8")


def test_the_command_needs_something_to_do() -> None:
    from lib.domain.bcm.__main__ import main

    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
