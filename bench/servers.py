"""Out-of-process servers for the throughput bench: a function as Cloud Functions serves it, and the stand-ins.

Cloud Functions (gen2) runs ``functions-framework --target main --source ...``,
whose production server is gunicorn with the ``gthread`` worker (one worker,
``THREADS`` threads, HTTP/1.1 keep-alive; ``functions_framework._http.gunicorn``).
``serve_function`` starts exactly that command in its own process group, with
an environment pointing at the bench's Postgres/Valkey and at the stand-ins.

``python -m bench.servers --port P`` is the stand-ins' runner: the PhonePe
simulator (``/phonepe``) and the Resend mail catcher (``/resend``) in one
process, also on gunicorn, so that their CPU (remote in production: PhonePe's
status API and Resend are someone else's servers) is not spent in the process
that is measured.  They still share the machine's cores: not free, only apart.

Both context managers kill the whole process group on exit, whatever happened.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO / "functions"
LOOPBACK = "127.0.0.1"
# Mounts of the stand-ins' runner.
PHONEPE_MOUNT, RESEND_MOUNT = "/phonepe", "/resend"
# A server that does not answer within this long after start has failed to start.
START_TIMEOUT_S = 30.0
# Poll interval while waiting for a server to answer.
START_POLL_S = 0.05
# SIGINT is gunicorn's quick shutdown; a group still alive this long after it gets SIGKILL.
STOP_GRACE_S = 5.0
# The stand-ins' gthread threads: more than the function server's, so they are never the queue.
STAND_IN_THREADS = 16
# Lines of a failed server's stderr quoted in the error.
STDERR_TAIL_LINES = 20


@dataclass
class Served:
    """A running server: its base URL and its process group (gunicorn's arbiter and workers)."""

    base: str
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        """User + system CPU used so far by the server's processes (the arbiter and its workers)."""
        total = 0.0
        try:
            root = psutil.Process(self.process.pid)
            for proc in [root, *root.children(recursive=True)]:
                try:
                    t = proc.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    continue
        except psutil.NoSuchProcess:
            pass
        return total


def free_port() -> int:
    from devtools.local.services import free_port as _free_port

    return _free_port()


def _wait_ready(served: Served, probe_path: str, log_path: Path) -> None:
    """Until the server answers anything at ``probe_path`` (any status); raise if it exits or stalls."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            break
        try:
            httpx.get(f"{served.base}{probe_path}", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(START_POLL_S)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-STDERR_TAIL_LINES:])
    raise RuntimeError(f"server at {served.base} did not start (exit {served.process.poll()}):\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT the process group (gunicorn's quick shutdown), then SIGKILL whatever is left."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=STOP_GRACE_S)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError):  # workers that outlived the arbiter share its group
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_GRACE_S)


@contextmanager
def _serving(cmd: list[str], env: Mapping[str, str], port: int, probe_path: str) -> Iterator[Served]:
    with tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    try:
        with log_path.open("wb") as stderr:
            # stdout (a JSON log line per request, as Cloud Logging wants) is still written, then dropped.
            process = subprocess.Popen(
                cmd, env=dict(env), cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )
        try:
            served = Served(f"http://{LOOPBACK}:{port}", process)
            _wait_ready(served, probe_path, log_path)
            yield served
        finally:
            _stop(process)
    finally:
        log_path.unlink(missing_ok=True)


@contextmanager
def serve_function(name: str, env: Mapping[str, str], *, port: int, threads: int, workers: int = 1) -> Iterator[Served]:
    """``functions-framework --target main --source functions/<name>/main.py`` on ``port`` (gunicorn
    gthread, ``workers`` x ``threads``), in its own process group; ``env`` is its whole environment."""
    cmd = [
        str(Path(sys.executable).with_name("functions-framework")),
        "--target=main",
        f"--source={FUNCTIONS_DIR / name / 'main.py'}",
        f"--host={LOOPBACK}",
        f"--port={port}",
    ]
    server_env = {**env, "THREADS": str(threads), "WORKERS": str(workers)}
    with _serving(cmd, server_env, port, "/") as served:
        yield served


@contextmanager
def serve_stand_ins(env: Mapping[str, str]) -> Iterator[Served]:
    """The PhonePe simulator and the mail catcher (``python -m bench.servers``) on a free port; the
    simulator's webhook target and credentials come from ``env`` (``FUNCTIONS_BASE_URL``, ``PHONEPE_*``)."""
    port = free_port()
    cmd = [sys.executable, "-m", "bench.servers", f"--port={port}"]
    with _serving(cmd, env, port, f"{RESEND_MOUNT}/") as served:
        yield served


def stand_ins_env(base: str) -> dict[str, str]:
    """The variables that point our PhonePe client and mailer at the stand-ins served at ``base``."""
    api = f"{base}{PHONEPE_MOUNT}/apis/pg-sandbox"
    return {
        "PHONEPE_API_BASE": api,
        "PHONEPE_TOKEN_URL": f"{api}/v1/oauth/token",
        "RESEND_BASE_URL": f"{base}{RESEND_MOUNT}",
    }


# --- the stand-ins' runner ----------------------------------------------------------------------


def stand_ins_app() -> Any:
    """The simulator at ``/phonepe`` and the mail catcher at ``/resend``, configured from the settings."""
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from devtools.local.mailcatcher import MailCatcher
    from devtools.local.phonepe_sim import create_app
    from lib.config import get_settings

    s = get_settings()
    phonepe = create_app(
        webhook_url=f"{s.functions_base_url.rstrip('/')}/payment_webhook/",
        webhook_username=s.phonepe_webhook_username,
        webhook_password=s.phonepe_webhook_password.get_secret_value(),
        client_id=s.phonepe_client_id,
        client_secret=s.phonepe_client_secret.get_secret_value(),
    )
    return DispatcherMiddleware(NotFound(), {PHONEPE_MOUNT: phonepe, RESEND_MOUNT: MailCatcher().wsgi_app})


def main(argv: list[str] | None = None) -> None:
    import gunicorn.app.base

    parser = argparse.ArgumentParser(prog="python -m bench.servers", description="Serve the bench's stand-ins.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    class StandIns(gunicorn.app.base.BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            # One worker: the simulator's orders and the caught mail live in its memory.
            options = {"bind": f"{LOOPBACK}:{args.port}", "workers": 1, "threads": STAND_IN_THREADS}
            for key, value in {**options, "worker_class": "gthread", "loglevel": "error"}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return stand_ins_app()

    StandIns().run()


if __name__ == "__main__":
    main()
