"""Stage each function for deploy: ``build/<name>/`` and ``build/<name>.zip``, and report their sizes.

A Cloud Function's source is one folder: its ``main.py``, the shared ``lib/``
package copied beside it (there is no private index to install it from), its
pinned ``requirements.txt`` and ``build_info.json`` (the function's name and a
SHA-256 over every other staged file, which ``GET /healthz`` reports as the
deployed version).  What never ships, because nothing deployed runs it:

- ``devtools/`` (the local suite, the migration runner, check-env and the CLI)
  is a sibling package of ``lib`` and is never copied; staged code importing it
  fails the build;
- ``lib/testing`` (the fakes for unit tests), the one part of ``lib`` left out;
- package data for a dependency the function does not install: the 1.7 MB
  cl100k encoding goes only to functions whose requirements.txt has tiktoken;
- build litter (``__pycache__``, ``*.pyc``, tool caches).

A staged folder whose code imports a ``lib`` module that was left out fails
the build (``tools/staged_imports.py``), so an exclusion cannot break a deploy.
The zip is deterministic (sorted entries, fixed timestamps and modes), so an
unchanged function produces the same bytes and Terraform, which names the
uploaded object by its hash, does not redeploy it.  The table on stdout gives
each zip's file count and size, and the total.

    python tools/stage.py                 # every function
    python tools/stage.py context finalize
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lib.http.health import BUILD_INFO_FILE as BUILD_INFO
from tools.functions import REPO, function_names
from tools.requirements import read_lock
from tools.staged_imports import missing_lib_imports

# The one part of lib/ never deployed: the fakes for unit tests (shipped code never imports them).
EXCLUDED_PACKAGES = ("testing",)
# lib/ folders of data read only through a distribution: shipped only where requirements.txt has it.
DATA_NEEDS = {"domain/bcm/data": "tiktoken"}
# Build litter that must not reach the zip.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")
# The earliest timestamp a zip entry can hold: every entry gets it, so bytes depend on content only.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Regular file, rw-r--r--, in the zip's external attributes.
ZIP_FILE_MODE = 0o100644 << 16
KIB = 1024


class StageError(RuntimeError):
    """A function cannot be staged (missing main.py or requirements.txt, or a lib import left out)."""


@dataclass(frozen=True)
class Staged:
    """One staged function: its zip and what the size table shows."""

    name: str
    archive: Path
    files: int
    size: int


def _lib_filter(lib_root: Path, installed: set[str]) -> Callable[[str, list[str]], set[str]]:
    """copytree's ``ignore``: build litter everywhere, the excluded parts and unneeded data of lib."""
    skipped_data = {lib_root / rel for rel, dist in DATA_NEEDS.items() if dist not in installed}

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory)
        ignored = set(IGNORED(directory, names))
        if here == lib_root:
            ignored |= {n for n in names if n in EXCLUDED_PACKAGES}
        ignored |= {n for n in names if here / n in skipped_data}
        return ignored

    return ignore


def source_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and content hash (sorted): the source's identity."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def deterministic_zip(source: Path, target: Path) -> int:
    """Zip ``source``'s files (relative paths, sorted) with fixed metadata; returns the file count."""
    files = sorted(p for p in source.rglob("*") if p.is_file())
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=ZIP_EPOCH)
            info.external_attr = ZIP_FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(target)
    return len(files)


def stage(name: str, *, repo: Path = REPO, out: Path | None = None) -> Staged:
    """Build ``<out>/<name>/`` and ``<out>/<name>.zip``; refuses a folder missing a lib module it imports."""
    out = out or repo / "build"
    source = repo / "functions" / name
    for required in ("main.py", "requirements.txt"):
        if not (source / required).is_file():
            raise StageError(f"functions/{name}/{required} is missing")
    staged = out / name
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(source, staged, ignore=IGNORED)
    installed = set(read_lock(source / "requirements.txt"))  # canonical names
    shutil.copytree(repo / "lib", staged / "lib", ignore=_lib_filter(repo / "lib", installed))
    missing = missing_lib_imports(staged, repo)
    if missing:
        raise StageError(f"{name}: staged code imports modules that are not staged: {', '.join(missing)}")
    info = {"function": name, "source_sha256": source_digest(staged)}
    (staged / BUILD_INFO).write_text(json.dumps(info, sort_keys=True) + "\n", encoding="utf-8")
    archive = out / f"{name}.zip"
    files = deterministic_zip(staged, archive)
    return Staged(name, archive, files, archive.stat().st_size)


def stage_function(name: str, *, repo: Path = REPO, out: Path | None = None) -> Path:
    """Build ``<out>/<name>/`` and ``<out>/<name>.zip``; returns the zip."""
    return stage(name, repo=repo, out=out).archive


def stage_all(names: Iterable[str], *, repo: Path = REPO, out: Path | None = None) -> list[Staged]:
    return [stage(n, repo=repo, out=out) for n in names]


def size_table(staged: list[Staged]) -> str:
    """A plain-text table: function, files, bytes, KiB, with a total row."""
    rows = [(s.name, str(s.files), str(s.size), f"{s.size / KIB:.1f}") for s in staged]
    total_size = sum(s.size for s in staged)
    rows.append(("total", str(sum(s.files for s in staged)), str(total_size), f"{total_size / KIB:.1f}"))
    header = ("function", "files", "bytes", "KiB")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows[:-1]), rule, line(rows[-1])])


def main(argv: list[str] | None = None) -> int:
    known = function_names()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("functions", nargs="*", metavar="FUNCTION", help=f"default: all of {', '.join(known)}")
    parser.add_argument("--out", type=Path, default=REPO / "build")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.functions) - set(known))
    if unknown:
        parser.error(f"unknown function(s): {', '.join(unknown)}")
    try:
        staged = stage_all(args.functions or known, out=args.out)
    except StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    where = args.out.relative_to(REPO) if args.out.is_absolute() and args.out.is_relative_to(REPO) else args.out
    print(f"staged {len(staged)} function(s) in {where}/ (<name>/ and <name>.zip)\n")
    print(size_table(staged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
