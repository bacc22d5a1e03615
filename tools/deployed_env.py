"""Write the environment the deployed functions run with to a dotenv file.

Step 1 of the runbook is ``python -m devtools check-env --env-file .deployed.env``:
it must check what is actually deployed, not what Terraform or a developer's
shell says should be.  This reads it back from Google Cloud with the operator's
``gcloud`` (no Python SDK dependency; the operator already has the CLI and its
login):

    python tools/deployed_env.py --project P --region R [--function NAME ...] [--out .deployed.env]

For every function, ``gcloud functions describe`` gives the plain variables
(``serviceConfig.environmentVariables``) and the Secret Manager references
(``serviceConfig.secretEnvironmentVariables``); each referenced secret version
is read once with ``gcloud secrets versions access``.  The functions' variables
are merged into one file.  A variable with different values in two functions
is an error naming the variable and the functions (never the values), except
the ones Terraform sets per function on purpose (``PER_FUNCTION_VARIABLES``),
which are taken from the first function read; pick one function with
``--function`` to get exactly its environment.

The file holds secrets: it is written with mode 0600, atomically, and must
stay git-ignored.  Values are double-quoted with python-dotenv escapes (``\\``,
``"``, newlines), which ``check-env --env-file`` reads back literally; it is not
meant to be ``source``d by a shell.  Only names and counts are printed.

Exit codes: 0 written; 1 the functions disagree on a variable; 2 gcloud could
not answer (not installed, not logged in, permission denied, not found, timeout).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.functions import function_names

DEFAULT_OUT = Path(".deployed.env")
# Owner read/write only: the file holds the database URL, API keys and webhook credentials.
FILE_MODE = 0o600
# A describe or access normally answers in 1-3 s; a minute covers a token refresh on a slow link.
GCLOUD_TIMEOUT_S = 60.0
# A gcloud error line longer than this is cut: one clear line, the operator can rerun gcloud for the rest.
MAX_ERROR_CHARS = 200
# Set by Terraform to a different value in each function (infra/terraform/functions.tf: the map merged
# after local.common_env; a test keeps the two equal): its signing identity, its own URL as OIDC
# audience, the invokers its internal routes accept, its gunicorn threads and its Postgres pool size.
PER_FUNCTION_VARIABLES = frozenset(
    {"SIGNING_SERVICE_ACCOUNT", "OIDC_AUDIENCE", "OIDC_ALLOWED_EMAILS", "THREADS", "DB_POOL_MAX"}
)
EXIT_CONFLICT = 1
EXIT_GCLOUD = 2

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_PATH = re.compile(r"projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)(?:/versions/(?P<version>[^/]+))?")

# Runs ``gcloud <args>`` and returns its stdout; raises ``GcloudError`` with one clear line.
Gcloud = Callable[[Sequence[str]], str]


class GcloudError(RuntimeError):
    """gcloud could not answer; the message is one line for the operator and holds no secret.

    ``fatal``: every further call would fail the same way (not installed, not
    logged in, no answer), so the tool stops asking instead of repeating it.
    """

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class ConflictError(RuntimeError):
    """The functions disagree on a variable; the message names it and the functions, never a value."""


@dataclass(frozen=True)
class SecretRef:
    project: str
    secret: str
    version: str


@dataclass
class FunctionEnv:
    name: str
    plain: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, SecretRef] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployed:
    values: dict[str, str]
    functions: list[str]
    secret_names: list[str]  # variables that came from Secret Manager
    per_function: dict[str, str]  # per-function variable -> the function its value was taken from


# --- running gcloud -------------------------------------------------------------------------


def _command(args: Sequence[str]) -> str:
    """The command as the operator would type it (names only; gcloud args hold no values)."""
    shown = [a for a in args if a not in ("--quiet", "--format=json")]
    return "gcloud " + " ".join(shown)


_NOT_AUTHENTICATED = ("do not currently have an active account", "gcloud auth login", "reauthentication")


def explain(args: Sequence[str], returncode: int, stderr: str) -> GcloudError:
    """One line saying what went wrong and what to do, from gcloud's stderr."""
    text = stderr.lower()
    if any(marker in text for marker in _NOT_AUTHENTICATED):
        return GcloudError("gcloud is not authenticated: run `gcloud auth login`", fatal=True)
    if "permission_denied" in text or "permission denied" in text or "does not have permission" in text:
        need = "roles/secretmanager.secretAccessor" if args[:1] == ["secrets"] else "roles/cloudfunctions.viewer"
        return GcloudError(f"{_command(args)}: permission denied (the account needs {need})")
    if "not_found" in text or "not found" in text:
        return GcloudError(f"{_command(args)}: not found (check --project, --region and the name)")
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    detail = next((ln for ln in lines if ln.startswith("ERROR")), lines[-1] if lines else "no error output")
    if len(detail) > MAX_ERROR_CHARS:
        detail = detail[: MAX_ERROR_CHARS - 1] + "…"
    return GcloudError(f"{_command(args)}: failed (exit {returncode}): {detail}")


def run_gcloud(args: Sequence[str], timeout_s: float = GCLOUD_TIMEOUT_S) -> str:
    """``gcloud <args> --quiet`` (no prompt can hang the tool), its stdout or a ``GcloudError``."""
    exe = shutil.which("gcloud")
    if exe is None:
        raise GcloudError(
            "gcloud not found on PATH: install the Google Cloud CLI (https://cloud.google.com/sdk)", fatal=True
        )
    full = [*args, "--quiet"]
    try:
        proc = subprocess.run(
            [exe, *full], capture_output=True, text=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise GcloudError(f"{_command(args)}: no answer within {timeout_s:g}s", fatal=True) from exc
    except OSError as exc:
        raise GcloudError(f"cannot run gcloud: {exc.strerror}", fatal=True) from exc
    if proc.returncode != 0:
        raise explain(args, proc.returncode, proc.stderr)
    return proc.stdout


# --- reading what is deployed --------------------------------------------------------------


def describe_function(gcloud: Gcloud, name: str, project: str, region: str) -> FunctionEnv:
    args = ["functions", "describe", name, "--gen2", "--region", region, "--project", project, "--format=json"]
    try:
        doc = json.loads(gcloud(args))
    except json.JSONDecodeError as exc:
        raise GcloudError(f"{_command(args)}: answered something that is not JSON") from exc
    service: dict[str, Any] = (doc or {}).get("serviceConfig") or {}
    env = FunctionEnv(name)
    for key, value in (service.get("environmentVariables") or {}).items():
        env.plain[str(key)] = str(value)
    for entry in service.get("secretEnvironmentVariables") or []:
        env.secrets[str(entry["key"])] = _secret_ref(entry, project)
    return env


def _secret_ref(entry: dict[str, Any], default_project: str) -> SecretRef:
    """``{key, secret, version, projectId}``; ``secret`` may also be a full resource name."""
    secret = str(entry["secret"])
    project = str(entry.get("projectId") or default_project)
    version = str(entry.get("version") or "latest")
    if match := _SECRET_PATH.fullmatch(secret):
        secret, project = match["secret"], match["project"]
        version = match["version"] or version
    return SecretRef(project, secret, version)


def access_secret(gcloud: Gcloud, ref: SecretRef) -> str:
    """The secret's payload, exactly: JSON output (base64 data), so no trailing newline is added or lost."""
    args = ["secrets", "versions", "access", ref.version, "--secret", ref.secret, "--project", ref.project]
    try:
        payload = json.loads(gcloud([*args, "--format=json"]))["payload"]["data"]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        return raw.decode("utf-8")
    except (json.JSONDecodeError, KeyError, TypeError, binascii.Error) as exc:
        raise GcloudError(f"{_command(args)}: answered without a payload") from exc
    except UnicodeDecodeError as exc:
        raise GcloudError(f"{_command(args)}: the secret is not UTF-8 text") from exc


def merge(envs: Sequence[FunctionEnv], secret_values: dict[SecretRef, str]) -> Deployed:
    """One environment from several functions; raises ``ConflictError`` listing every disagreement."""
    seen: dict[str, list[tuple[str, str]]] = {}
    from_secrets: set[str] = set()
    for env in envs:
        for key, value in env.plain.items():
            seen.setdefault(key, []).append((env.name, value))
        for key, ref in env.secrets.items():
            seen.setdefault(key, []).append((env.name, secret_values[ref]))
            from_secrets.add(key)
    values: dict[str, str] = {}
    per_function: dict[str, str] = {}
    conflicts: list[str] = []
    for key in sorted(seen):
        sources = seen[key]
        groups: dict[str, list[str]] = {}
        for fn, value in sources:
            groups.setdefault(value, []).append(fn)
        if len(groups) > 1 and key not in PER_FUNCTION_VARIABLES:
            sides = " vs ".join("[" + ", ".join(fns) + "]" for fns in groups.values())
            conflicts.append(f"{key} differs between functions: {sides}")
            continue
        values[key] = sources[0][1]
        if len(groups) > 1:
            per_function[key] = sources[0][0]
    if conflicts:
        raise ConflictError("\n".join(conflicts))
    return Deployed(values, [e.name for e in envs], sorted(from_secrets), per_function)


def read_deployed(gcloud: Gcloud, functions: Sequence[str], project: str, region: str) -> Deployed:
    """Describe every function, fetch each referenced secret once, merge."""
    errors: list[str] = []
    envs: list[FunctionEnv] = []
    for name in functions:
        try:
            envs.append(describe_function(gcloud, name, project, region))
        except GcloudError as exc:
            errors.append(str(exc))
            if exc.fatal:
                break
    secret_values: dict[SecretRef, str] = {}
    if not errors:
        refs = sorted({ref for env in envs for ref in env.secrets.values()}, key=lambda r: (r.secret, r.version))
        for ref in refs:
            try:
                secret_values[ref] = access_secret(gcloud, ref)
            except GcloudError as exc:
                errors.append(str(exc))
                if exc.fatal:
                    break
    if errors:
        raise GcloudError("\n".join(dict.fromkeys(errors)))  # one line per distinct problem
    return merge(envs, secret_values)


# --- writing the file ----------------------------------------------------------------------


def quote(value: str) -> str:
    """A python-dotenv double-quoted value that reads back as exactly ``value`` (no interpolation)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def render(deployed: Deployed, project: str, region: str) -> str:
    bad = [key for key in deployed.values if not _ENV_NAME.fullmatch(key)]
    if bad:
        raise ConflictError(f"not a valid variable name: {', '.join(bad)}")
    lines = [
        f"# Written by tools/deployed_env.py from {project} / {region}: {', '.join(deployed.functions)}.",
        "# Holds secrets: mode 0600, never commit. Read it with `python -m devtools check-env --env-file <this file>`.",
    ]
    lines += [f"{key}={quote(deployed.values[key])}" for key in sorted(deployed.values)]
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # the umask could have narrowed it; never widened
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def summary(deployed: Deployed, project: str, region: str, out: Path) -> str:
    lines = [
        f"read {len(deployed.functions)} function(s) in {project}/{region}: {', '.join(deployed.functions)}",
        f"{len(deployed.values)} variable(s), {len(deployed.secret_names)} from Secret Manager: "
        f"{', '.join(deployed.secret_names) or 'none'}",
    ]
    for key, fn in sorted(deployed.per_function.items()):
        lines.append(f"{key} differs per function by design; taken from {fn} (use --function to pick one)")
    lines.append(f"wrote {out} (mode 0600; holds secrets, keep it out of git)")
    return "\n".join(lines)


def main(argv: list[str] | None = None, gcloud: Gcloud = run_gcloud) -> int:
    names = function_names()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--project", required=True, help="the Google Cloud project id")
    parser.add_argument("--region", required=True, help="the functions' region, e.g. asia-south1")
    parser.add_argument(
        "--function", action="append", choices=names, metavar="NAME", help=f"read only these (repeatable): {names}"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the dotenv file to write ({DEFAULT_OUT})")
    args = parser.parse_args(argv)
    functions = list(dict.fromkeys(args.function or names))
    try:
        deployed = read_deployed(gcloud, functions, args.project, args.region)
        text = render(deployed, args.project, args.region)
    except GcloudError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_GCLOUD
    except ConflictError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        print(
            "error: the deployed functions disagree; nothing written (fix the deploy, or use --function)",
            file=sys.stderr,
        )
        return EXIT_CONFLICT
    write_private(args.out, text)
    print(summary(deployed, args.project, args.region, args.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
