"""Each deployed function can build what it serves from its own requirements.txt alone.

The venv has every package, so an import a function needs but its generated
requirements.txt lacks would only fail in the cloud.  Here each function runs
in a fresh interpreter whose imports of any installed distribution NOT in its
requirements.txt are refused; it imports its main.py and builds the container
properties its handlers use (as the first request would, in cloud mode:
adapters are built without connecting), then imports the vendor client each
built adapter creates on first use.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.requirements import function_names

REPO = Path(__file__).resolve().parents[2]
# The container properties a handler reaches: `container.<prop>` / `container().<prop>` in main.py.
CONTAINER_PROP = re.compile(r"container(?:\(\))?\.([a-z_]+)")

PROBE = r"""
import importlib, importlib.metadata as md, importlib.util, json, re, sys
from pathlib import Path

spec = json.loads(sys.argv[1])
allowed = {re.sub(r"[-_.]+", "-", n).lower() for n in spec["allowed"]}
owner = {}  # dotted module -> distribution, from every installed distribution's files
for dist in md.distributions():
    name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    for f in dist.files or []:
        parts = f.parts
        if not parts or parts[0].endswith((".dist-info", ".data")) or ".." in parts:
            continue
        if f.suffix == ".py":
            mod = ".".join(parts[:-1] if f.stem == "__init__" else (*parts[:-1], f.stem))
        elif f.suffix in (".so", ".pyd"):
            mod = ".".join((*parts[:-1], f.name.split(".")[0]))
        else:
            continue
        if mod:
            owner.setdefault(mod, name)

class Refuse:
    def find_spec(self, fullname, path=None, target=None):
        dist = owner.get(fullname)
        if dist is not None and dist not in allowed:
            raise ImportError(f"{fullname} comes from {dist}, which is not in requirements.txt")
        return None

sys.meta_path.insert(0, Refuse())
source = Path(spec["main"])
module_spec = importlib.util.spec_from_file_location("function_under_test", source)
module = importlib.util.module_from_spec(module_spec)
module_spec.loader.exec_module(module)

from lib.bootstrap import Container
from lib.config import Settings

container = Container(Settings(app_env="test", tasks_mode="cloud"))
for prop in spec["props"]:
    getattr(container, prop)
# Adapters build their vendor client on first use: import what each built adapter will need then.
on_first_use = {"tasks": "google.cloud.tasks_v2", "documents": "google.cloud.firestore",
                "blobs": "google.cloud.storage", "llm": "google.genai"}
for prop, module_name in on_first_use.items():
    if prop in container.__dict__:
        importlib.import_module(module_name)
print("ok")
"""


def _requirements(name: str) -> list[str]:
    lines = (REPO / "functions" / name / "requirements.txt").read_text().splitlines()
    return [re.split(r"[=<>\[; ]", ln.strip(), maxsplit=1)[0] for ln in lines if ln.strip() and not ln.startswith("#")]


def test_every_function_uses_the_container() -> None:
    for name in function_names():
        main = (REPO / "functions" / name / "main.py").read_text()
        assert CONTAINER_PROP.search(main), f"{name}: no container property found; update this test's pattern"


@pytest.mark.parametrize("name", function_names())
def test_function_builds_from_its_own_requirements(name: str) -> None:
    main = REPO / "functions" / name / "main.py"
    props = sorted(set(CONTAINER_PROP.findall(main.read_text())))
    spec = {"allowed": [*_requirements(name), "bcm-backend"], "main": str(main), "props": props}
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
