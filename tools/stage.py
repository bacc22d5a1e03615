"""Stage each function for deploy: ``build/<name>/`` and ``build/<name>.zip``.

A Cloud Function's source is one folder: its ``main.py``, the shared ``lib/``
package copied beside it (there is no private index to install it from) and
its pinned ``requirements.txt``.  ``lib/local`` (the emulator suite) and
``lib/testing`` (fakes) are never deployed.  The zip is deterministic (sorted
entries, fixed timestamps and modes), so an unchanged function produces the
same bytes and Terraform, which names the uploaded object by its hash, does
not redeploy it.

    python tools/stage.py                 # every function
    python tools/stage.py context finalize
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from tools.requirements import REPO, function_names

# Never deployed: the local emulator suite and the unit-test fakes.
EXCLUDED_PACKAGES = ("local", "testing")
# Build litter that must not reach the zip.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")
# The earliest timestamp a zip entry can hold: every entry gets it, so bytes depend on content only.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Regular file, rw-r--r--, in the zip's external attributes.
ZIP_FILE_MODE = 0o100644 << 16


class StageError(RuntimeError):
    """A function cannot be staged (missing main.py or requirements.txt)."""


def _lib_filter(lib_root: Path) -> Callable[[str, list[str]], set[str]]:
    """copytree's ``ignore``: build litter everywhere, the excluded packages at lib's top level."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = set(IGNORED(directory, names))
        if Path(directory) == lib_root:
            ignored |= {n for n in names if n in EXCLUDED_PACKAGES}
        return ignored

    return ignore


def deterministic_zip(source: Path, target: Path) -> None:
    """Zip ``source``'s files (relative paths, sorted) with fixed metadata."""
    files = sorted(p for p in source.rglob("*") if p.is_file())
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=ZIP_EPOCH)
            info.external_attr = ZIP_FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(target)


def stage_function(name: str, *, repo: Path = REPO, out: Path | None = None) -> Path:
    """Build ``<out>/<name>/`` and ``<out>/<name>.zip``; returns the zip."""
    out = out or repo / "build"
    source = repo / "functions" / name
    for required in ("main.py", "requirements.txt"):
        if not (source / required).is_file():
            raise StageError(f"functions/{name}/{required} is missing")
    staged = out / name
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(source, staged, ignore=IGNORED)
    shutil.copytree(repo / "lib", staged / "lib", ignore=_lib_filter(repo / "lib"))
    archive = out / f"{name}.zip"
    deterministic_zip(staged, archive)
    return archive


def stage_all(names: Iterable[str], *, repo: Path = REPO, out: Path | None = None) -> list[Path]:
    return [stage_function(n, repo=repo, out=out) for n in names]


def main(argv: list[str] | None = None) -> int:
    known = function_names()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("functions", nargs="*", metavar="FUNCTION", help=f"default: all of {', '.join(known)}")
    parser.add_argument("--out", type=Path, default=REPO / "build")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.functions) - set(known))
    if unknown:
        parser.error(f"unknown function(s): {', '.join(unknown)}")
    try:
        archives = stage_all(args.functions or known, out=args.out)
    except StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for archive in archives:
        print(f"staged {archive.relative_to(REPO) if archive.is_relative_to(REPO) else archive}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
