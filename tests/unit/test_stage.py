"""tools/stage.py: a function folder with lib/ (minus the local suite and fakes) and a reproducible zip."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from tools.stage import StageError, stage_function


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    files = {
        "functions/fn/main.py": "def main(request): return 'ok'\n",
        "functions/fn/requirements.txt": "flask==3.1.3\n",
        "functions/fn/__pycache__/main.cpython-311.pyc": "junk",
        "lib/__init__.py": "",
        "lib/config.py": "X = 1\n",
        "lib/http/__init__.py": "",
        "lib/local/services.py": "LOCAL = True\n",
        "lib/testing/fakes.py": "FAKE = True\n",
        "lib/__pycache__/config.cpython-311.pyc": "junk",
        "lib/domain/testing_helpers.py": "KEEP = True\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_stage_copies_main_lib_and_requirements_without_local_or_testing(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    archive = stage_function("fn", repo=repo, out=out)
    assert archive == out / "fn.zip"
    staged = {p.relative_to(out / "fn").as_posix() for p in (out / "fn").rglob("*") if p.is_file()}
    assert staged == {
        "main.py",
        "requirements.txt",
        "lib/__init__.py",
        "lib/config.py",
        "lib/http/__init__.py",
        "lib/domain/testing_helpers.py",
    }
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert names == sorted(staged)
        assert zf.read("main.py") == (repo / "functions/fn/main.py").read_bytes()
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


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
