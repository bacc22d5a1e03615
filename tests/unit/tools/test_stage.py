"""tools/stage.py: a function folder with only what runs in the cloud, a reproducible zip and a size table."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from tools.requirements import read_lock
from tools.stage import (
    DATA_NEEDS,
    EXCLUDED_PACKAGES,
    StageError,
    main,
    source_digest,
    stage,
    stage_function,
)
from tools.staged_imports import lib_imports, missing_lib_imports

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    files = {
        "functions/fn/main.py": "from lib import config\ndef main(request): return 'ok'\n",
        "functions/fn/requirements.txt": "# generated\nflask==3.1.3\n",
        "functions/tok/main.py": "def main(request): return 'ok'\n",
        "functions/tok/requirements.txt": "Flask==3.1.3\ntiktoken==0.12.0\n",
        "functions/fn/__pycache__/main.cpython-311.pyc": "junk",
        "lib/__init__.py": "",
        "devtools/__main__.py": "from devtools.db.migrate import migrate\n",
        "devtools/checkenv.py": "CHECK = True\n",
        "lib/config.py": "X = 1\n",
        "lib/http/__init__.py": "",
        "devtools/local/services.py": "LOCAL = True\n",
        "lib/testing/fakes.py": "FAKE = True\n",
        "devtools/db/migrate.py": "def migrate(): ...\n",
        "lib/__pycache__/config.cpython-311.pyc": "junk",
        "lib/domain/testing_helpers.py": "KEEP = True\n",
        "lib/domain/bcm/tokens.py": "import tiktoken\n",
        "lib/domain/bcm/data/enc.tiktoken": "QUFB 0\n",
        "lib/prompts/frame.md": "Answer in JSON.\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def staged_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_stage_copies_main_lib_and_requirements_without_what_never_runs(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    archive = stage_function("fn", repo=repo, out=out)
    assert archive == out / "fn.zip"
    staged = staged_files(out / "fn")
    assert staged == {
        "main.py",
        "requirements.txt",
        "build_info.json",
        "lib/__init__.py",
        "lib/config.py",
        "lib/http/__init__.py",
        "lib/domain/testing_helpers.py",
        "lib/domain/bcm/tokens.py",
        "lib/prompts/frame.md",
    }
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert names == sorted(staged)
        assert zf.read("main.py") == (repo / "functions/fn/main.py").read_bytes()
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_lib_ships_whole_but_its_test_fakes() -> None:
    assert set(EXCLUDED_PACKAGES) == {"testing"}


def test_data_for_a_dependency_ships_only_where_requirements_have_it(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    stage("fn", repo=repo, out=out)
    stage("tok", repo=repo, out=out)
    assert "lib/domain/bcm/data/enc.tiktoken" not in staged_files(out / "fn")
    assert "lib/domain/bcm/data/enc.tiktoken" in staged_files(out / "tok")


def test_requirement_names_are_canonical_and_skip_comments(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("# header\n\nFlask==3.1.3\ntyping_extensions==4.12.2\nPyJWT[crypto]==2.10.1\n")
    assert set(read_lock(req)) == {"flask", "typing-extensions", "pyjwt"}


def test_build_info_names_the_function_and_hashes_every_other_file(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    stage("fn", repo=repo, out=out)
    info = json.loads((out / "fn/build_info.json").read_text())
    (out / "fn/build_info.json").unlink()
    assert info == {"function": "fn", "source_sha256": source_digest(out / "fn")}


def test_source_digest_covers_paths_and_contents(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.py").write_text("1")
    first = source_digest(tmp_path)
    (tmp_path / "a/x.py").rename(tmp_path / "a/y.py")
    renamed = source_digest(tmp_path)
    (tmp_path / "a/y.py").write_text("2")
    assert len({first, renamed, source_digest(tmp_path)}) == 3


def test_the_zip_is_byte_identical_across_builds_and_mtimes(repo: Path, tmp_path: Path) -> None:
    first = stage_function("fn", repo=repo, out=tmp_path / "a").read_bytes()
    os.utime(repo / "lib/config.py", (1_700_000_000, 1_700_000_000))
    second = stage_function("fn", repo=repo, out=tmp_path / "b").read_bytes()
    assert first == second
    (repo / "lib/config.py").write_text("X = 2\n")
    assert stage_function("fn", repo=repo, out=tmp_path / "c").read_bytes() != first


def test_restaging_removes_files_deleted_from_the_source(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    stage_function("fn", repo=repo, out=out)
    (repo / "lib/http/__init__.py").unlink()
    stage_function("fn", repo=repo, out=out)
    assert not (out / "fn/lib/http/__init__.py").exists()


def test_a_function_without_main_py_is_refused(repo: Path, tmp_path: Path) -> None:
    (repo / "functions/fn/main.py").unlink()
    with pytest.raises(StageError, match=r"functions/fn/main\.py"):
        stage_function("fn", repo=repo, out=tmp_path / "build")


@pytest.mark.parametrize(
    "code",
    [
        "from devtools.db.migrate import migrate\n",
        "from devtools import checkenv\n",
        "import lib.testing.fakes\n",
        "def later():\n    from devtools.db import migrate\n",
        "def local_mode():\n    from devtools.local.services import LOCAL\n",
        "import tools.stage\n",
    ],
)
def test_staged_code_importing_a_left_out_module_fails_the_build(repo: Path, tmp_path: Path, code: str) -> None:
    (repo / "lib/http/uses.py").write_text(code)
    with pytest.raises(StageError, match=r"lib/http/uses\.py: (devtools|lib\.testing|tools)"):
        stage("fn", repo=repo, out=tmp_path / "build")


@pytest.mark.parametrize(
    "code",
    [
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lib.testing.fakes import FAKE\n",
        "from lib.config import X\nfrom lib import http\n",
        "def later():\n    from lib.config import X\n",
    ],
)
def test_type_checking_lazy_staged_and_attribute_imports_pass(repo: Path, tmp_path: Path, code: str) -> None:
    (repo / "lib/http/uses.py").write_text(code)
    stage("fn", repo=repo, out=tmp_path / "build")
    assert (tmp_path / "build/fn/lib/http/uses.py").is_file()


def test_relative_imports_are_resolved_against_the_package() -> None:
    imports = lib_imports("from ..db import migrate\nfrom . import x\n", "lib.http")
    assert [(i.module, i.names) for i in imports] == [("lib.db", ("migrate",)), ("lib.http", ("x",))]


def test_every_real_function_stages_with_its_lib_imports_present(tmp_path: Path) -> None:
    staged = [stage(name, out=tmp_path) for name in sorted(p.parent.name for p in REPO.glob("functions/*/main.py"))]
    assert len(staged) >= 10
    for item in staged:
        folder = tmp_path / item.name
        assert missing_lib_imports(folder, REPO) == []
        files = staged_files(folder)
        assert not {f for f in files if f.startswith(("devtools/", "lib/testing/", "tools/", "tests/"))}
        assert "lib/domain/bcm/data/cl100k_base.tiktoken" in files or "tiktoken" not in (
            (REPO / "functions" / item.name / "requirements.txt").read_text()
        )


def test_main_prints_a_size_table_with_a_total(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["payment_webhook", "context", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.split() and line.split()[0] != "staged"}
    sizes = {name: (tmp_path / f"{name}.zip").stat().st_size for name in ("payment_webhook", "context")}
    for name, size in sizes.items():
        with zipfile.ZipFile(tmp_path / f"{name}.zip") as zf:
            assert rows[name] == [str(len(zf.namelist())), str(size), f"{size / 1024:.1f}"]
    assert rows["total"][1] == str(sum(sizes.values()))
    assert rows["function"] == ["files", "bytes", "KiB"]


def test_main_refuses_unknown_functions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["no_such_function"])
    assert "unknown function" in capsys.readouterr().err


def test_the_data_rule_points_at_the_folder_tokens_py_reads() -> None:
    """The rule keys on a path: if the encoding file moves, the rule must move with it."""
    from lib.domain.bcm import tokens

    assert {(REPO / "lib" / rel, dist) for rel, dist in DATA_NEEDS.items()} == {
        (tokens.ENCODING_PATH.parent, "tiktoken")
    }
