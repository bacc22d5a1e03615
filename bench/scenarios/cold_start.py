"""Cold start: what a new function instance pays before and at its first request.

Each sample is a fresh ``python`` process (a new instance) that measures
itself, so interpreter start-up is not counted:

- ``cold.all_deps``: importing every runtime dependency at once, the ceiling
  a function would pay if it imported eagerly;
- ``cold.<function>.import``: importing ``functions/<function>/main.py``
  (compared with ``cold.all_deps``: lazy imports keep it well below);
- ``cold.<function>.first_request``: the first request through
  functions_framework's test client against the local services (lazy clients
  are built here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path

from bench.harness import BenchContext, Measured, Operation, ScenarioSkipped, Target, scenario
from tools.functions import REPO, function_names

# A new process per sample: a handful of samples is what a cold start can afford to measure.
COLD_ITERATIONS = 5
COLD_WARMUP = 1  # fills the OS page cache so the first sample is not an outlier
COLD_BUDGET_S = 60.0
# A child that has not finished by then is stuck, not slow.
CHILD_TIMEOUT_S = 120.0

PAYMENTS = ("initiate_payment", "payment_status", "payment_webhook", "payment_reconcile")
# Payments import neither Firestore nor google-genai: they must stay well under the all-deps import.
PAYMENTS_IMPORT_TARGET = Target(max_ratio=0.75)
# Any function: importing main.py must never cost more than importing every dependency eagerly.
IMPORT_TARGET = Target(max_ratio=1.0)

# Import names of every runtime dependency in pyproject's [project] dependencies.
ALL_RUNTIME_MODULES = (
    "functions_framework",
    "flask",
    "werkzeug",
    "pydantic",
    "pydantic_settings",
    "psycopg",
    "psycopg_pool",
    "redis",
    "limits",
    "jwt",
    "httpx",
    "tenacity",
    "google.auth",
    "google.cloud.firestore",
    "google.cloud.storage",
    "google.cloud.tasks_v2",
    "google.genai",
    "resend",
    "tiktoken",
    "jsonschema",
)

# INTEGRATOR: the request each function's first-request sample sends (method, path). "GET /" reaches
# the router (and its 401/404) without credentials; point it at a cheap authenticated route once the
# functions exist, e.g. with a token from devtools.local's dev auth.
FIRST_REQUEST: dict[str, tuple[str, str]] = {}

_IMPORT_ALL = """
import importlib, sys, time
start = time.perf_counter_ns()
for name in sys.argv[1:]:
    importlib.import_module(name)
print(time.perf_counter_ns() - start)
"""

_IMPORT_MAIN = """
import importlib.util, sys, time
start = time.perf_counter_ns()
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["main"] = module
spec.loader.exec_module(module)
print(time.perf_counter_ns() - start)
"""

_FIRST_REQUEST = """
import json, sys, time
from functions_framework import create_app
source, method, path = sys.argv[1:4]
client = create_app(target="main", source=source).test_client()
start = time.perf_counter_ns()
response = client.open(path, method=method)
print(json.dumps({"ns": time.perf_counter_ns() - start, "status": response.status_code}))
"""


def _child(script: str, *args: str) -> str:
    """Run ``script`` in a fresh interpreter (the bench's env: the local services); its last stdout line."""
    env = {**os.environ, "APP_ENV": os.environ.get("APP_ENV", "local")}
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        cwd=REPO,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"child exited {proc.returncode}: {tail}")
    return proc.stdout.strip().splitlines()[-1]


def _main_py(function: str) -> Path:
    path = REPO / "functions" / function / "main.py"
    if not path.is_file():
        raise ScenarioSkipped(f"functions/{function}/main.py does not exist yet")
    return path


@scenario("cold.all_deps", iterations=COLD_ITERATIONS, warmup=COLD_WARMUP, budget_s=COLD_BUDGET_S)
def all_deps(ctx: BenchContext) -> Generator[Operation, None, None]:
    yield lambda: Measured(int(_child(_IMPORT_ALL, *ALL_RUNTIME_MODULES)))


def _register(function: str) -> None:
    target = PAYMENTS_IMPORT_TARGET if function in PAYMENTS else IMPORT_TARGET

    @scenario(
        f"cold.{function}.import",
        baseline="cold.all_deps",
        target=target,
        iterations=COLD_ITERATIONS,
        warmup=COLD_WARMUP,
        budget_s=COLD_BUDGET_S,
    )
    def import_main(ctx: BenchContext) -> Generator[Operation, None, None]:
        path = str(_main_py(function))
        yield lambda: Measured(int(_child(_IMPORT_MAIN, path)))

    @scenario(
        f"cold.{function}.first_request",
        iterations=COLD_ITERATIONS,
        warmup=COLD_WARMUP,
        budget_s=COLD_BUDGET_S,
    )
    def first_request(ctx: BenchContext) -> Generator[Operation, None, None]:
        path = str(_main_py(function))
        if not (REPO / "lib" / "http" / "__init__.py").exists():
            raise ScenarioSkipped("lib/http does not exist yet")
        ctx.require("postgres", "redis")
        method, url = FIRST_REQUEST.get(function, ("GET", "/"))

        def once() -> Measured:
            outcome = json.loads(_child(_FIRST_REQUEST, path, method, url))
            if outcome["status"] >= 500:
                raise RuntimeError(f"first request answered {outcome['status']}")
            return Measured(int(outcome["ns"]))

        yield once


for _function in function_names():
    _register(_function)
