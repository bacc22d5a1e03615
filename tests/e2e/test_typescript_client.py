"""The TypeScript client (clients/typescript) against the whole local suite, and its types in sync.

The dev server's app runs on a free port (tasks through the local dispatcher,
PhonePe through the simulator); node's test runner then runs the client's unit
tests (a fake fetch) and its journey (sign in, pay, poll, the 23 steps,
finalize, manifest, rebuild, export) with the suite's base URL in the
environment.  ``npm ci`` runs when node_modules is missing or was installed
from another package-lock.json; ``tsc`` builds before every run.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.local.services import ServiceSet
from lib.config import Settings
from lib.domain.bcm.records import OPEN_JOB_STATUSES
from lib.services.bcm.reads import STALE_AFTER_S
from tests.conftest import needs
from tests.e2e.served import served_suite

REPO = Path(__file__).resolve().parents[2]
CLIENT = REPO / "clients" / "typescript"
LOCK = CLIENT / "package-lock.json"
# Written by `make` and by this module after `npm ci`: the sha256 of the lockfile installed.
INSTALLED = CLIENT / "node_modules" / ".installed"
STEPS_FIXTURE = REPO / "tests" / "unit" / "fixtures" / "steps_complete.json"
README = REPO / "README.md"
# What the README's example uses without defining: the page's Supabase client, an AbortController, a view.
EXAMPLE_AMBIENT = """
declare const supabase: { auth: { getSession(): Promise<{ data: { session: { access_token: string } | null } }> } };
declare const controller: AbortController;
declare function show(version: string, freshness: "fresh" | "stale" | "rebuilding"): void;
"""
NPM_CI_TIMEOUT_S = 240
BUILD_TIMEOUT_S = 120
NODE_TEST_TIMEOUT_S = 180
# node's spec reporter closes with these counters.
SUMMARY = re.compile(r"^\S* ?(tests|pass|fail|cancelled|skipped|todo) (\d+)$", re.MULTILINE)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed: the TypeScript client needs Node.js 20 and npm"
        if os.environ.get("REQUIRE_EMULATORS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _lock_hash() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def _run(args: list[str], timeout: int, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=CLIENT, capture_output=True, text=True, timeout=timeout, env=env, check=False)


@pytest.fixture(scope="module")
def built() -> Path:
    """node_modules from the lockfile (npm ci when missing or stale), then tsc; the node binary."""
    npm = _tool("npm")
    node = _tool("node")
    if not INSTALLED.exists() or INSTALLED.read_text().strip() != _lock_hash():
        ci = _run([npm, "ci", "--no-audit", "--no-fund"], NPM_CI_TIMEOUT_S)
        assert ci.returncode == 0, ci.stdout[-3000:] + ci.stderr[-3000:]
        INSTALLED.write_text(_lock_hash() + "\n")
    tsc = _run([node, "node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], BUILD_TIMEOUT_S)
    assert tsc.returncode == 0, tsc.stdout[-6000:] + tsc.stderr[-2000:]
    return Path(node)


@pytest.fixture(scope="module")
def served(services: ServiceSet, settings: Settings) -> Iterator[str]:
    needs(services, "firestore")
    with served_suite(services, settings) as served:
        yield served.base


def _node_tests(node: Path, folder: str, env: dict[str, str]) -> dict[str, int]:
    run = _run(
        [str(node), "--test", "--test-reporter=spec", f"dist/test/{folder}/"],
        NODE_TEST_TIMEOUT_S,
        env={**os.environ, **env, "NO_COLOR": "1", "FORCE_COLOR": "0"},
    )
    output = run.stdout + run.stderr
    print(output)  # shown by pytest on failure (and with -s)
    counts = {name: int(n) for name, n in SUMMARY.findall(output)}
    assert run.returncode == 0, output[-8000:]
    # A failure, a cancellation, a skip or a todo is not a pass.
    for outcome in ("fail", "cancelled", "skipped", "todo"):
        assert counts.get(outcome) == 0, counts
    assert counts.get("pass", 0) == counts.get("tests", -1) > 0, counts
    return counts


@pytest.mark.timeout(NPM_CI_TIMEOUT_S + BUILD_TIMEOUT_S + NODE_TEST_TIMEOUT_S)
def test_unit_tests_pass(built: Path) -> None:
    counts = _node_tests(built, "unit", {})
    assert counts["pass"] >= 40, counts


@pytest.mark.services
@pytest.mark.timeout(NPM_CI_TIMEOUT_S + BUILD_TIMEOUT_S + NODE_TEST_TIMEOUT_S)
def test_journey_against_the_local_suite(built: Path, served: str) -> None:
    env = {
        "BCM_BASE_URL": served,
        "BCM_STEPS_FIXTURE": str(STEPS_FIXTURE),
        "BCM_SERVER_STALE_AFTER_S": str(STALE_AFTER_S),
        "BCM_SERVER_OPEN_JOB_STATUSES": json.dumps(sorted(OPEN_JOB_STATUSES)),
    }
    counts = _node_tests(built, "journey", env)
    assert counts["pass"] >= 7, counts


@pytest.mark.timeout(NPM_CI_TIMEOUT_S + BUILD_TIMEOUT_S)
def test_generated_types_match_the_spec(built: Path, tmp_path: Path) -> None:
    """src/schema.ts is what openapi-typescript makes of docs/openapi.json today (`npm run generate`)."""
    fresh = tmp_path / "schema.ts"
    run = _run([str(built), "scripts/generate.mjs", str(fresh)], BUILD_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-3000:]
    assert fresh.stat().st_size > 0
    committed = CLIENT / "src" / "schema.ts"
    assert filecmp.cmp(fresh, committed, shallow=False), (
        "clients/typescript/src/schema.ts is stale: run `npm run generate` in clients/typescript"
    )


@pytest.mark.timeout(BUILD_TIMEOUT_S * 2)
def test_readme_example_compiles(built: Path, tmp_path: Path) -> None:
    """The README's ten-line example type-checks against the client as it is (strict tsc, no emit)."""
    section = README.read_text(encoding="utf-8").split("## For frontend developers", 1)[1]
    found = re.search(r"```ts\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's frontend section has no ```ts example"
    example = found.group(1)
    assert "@bcm/client" in example
    assert len(example.strip().splitlines()) <= 12
    source = tmp_path / "example.mts"  # .mts: an ES module, so top-level await is allowed
    source.write_text(EXAMPLE_AMBIENT + example.replace("@bcm/client", str(CLIENT / "src" / "index.js")))
    options = ["--noEmit", "--strict", "--noUnusedLocals", "--skipLibCheck"]
    options += ["--target", "ES2022", "--lib", "ES2022,DOM", "--module", "NodeNext", "--moduleResolution", "NodeNext"]
    options += ["--types", "node", "--typeRoots", str(CLIENT / "node_modules" / "@types")]
    tsc = _run([str(built), "node_modules/typescript/bin/tsc", *options, str(source)], BUILD_TIMEOUT_S)
    assert tsc.returncode == 0, tsc.stdout[-4000:] + tsc.stderr[-2000:]
