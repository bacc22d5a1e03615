"""The published contract, fuzzed: schemathesis against the local suite, signed in.

schemathesis runs from its own pinned environment (``tools/fuzz/schemathesis.lock``,
built by ``make test`` under ``.venv/fuzz``, as checkov's is), over HTTP against
the dev server's app on a free port, with a fresh user's dev token.  It
generates requests from ``docs/openapi.json`` (at most 30 examples per
operation and phase) and checks every answer: never a 5xx, only documented
status codes and content types, bodies matching their schemas.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.local.services import ServiceSet
from lib.config import Settings
from tests.e2e.served import served_suite

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]
SCHEMATHESIS = REPO / ".venv" / "fuzz" / "bin" / "schemathesis"
OPENAPI = REPO / "docs" / "openapi.json"
EXAMPLES_PER_OPERATION = 30
# negative_data_rejection: a request breaking its schema (a misspelt field, a bad query value) must be refused.
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    )
)
# The whole run: well under the three minutes the layer may take.
RUN_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def served(services: ServiceSet, settings: Settings) -> Iterator[str]:
    if not SCHEMATHESIS.exists():
        if os.environ.get("REQUIRE_EMULATORS") == "1":
            pytest.fail(f"{SCHEMATHESIS} is missing: `make test` builds it from tools/fuzz/schemathesis.lock")
        pytest.skip("schemathesis' environment is not built (`make test` builds it)")
    with served_suite(services, settings) as served:
        yield served.base


def test_every_operation_answers_as_documented(served: str, tmp_path: Path) -> None:
    token = httpx.post(f"{served}/_dev/token", json={"email": f"fuzz-{uuid.uuid4().hex[:8]}@example.com"}).json()
    junit = tmp_path / "schemathesis.xml"
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            str(OPENAPI),
            "--url",
            served,
            "--header",
            f"Authorization: Bearer {token['access_token']}",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--checks",
            CHECKS,
            "--seed",
            "20261205",
            "--no-shrink",
            "--suppress-health-check",
            "all",
            "--report",
            "junit",
            "--report-junit-path",
            str(junit),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=tmp_path,  # its cache and reports stay out of the checkout
        check=False,
    )
    summary = run.stdout[run.stdout.find("SUMMARY") :] if "SUMMARY" in run.stdout else run.stdout[-3000:]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    cases = ET.parse(junit).getroot().iter("testcase")
    operations = {name for case in cases if (name := case.get("name") or "") != "Stateful tests"}
    paths = json.loads(OPENAPI.read_text())["paths"].values()
    documented = sum(1 for item in paths for method in item if method != "parameters")
    assert len(operations) == documented, (len(operations), sorted(operations))
    counted = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert counted is not None, summary
    assert int(counted.group(1)) == int(counted.group(2)) >= documented * EXAMPLES_PER_OPERATION, summary
