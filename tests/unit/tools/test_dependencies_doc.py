"""tools/dependencies.py: docs/dependencies.md is generated from the lock and cannot drift from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import dependencies as deps
from tools.requirements import LOCK, PYPROJECT, read_lock

# --- a small synthetic project ---------------------------------------------------------------

FAKE_METADATA: dict[str, list[str]] = {
    "app-core": ["shared", 'speedups; extra == "fast"', 'backport; python_version < "3.12"'],
    "web": ["shared"],
    "shared": [],
    "speedups": [],
    "backport": [],
    "tester": ["shared", "plugin"],
    "plugin": [],
}

SYNTHETIC_PYPROJECT = """\
[project]
name = "demo"
dependencies = ["app-core[fast]>=1", "web"]

[project.optional-dependencies]
dev = ["tester>=5"]

[tool.bcm]
common = ["web"]

[tool.bcm.functions]
api = ["app-core[fast]"]
worker = []

[tool.bcm.why]
app-core = "does the work"
web = "serves | requests"
tester = "runs   the tests"
"""

SYNTHETIC_LOCK = """\
app-core==1.0
    # via demo (pyproject.toml)
backport==0.1
    # via app-core
plugin==2.0
    # via tester
shared==3.0
    # via
    #   app-core
    #   tester
    #   web
speedups==4.0
    # via app-core
tester==5.0
    # via demo (pyproject.toml)
web==6.0
    # via demo (pyproject.toml)
"""


def fake_requires(name: str) -> list[str]:
    if name not in FAKE_METADATA:
        raise LookupError(name)
    return FAKE_METADATA[name]


@pytest.fixture
def synthetic(tmp_path: Path) -> tuple[Path, Path]:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(SYNTHETIC_PYPROJECT)
    lock = tmp_path / "requirements.lock"
    lock.write_text(SYNTHETIC_LOCK)
    return pyproject, lock


def test_read_via_handles_one_and_several_parents_and_leaves_out_the_project(synthetic: tuple[Path, Path]) -> None:
    _, lock = synthetic
    assert deps.read_via(lock) == {
        "app-core": [],
        "backport": ["app-core"],
        "plugin": ["tester"],
        "shared": ["app-core", "tester", "web"],
        "speedups": ["app-core"],
        "tester": [],
        "web": [],
    }


def test_rows_for_a_synthetic_lock_say_direct_or_via_and_which_functions_ship_each(
    synthetic: tuple[Path, Path],
) -> None:
    pyproject, lock = synthetic
    deployed, local, functions = deps.build_rows(pyproject=pyproject, lock_path=lock, requires_of=fake_requires)
    assert functions == 2
    assert deployed == [
        deps.Row("app-core[fast]", "1.0", "direct", "api", "does the work"),
        # tester is also a parent in the lock, but it is not deployed, so it is not the reason here.
        deps.Row("shared", "3.0", "transitive", "all", "via app-core, web"),
        deps.Row("speedups", "4.0", "transitive", "api", "via app-core"),
        deps.Row("web", "6.0", "direct", "all", "serves | requests"),
    ]
    assert local == [
        deps.Row(
            "backport",
            "0.1",
            "transitive",
            "",
            "via app-core; not installed on the python312 runtime (marker or unrequested extra)",
        ),
        deps.Row("plugin", "2.0", "transitive", "", "via tester"),
        deps.Row("tester", "5.0", "direct (dev)", "", "runs the tests"),
    ]


def test_rendered_page_is_sorted_escapes_pipes_and_separates_what_is_not_deployed(
    synthetic: tuple[Path, Path],
) -> None:
    pyproject, lock = synthetic
    text = deps.generate(pyproject=pyproject, lock_path=lock, requires_of=fake_requires)
    runtime, _, not_deployed = text.partition("## Not deployed")
    assert "| web | 6.0 | direct | all | serves \\| requests |" in runtime
    assert "tester" not in runtime.split("| package |", 1)[1]
    assert "| tester | 5.0 | direct (dev) | runs the tests |" in not_deployed
    assert "4 packages (2 direct, 2 transitive) across 2 functions." in runtime
    assert deps.COMMAND in text
    assert text == deps.generate(pyproject=pyproject, lock_path=lock, requires_of=fake_requires)


def test_a_direct_dependency_without_a_reason_or_a_stray_reason_fails_the_check(
    synthetic: tuple[Path, Path], tmp_path: Path
) -> None:
    pyproject, lock = synthetic
    doc = tmp_path / "dependencies.md"
    doc.write_text(deps.generate(pyproject=pyproject, lock_path=lock, requires_of=fake_requires))
    assert deps.check(pyproject=pyproject, lock_path=lock, doc=doc, requires_of=fake_requires) == []

    pyproject.write_text(SYNTHETIC_PYPROJECT.replace('web = "serves | requests"\n', 'left-pad = "pads"\n'))
    problems = deps.check(pyproject=pyproject, lock_path=lock, doc=doc, requires_of=fake_requires)
    assert problems == [
        "web (runtime) has no reason in [tool.bcm.why] of pyproject.toml",
        "[tool.bcm.why] names left-pad, which is not a direct dependency",
    ]
    with pytest.raises(deps.DependencyDocError, match=r"web \(runtime\) has no reason"):
        deps.generate(pyproject=pyproject, lock_path=lock, requires_of=fake_requires)


def test_an_empty_reason_counts_as_missing(synthetic: tuple[Path, Path]) -> None:
    pyproject, _ = synthetic
    pyproject.write_text(SYNTHETIC_PYPROJECT.replace('tester = "runs   the tests"', 'tester = "  "'))
    problems = deps.reason_problems(deps.read_direct(pyproject), deps.read_why(pyproject))
    assert problems == ["tester (dev) has no reason in [tool.bcm.why] of pyproject.toml"]


# --- the real repository -------------------------------------------------------------------


def test_the_committed_matrix_is_what_the_lock_produces() -> None:
    assert deps.check() == [], f"run `{deps.COMMAND}`"
    assert deps.main(["--check"]) == 0


def test_every_direct_dependency_has_a_reason_and_every_reason_a_dependency() -> None:
    direct = deps.read_direct(PYPROJECT)
    assert deps.reason_problems(direct, deps.read_why(PYPROJECT)) == []
    assert {"psycopg", "pyjwt", "pytest", "pgserver"} <= set(direct)


def test_the_matrix_runtime_table_is_exactly_the_union_of_the_functions_requirements() -> None:
    runtime = deps.DOC.read_text().split("## Not deployed", 1)[0]
    rows = [line.split(" | ") for line in runtime.splitlines() if line.startswith("| ") and "---" not in line][1:]
    in_doc = {cells[0].removeprefix("| ").split("[", 1)[0]: cells[1] for cells in rows}
    shipped: dict[str, str] = {}
    for fn_req in sorted(PYPROJECT.parent.glob("functions/*/requirements.txt")):
        for line in fn_req.read_text().splitlines():
            if line and not line.startswith("#"):
                name, version = line.split("==")
                shipped[name] = version
    assert len(shipped) > 50
    assert in_doc == shipped
    assert not {"pytest", "pgserver", "mypy", "ruff"} & set(in_doc)


def test_a_changed_pin_in_a_copy_of_the_lock_fails_the_check(tmp_path: Path) -> None:
    pyproject, lock, doc = tmp_path / "pyproject.toml", tmp_path / "requirements.lock", tmp_path / "dependencies.md"
    shutil.copyfile(PYPROJECT, pyproject)
    shutil.copyfile(LOCK, lock)
    shutil.copyfile(deps.DOC, doc)
    assert deps.check(pyproject=pyproject, lock_path=lock, doc=doc) == []

    pinned = read_lock(lock)["flask"].version
    text = lock.read_text()
    assert f"\nflask=={pinned}\n" in text
    lock.write_text(text.replace(f"\nflask=={pinned}\n", f"\nflask=={pinned}.post9\n"))
    problems = deps.check(pyproject=pyproject, lock_path=lock, doc=doc)
    assert len(problems) == 1
    assert "dependencies.md is out of date" in problems[0]
    assert deps.COMMAND in problems[0]
    assert f"| flask | {pinned}.post9 | direct | all |" in deps.generate(pyproject=pyproject, lock_path=lock)


def test_main_check_reports_a_stale_page_and_main_rewrites_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "dependencies.md"
    pinned = read_lock(LOCK)["flask"].version
    doc.write_text(deps.DOC.read_text().replace(f"| flask | {pinned} |", "| flask | 0.0.1 |"))
    assert doc.read_text() != deps.DOC.read_text()
    monkeypatch.setattr(deps, "DOC", doc)
    assert deps.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert deps.main([]) == 0
    assert doc.read_text() == deps.generate()
    assert deps.main(["--check"]) == 0
