"""Generate ``docs/dependencies.md``, the dependency matrix, from the lock.

Operations need one page that says, for every package the deployed functions
install, which version, whether we chose it or something we chose pulled it
in, which functions ship it, and why it is there.  Hand-written, such a page
drifts on the first ``make lock``; so it is generated from the same sources
as the per-function requirements files and checked in CI:

- ``requirements.lock``: the pins and the ``# via`` parents (uv-compiled);
- ``pyproject.toml``: direct dependencies (``[project]`` and the ``local`` and
  ``dev`` extras), what each function ships (``[tool.bcm]``, expanded exactly
  as ``tools/requirements.py`` does), and one reason per direct dependency
  (``[tool.bcm.why]``).

    python tools/dependencies.py           # (re)write docs/dependencies.md
    python tools/dependencies.py --check   # exit 1 if stale, or a reason is missing or stray (CI)
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.functions import PYPROJECT, REPO, bcm_table
from tools.requirements import LOCK, Pin, RequiresOf, installed_requires, read_lock, shipped

DOC = REPO / "docs" / "dependencies.md"
COMMAND = ".venv/bin/python tools/dependencies.py"  # what the page tells a reader to run
RUNTIME = "runtime"  # the group of ``[project] dependencies``; the extras keep their own names


class DependencyDocError(RuntimeError):
    """pyproject.toml, the lock and ``[tool.bcm.why]`` disagree; ``problems`` says how, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Direct:
    """A package named in pyproject.toml: as written there (with extras) and in which group."""

    spec: str  # e.g. "psycopg[binary,pool]"
    group: str  # RUNTIME, or the extra's name ("local", "dev")


@dataclass(frozen=True)
class Row:
    """One line of the matrix."""

    name: str  # as spelled in the lock, extras appended for a direct dependency
    version: str
    kind: str  # "direct", "direct (dev)", "transitive"...
    functions: str  # "all", the function names, or "" outside the runtime table
    why: str


def read_via(path: Path = LOCK) -> dict[str, list[str]]:
    """Canonical name -> canonical names of its ``# via`` parents, the project itself left out.

    uv writes one parent as ``# via flask`` and several as ``# via`` followed by
    ``#   name`` lines; the project appears as ``bcm-backend (pyproject.toml)``.
    """
    via: dict[str, list[str]] = {}
    current: str | None = None
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not stripped.startswith("#"):
            line = stripped.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                current = canonicalize_name(line.partition("==")[0].split("[", 1)[0].strip())
                via.setdefault(current, [])
            continue
        if current is None:
            continue
        text = stripped.lstrip("#").strip()
        if text.startswith("via"):
            text = text[len("via") :].strip()
        if text and "(" not in text and not text.startswith("-"):  # "x (pyproject.toml)", "-r f": not packages
            via[current].append(canonicalize_name(text))
    return via


def read_direct(pyproject: Path = PYPROJECT) -> dict[str, Direct]:
    """Canonical name -> how pyproject.toml declares it; a runtime declaration wins over an extra."""
    project = tomllib.loads(pyproject.read_text()).get("project", {})
    groups: list[tuple[str, list[str]]] = [(RUNTIME, list(project.get("dependencies", [])))]
    groups += sorted(project.get("optional-dependencies", {}).items())
    direct: dict[str, Direct] = {}
    for group, specs in groups:
        for spec in specs:
            req = Requirement(spec)
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            direct.setdefault(canonicalize_name(req.name), Direct(f"{req.name}{extras}", group))
    return direct


def read_why(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """``[tool.bcm.why]``: canonical name -> its one-line reason."""
    table = bcm_table(pyproject).get("why", {})
    why: dict[str, str] = {}
    for key, reason in table.items():
        name = canonicalize_name(Requirement(key).name)
        if name in why:
            raise DependencyDocError([f"[tool.bcm.why] names {name} twice"])
        why[name] = " ".join(str(reason).split())
    return why


def reason_problems(direct: Mapping[str, Direct], why: Mapping[str, str]) -> list[str]:
    """Direct dependencies without a reason, and reasons for packages that are not direct dependencies."""
    problems = [
        f"{direct[n].spec} ({direct[n].group}) has no reason in [tool.bcm.why] of pyproject.toml"
        for n in sorted(direct)
        if not why.get(n)
    ]
    problems += [f"[tool.bcm.why] names {n}, which is not a direct dependency" for n in sorted(set(why) - set(direct))]
    return problems


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _via(name: str, parents: list[str], among: set[str], lock: Mapping[str, Pin]) -> str:
    """``via a, b``: the lock's parents, restricted to ``among`` when any of them is there."""
    kept = sorted({p for p in parents if p in among}) or sorted(set(parents))
    if not kept:
        raise DependencyDocError([f"{name}: transitive but the lock names no parent (run `make lock`)"])
    return "via " + ", ".join(lock[p].name if p in lock else p for p in kept)


def build_rows(
    *,
    pyproject: Path = PYPROJECT,
    lock_path: Path = LOCK,
    requires_of: RequiresOf = installed_requires,
) -> tuple[list[Row], list[Row], int]:
    """The runtime rows, the not-deployed rows, and how many functions there are."""
    lock = read_lock(lock_path)
    via = read_via(lock_path)
    direct = read_direct(pyproject)
    why = read_why(pyproject)
    problems = reason_problems(direct, why)
    if problems:
        raise DependencyDocError(problems)
    per_function = shipped(pyproject, requires_of)
    runtime = set().union(*per_function.values())
    missing = sorted((runtime | set(direct)) - set(lock))
    if missing:
        raise DependencyDocError([f"not in requirements.lock: {', '.join(missing)} (run `make lock`)"])

    deployed: list[Row] = []
    for name in sorted(runtime):
        functions = [fn for fn, names in per_function.items() if name in names]
        ships = "all" if len(functions) == len(per_function) else ", ".join(functions)
        dep = direct.get(name)
        if dep is not None and dep.group == RUNTIME:
            deployed.append(Row(dep.spec, lock[name].version, "direct", ships, why[name]))
        else:
            reason = _via(name, via.get(name, []), runtime, lock)
            deployed.append(Row(lock[name].name, lock[name].version, "transitive", ships, reason))

    local: list[Row] = []
    for name in sorted(set(lock) - runtime):
        dep = direct.get(name)
        if dep is not None:
            kind = "direct (not shipped)" if dep.group == RUNTIME else f"direct ({dep.group})"
            local.append(Row(dep.spec, lock[name].version, kind, "", why[name]))
            continue
        reason = _via(name, via.get(name, []), set(lock) - runtime, lock)
        if set(via.get(name, [])) <= runtime:
            reason += "; not installed on the python312 runtime (marker or unrequested extra)"
        local.append(Row(lock[name].name, lock[name].version, "transitive", "", reason))
    return deployed, local, len(per_function)


def render(deployed: list[Row], local: list[Row], functions: int) -> str:
    """The Markdown page; a function of its inputs only (sorted, no dates)."""
    direct = sum(1 for r in deployed if r.kind == "direct")
    lines = [
        "# Dependency matrix",
        "",
        "Generated by `tools/dependencies.py` from `requirements.lock` (pins and `# via` parents) and",
        "`pyproject.toml` (`[project]` dependencies and extras, `[tool.bcm]` per-function packages,",
        "`[tool.bcm.why]` reasons); do not edit. Regenerate with `" + COMMAND + "`;",
        "`" + COMMAND + " --check` (CI) fails when this page is stale or a direct dependency has no reason.",
        "",
        "## Runtime: what the deployed functions install",
        "",
        f"{len(deployed)} packages ({direct} direct, {len(deployed) - direct} transitive)"
        f" across {functions} functions.",
        '"functions" names the functions whose `requirements.txt` pins the package ("all" = every one);',
        '"via" lists the parents that are themselves deployed.',
        "",
        "| package | version | kind | functions | why |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.version} | {r.kind} | {r.functions} | {_cell(r.why)} |" for r in deployed]
    lines += [
        "",
        "## Not deployed: local services and development tools",
        "",
        "Installed by `make dev` from the lock (the `local` and `dev` extras and what they pull in); never in a",
        "function's `requirements.txt`.",
        "",
        "| package | version | kind | why |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.version} | {r.kind} | {_cell(r.why)} |" for r in local]
    return "\n".join(lines) + "\n"


def generate(
    *,
    pyproject: Path = PYPROJECT,
    lock_path: Path = LOCK,
    requires_of: RequiresOf = installed_requires,
) -> str:
    """The expected content of docs/dependencies.md; raises ``DependencyDocError`` on a bad manifest."""
    return render(*build_rows(pyproject=pyproject, lock_path=lock_path, requires_of=requires_of))


def check(
    *,
    pyproject: Path = PYPROJECT,
    lock_path: Path = LOCK,
    doc: Path = DOC,
    requires_of: RequiresOf = installed_requires,
) -> list[str]:
    """What is wrong (empty when the committed page is what the lock produces)."""
    try:
        expected = generate(pyproject=pyproject, lock_path=lock_path, requires_of=requires_of)
    except DependencyDocError as exc:
        return exc.problems
    if not doc.exists() or doc.read_text() != expected:
        return [f"{_shown(doc)} is out of date with requirements.lock and pyproject.toml (run `{COMMAND}`)"]
    return []


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/dependencies.md is stale or a reason is missing"
    )
    args = parser.parse_args(argv)
    doc = DOC  # read at call time, so a test can point it elsewhere
    if args.check:
        problems = check(doc=doc)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1 if problems else 0
    try:
        text = generate()
    except DependencyDocError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    if doc.exists() and doc.read_text() == text:
        print(f"{_shown(doc)} up to date")
        return 0
    doc.write_text(text)
    print(f"wrote {_shown(doc)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
