"""Each deployed function can build what it serves from its own requirements.txt alone.

The venv has every package, so an import a function needs but its generated
requirements.txt lacks would only fail in the cloud.  Here each function runs
in a fresh interpreter whose imports of any installed distribution NOT in its
requirements.txt are refused (``tests.isolation``); it imports its main.py and runs the wiring
factory its router names (``wiring=bootstrap.<factory>``), as the first request would, in cloud mode:
adapters are built without connecting; then it imports the vendor client each
built adapter creates on first use.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.isolation import REFUSE_FINDER
from tools.functions import function_names
from tools.requirements import read_lock

REPO = Path(__file__).resolve().parents[2]
# The composition root's wiring factory a function's router runs: `wiring=bootstrap.<factory>` in main.py.
WIRING = re.compile(r"wiring=bootstrap\.([a-z_]+)\b")

PROBE = (
    REFUSE_FINDER
    + r"""
import importlib, importlib.util, json, sys
from pathlib import Path

spec = json.loads(sys.argv[1])
install_refusal(spec["allowed"])
source = Path(spec["main"])
module_spec = importlib.util.spec_from_file_location("function_under_test", source)
module = importlib.util.module_from_spec(module_spec)
module_spec.loader.exec_module(module)

from lib import bootstrap
from lib.config import Settings

container = bootstrap.Container(Settings(app_env="test", tasks_mode="cloud"))
bootstrap.install(container)
getattr(bootstrap, spec["wiring"])()
# Adapters build their vendor client on first use: import what each built adapter will need then.
on_first_use = {"tasks": "google.cloud.tasks_v2", "documents": "google.cloud.firestore",
                "blobs": "google.cloud.storage", "llm": "google.genai"}
for prop, module_name in on_first_use.items():
    if prop in container.__dict__:
        importlib.import_module(module_name)
print("ok")
"""
)


def _requirements(name: str) -> list[str]:
    return list(read_lock(REPO / "functions" / name / "requirements.txt"))


def test_every_function_is_wired_by_the_composition_root() -> None:
    for name in function_names():
        main = (REPO / "functions" / name / "main.py").read_text()
        assert len(WIRING.findall(main)) == 1, f"{name}: expected one Router(..., wiring=bootstrap.<factory>)"


@pytest.mark.parametrize("name", function_names())
def test_function_builds_from_its_own_requirements(name: str) -> None:
    main = REPO / "functions" / name / "main.py"
    (wiring,) = WIRING.findall(main.read_text())
    spec = {"allowed": [*_requirements(name), "bcm-backend"], "main": str(main), "wiring": wiring}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
