"""``python -m devtools check-env``: validate the settings, then probe every service.

Run it after a deploy or before ``make dev`` to learn, in one table, which
dependency is misconfigured: the settings are validated first (one line per
bad variable, never its value), then every service is probed concurrently,
each with its own timeout, so one hanging endpoint cannot hide the others.

Each probe is a small function ``(settings, timeout_s) -> detail`` in
``PROBES``; it raises ``Skipped`` when the service is not configured here (no
GCP credentials and no emulator, a placeholder API key) and any other
exception when it is configured but broken.  Tests pass their own probes.
Every detail is scrubbed of secret values and URL passwords before printing.

Checking a deployed environment (``--env-file``, the file written by
``tools/deployed_env.py``): the file IS the environment.  Its values are read
literally (no ``${VAR}`` interpolation, as a function's own environment is
literal) and the process environment is not consulted for settings at all: a
variable the file lacks takes its default, as it does in the deployed
function, so a developer's local ``DATABASE_URL`` or ``FIRESTORE_EMULATOR_HOST``
can neither override nor fill in a deployed value.  The Google SDKs read
``FIRESTORE_EMULATOR_HOST`` / ``STORAGE_EMULATOR_HOST`` from the process
directly, so when the shell sets one the file does not, the check refuses to
run rather than report the emulator as the deployed service.  Credentials
(ADC) still come from the operator's machine, which is the point.

``--skip SERVICE`` leaves a probe out (its row says ``skipped by --skip``):
Memorystore has only a private IP, so an operator outside the VPC skips
``redis`` (or runs the check from a VM inside it).
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsError

from lib import bootstrap
from lib.config import Settings, TasksMode

# Long enough for a cold TLS handshake to a distant region, short enough that the command stays interactive.
PROBE_TIMEOUT_S = 8.0
# A detail longer than this is cut: the table is for reading, the logs have the rest.
MAX_DETAIL_CHARS = 160
# Resend keys starting with this are the local suite's placeholders (the mail catcher ignores them).
LOCAL_RESEND_KEY_PREFIX = "re_local"
REDACTED = "***"
# The row detail of a probe left out on the command line.
SKIPPED_BY_FLAG = "skipped by --skip"
# Exit codes: a service or a setting is broken / the check could not run as asked.
EXIT_FAILED = 1
EXIT_USAGE = 2
# Variables the Google SDKs read from the process itself, and the probe each one would mislead.
SDK_ENV_PROBES: dict[str, tuple[str, str]] = {
    "FIRESTORE_EMULATOR_HOST": ("firestore", "firestore_emulator_host"),
    "STORAGE_EMULATOR_HOST": ("storage", "storage_emulator_host"),
}

Status = Literal["ok", "failed", "skipped"]
Probe = Callable[[Settings, float], str]


class Skipped(Exception):
    """The service is not configured in this environment; the message says why."""


@dataclass(frozen=True)
class ProbeResult:
    service: str
    status: Status
    latency_ms: float | None
    detail: str


# --- probes --------------------------------------------------------------------------


def _gcp_credentials() -> None:
    """Raise ``Skipped`` when Application Default Credentials are not available."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError as exc:
        raise Skipped("no GCP credentials (ADC) and no emulator configured") from exc


def probe_postgres(settings: Settings, timeout_s: float) -> str:
    import psycopg

    url = settings.database_url.get_secret_value()
    with psycopg.connect(url, connect_timeout=max(2, round(timeout_s)), autocommit=True) as conn:
        conn.execute("select 1").fetchone()
        version = conn.info.server_version
    return f"select 1 ok; PostgreSQL {version // 10000}.{version % 10000}"


def probe_redis(settings: Settings, timeout_s: float) -> str:
    import redis

    from lib.adapters.redis import tls_options

    url = settings.redis_url.get_secret_value()
    # The deployed rediss:// URL is verified against Memorystore's own CA, as the functions do.
    client = redis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, **tls_options(url, settings.redis_ca_pem)
    )
    try:
        client.ping()
        info: dict[str, Any] = client.info("server")
    finally:
        client.close()
    return f"PING ok; server {info.get('redis_version', '?')}"


def probe_firestore(settings: Settings, timeout_s: float) -> str:
    from lib.adapters.firestore import FirestoreDocuments

    if not settings.firestore_emulator_host:
        _gcp_credentials()
    docs = FirestoreDocuments(
        settings.gcp_project, settings.firestore_database, emulator_host=settings.firestore_emulator_host
    )
    docs.ping()
    where = f"emulator {settings.firestore_emulator_host}" if settings.firestore_emulator_host else "Firestore"
    return f"read ok ({where}, database {settings.firestore_database})"


def probe_storage(settings: Settings, timeout_s: float) -> str:
    from lib.adapters.storage import GcsBlobs

    if not settings.storage_emulator_host:
        _gcp_credentials()
    blobs = GcsBlobs(settings.gcp_project, emulator_host=settings.storage_emulator_host)
    buckets = [settings.gcs_bucket_exports, settings.gcs_bucket_evidence]
    for bucket in buckets:
        blobs.ping(bucket)
    return f"buckets exist: {', '.join(buckets)}"


def _queues(settings: Settings) -> list[str]:
    return [
        settings.tasks_queue_ai,
        settings.tasks_queue_bcm,
        settings.tasks_queue_payments,
        settings.tasks_queue_outbox,
    ]


def probe_tasks(settings: Settings, timeout_s: float) -> str:
    if settings.tasks_mode is TasksMode.LOCAL:
        import httpx

        url = settings.tasks_local_url.rstrip("/") + "/"
        httpx.get(url, timeout=timeout_s).raise_for_status()
        return f"local dispatcher answers at {url}"
    _gcp_credentials()
    from google.cloud import tasks_v2

    client = tasks_v2.CloudTasksClient()
    for queue in _queues(settings):
        client.get_queue(name=client.queue_path(settings.gcp_project, settings.gcp_region, queue), timeout=timeout_s)
    return f"queues exist: {', '.join(_queues(settings))}"


def probe_vertex(settings: Settings, timeout_s: float) -> str:
    if settings.genai_base_url:
        import httpx

        resp = httpx.get(settings.genai_base_url, timeout=timeout_s)
        if resp.status_code >= 500:
            raise RuntimeError(f"Gemini stand-in answered HTTP {resp.status_code}")
        return f"Gemini stand-in reachable at {settings.genai_base_url} (HTTP {resp.status_code})"
    _gcp_credentials()
    from google import genai
    from google.genai import types

    client = genai.Client(
        vertexai=True,
        project=settings.gcp_project,
        location=settings.vertex_location,
        http_options=types.HttpOptions(timeout=int(timeout_s * 1000)),
    )
    counted = client.models.count_tokens(model=settings.vertex_model, contents="ping")
    return f"{settings.vertex_model} count_tokens ok ({counted.total_tokens} tokens)"


def probe_phonepe(settings: Settings, timeout_s: float) -> str:
    import httpx

    resp = httpx.post(
        settings.phonepe_token_url,
        data={
            "client_id": settings.phonepe_client_id,
            "client_version": str(settings.phonepe_client_version),
            "client_secret": settings.phonepe_client_secret.get_secret_value(),
            "grant_type": "client_credentials",
        },
        timeout=timeout_s,
    )
    if resp.status_code != 200:
        raise RuntimeError(f"token endpoint answered HTTP {resp.status_code} {_error_code(resp)}".rstrip())
    if not resp.json().get("access_token"):
        raise RuntimeError("token endpoint answered 200 without an access_token")
    return f"token issued ({settings.phonepe_env})"


def probe_resend(settings: Settings, timeout_s: float) -> str:
    import httpx

    key = settings.resend_api_key.get_secret_value()
    if not key or key.startswith(LOCAL_RESEND_KEY_PREFIX):
        raise Skipped("local placeholder key (the local mail catcher is used)")
    resp = httpx.get(
        settings.resend_base_url.rstrip("/") + "/domains",
        headers={"Authorization": f"Bearer {key}"},
        timeout=timeout_s,
    )
    if resp.status_code == 200:
        return f"API key ok; {len(resp.json().get('data', []))} domain(s)"
    if resp.status_code == 401 and _error_code(resp) == "restricted_api_key":
        return "API key ok (sending access only)"
    raise RuntimeError(f"Resend answered HTTP {resp.status_code} {_error_code(resp)}".rstrip())


def _error_code(resp: Any) -> str:
    """The vendor's error name from a JSON body, if any (never the whole body)."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return str(body.get("name") or body.get("code") or "")


PROBES: dict[str, Probe] = {
    "postgres": probe_postgres,
    "redis": probe_redis,
    "firestore": probe_firestore,
    "storage": probe_storage,
    "cloud_tasks": probe_tasks,
    "vertex_ai": probe_vertex,
    "phonepe": probe_phonepe,
    "resend": probe_resend,
}


# --- settings from a deployed environment's dotenv file -----------------------------------


class EnvFileError(Exception):
    """The dotenv file cannot be read or parsed; the message names the file and line, never a value."""


def read_env_file(path: Path) -> dict[str, str]:
    """The file's variables, values taken literally (escapes decoded, no ``${VAR}`` interpolation).

    A line python-dotenv cannot parse is an error, not a warning: a silently
    dropped line would make a deployed variable look unset.
    """
    from dotenv.parser import parse_stream

    try:
        with path.open(encoding="utf-8") as stream:
            bindings = list(parse_stream(stream))
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"{path}: cannot read ({type(exc).__name__})") from exc
    values: dict[str, str] = {}
    for binding in bindings:
        if binding.error:
            raise EnvFileError(f"{path}: line {binding.original.line} cannot be parsed")
        if binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values


class _MappingEnvSource(EnvSettingsSource):
    """Environment-variable parsing (JSON for lists, case-insensitive names) over a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str]) -> None:
        self._variables = {name.lower(): value for name, value in variables.items()}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._variables


def settings_from_variables(variables: Mapping[str, str]) -> Settings:
    """Settings exactly as a process whose whole environment is ``variables`` would build them."""

    class FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, _MappingEnvSource(settings_cls, variables))

    return FileSettings()


def settings_from_env_file(path: Path) -> Settings:
    """Settings from the dotenv file alone (see the module docstring for the precedence)."""
    return settings_from_variables(read_env_file(path))


def sdk_env_conflicts(ambient: Settings, target: Settings, probes: Collection[str]) -> list[str]:
    """Variables the shell sets, the target leaves empty, and an SDK would read behind the probe's back."""
    lines = []
    for var, (probe, field) in SDK_ENV_PROBES.items():
        if probe in probes and getattr(ambient, field) and not getattr(target, field):
            lines.append(
                f"  {var} is set in this shell but not in the env file; the {probe} SDK would use it "
                f"(unset it, or --skip {probe})"
            )
    return lines


# --- running and reporting ----------------------------------------------------------------


def secret_values(settings: Settings) -> list[str]:
    """The secrets the logger scrubs (``lib.bootstrap.secret_values``), longest first so substrings do not leak."""
    return sorted(set(bootstrap.secret_values(settings)), key=len, reverse=True)


_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]*:[^/@\s]*@", re.IGNORECASE)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)


def _describe(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


def run_probes(settings: Settings, probes: Mapping[str, Probe], timeout_s: float) -> list[ProbeResult]:
    """Run every probe on its own daemon thread; one that overruns is reported failed.

    Daemon threads, not an executor: a probe stuck in a vendor client cannot
    be cancelled, and it must not keep the command from exiting.
    """
    secrets = secret_values(settings)
    results: dict[str, ProbeResult] = {}

    def run(name: str, probe: Probe) -> None:
        start = time.perf_counter()
        try:
            detail = probe(settings, timeout_s)
            status: Status = "ok"
        except Skipped as exc:
            detail, status = str(exc), "skipped"
        except Exception as exc:  # any failure is a row in the table
            detail, status = _describe(exc), "failed"
        elapsed = (time.perf_counter() - start) * 1000
        results[name] = ProbeResult(name, status, None if status == "skipped" else elapsed, redact(detail, secrets))

    threads = {name: threading.Thread(target=run, args=(name, p), daemon=True) for name, p in probes.items()}
    deadline = time.monotonic() + timeout_s
    for t in threads.values():
        t.start()
    for t in threads.values():
        t.join(max(0.0, deadline - time.monotonic()))
    out: list[ProbeResult] = []
    for name in probes:
        result = results.get(name)
        if result is None:  # still running past the deadline
            result = ProbeResult(name, "failed", timeout_s * 1000, f"no answer within {timeout_s:g}s")
        out.append(result)
    return out


def render_table(results: list[ProbeResult]) -> str:
    rows = [("service", "status", "latency ms", "detail")]
    for r in results:
        latency = "-" if r.latency_ms is None else f"{r.latency_ms:.1f}"
        detail = r.detail if len(r.detail) <= MAX_DETAIL_CHARS else r.detail[: MAX_DETAIL_CHARS - 1] + "…"
        rows.append((r.service, r.status, latency, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append(f"{row[0]:<{widths[0]}} | {row[1]:<{widths[1]}} | {row[2]:>{widths[2]}} | {row[3]}".rstrip())
        if i == 0:
            lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 6)
    return "\n".join(lines)


_SETTINGS_ERROR_FIELD = re.compile(r'field "(?P<field>\w+)"')


def validation_lines(exc: ValidationError | SettingsError) -> list[str]:
    """One line per invalid variable: its name and what is wrong, never its value.

    A ``SettingsError`` comes from pydantic-settings decoding a list or dict
    variable as JSON before validation (its message names the field only).
    """
    if isinstance(exc, SettingsError):
        match = _SETTINGS_ERROR_FIELD.search(str(exc))
        var = match["field"].upper() if match else "(settings)"
        return [f"  {var}: cannot be decoded (pydantic-settings reads list settings as JSON)"]
    lines = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        var = str(err["loc"][0]).upper() if err["loc"] else "(settings)"
        lines.append(f"  {var}: {err['msg']}")
    return lines


def _skipped_by_flag(settings: Settings, timeout_s: float) -> str:
    raise Skipped(SKIPPED_BY_FLAG)


def run_check(
    *,
    probes: Mapping[str, Probe] | None = None,
    load_settings: Callable[[], Settings] | None = None,
    env_file: Path | None = None,
    skip: Collection[str] = (),
    load_ambient: Callable[[], Settings] = Settings,
    out: TextIO | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> int:
    """Validate settings, probe every service, print the table.

    Returns 0 when nothing failed, ``EXIT_FAILED`` when a setting or a probe
    failed, ``EXIT_USAGE`` when the env file is unreadable or the shell would
    mislead a probe.  ``env_file`` replaces the process environment (module
    docstring); ``load_settings`` overrides both (tests).  ``load_ambient``
    builds the shell's own settings, only to spot SDK variables that leak in.
    """
    stream = out or sys.stdout
    registry = PROBES if probes is None else probes
    unknown = sorted(set(skip) - set(registry))
    if unknown:
        print(f"unknown service(s) to skip: {', '.join(unknown)}; known: {', '.join(registry)}", file=stream)
        return EXIT_USAGE
    loader: Callable[[], Settings]
    if load_settings is not None:
        loader = load_settings
    elif env_file is not None:
        loader = functools.partial(settings_from_env_file, env_file)
    else:
        loader = Settings
    source = f"env file {env_file}" if env_file is not None else "process environment"
    try:
        settings = loader()
    except EnvFileError as exc:
        print(f"settings: {exc}", file=stream)
        return EXIT_USAGE
    except (ValidationError, SettingsError) as exc:
        print(f"settings: invalid ({source})", file=stream)
        print("\n".join(validation_lines(exc)), file=stream)
        return EXIT_FAILED
    print(
        f"settings: ok ({source}; app_env={settings.app_env.value}, tasks_mode={settings.tasks_mode.value})",
        file=stream,
    )
    to_run = {name: (_skipped_by_flag if name in skip else probe) for name, probe in registry.items()}
    if env_file is not None:
        conflicts = _ambient_conflicts(load_ambient, settings, [n for n in registry if n not in skip])
        if conflicts:
            print("refusing to probe: the shell would override the env file", file=stream)
            print("\n".join(conflicts), file=stream)
            return EXIT_USAGE
    results = run_probes(settings, to_run, timeout_s)
    print(render_table(results), file=stream)
    failed = [r.service for r in results if r.status == "failed"]
    if failed:
        print(f"failed: {', '.join(failed)}", file=stream)
    return EXIT_FAILED if failed else 0


def _ambient_conflicts(load_ambient: Callable[[], Settings], target: Settings, probes: Collection[str]) -> list[str]:
    try:
        ambient = load_ambient()
    except (ValidationError, SettingsError):
        # The shell's own settings are invalid: they are not what is checked, and the guard cannot read them.
        return []
    return sdk_env_conflicts(ambient, target, probes)
