"""Must hold: a ``make build`` zip, unzipped alone, starts under functions-framework and answers /healthz.

For one function per kind (public, webhook, worker) the real function is
staged with ``tools.stage``, its zip unzipped into a fresh folder, and
``functions-framework --target main --source main.py`` started there, as
Cloud Functions runs it (gunicorn), with production settings whose services
all point at closed ports.  The interpreter cannot see the repo: the launcher
drops it from ``sys.path`` (the venv's .pth adds it), refuses any installed
distribution not in the function's requirements.txt (``tests.isolation``) and
checks that ``lib`` is the unzipped copy.  The answer's ``version`` is the
hash from the zip's build_info.json, which only the unzipped ``lib`` can read.
The three servers start concurrently; each is stopped with its process group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lib.config import AppEnv, Settings, TasksMode
from tests.isolation import REFUSE_FINDER
from tools.requirements import read_lock
from tools.stage import stage

REPO = Path(__file__).resolve().parents[2]
# One function per kind: called by the frontend, by PhonePe, by Cloud Tasks.
KINDS = {"public": "onboarding_step", "webhook": "payment_webhook", "worker": "bcm_rebuild"}
# A cold start imports flask, gunicorn and the Google clients: seconds on a loaded 2-core machine.
START_TIMEOUT_S = 45.0
# Between /healthz polls while a server starts.
POLL_INTERVAL_S = 0.2
# SIGTERM lets gunicorn stop its worker; after this long the group gets SIGKILL.
STOP_TIMEOUT_S = 10.0

# The child: no repo on sys.path, only requirements.txt's distributions, lib from cwd, then the CLI.
LAUNCHER = (
    REFUSE_FINDER
    + r"""
import json, os, sys
from importlib.metadata import entry_points
from pathlib import Path

spec = json.loads(sys.argv[1])
here = Path.cwd().resolve()
repo = Path(spec["repo"]).resolve()
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != repo]
install_refusal(spec["allowed"])
import lib
if not Path(lib.__file__).resolve().is_relative_to(here):
    sys.exit(f"lib was imported from {lib.__file__}, not from the unzipped package in {here}")
(cli,) = entry_points(group="console_scripts", name="functions-framework")
sys.argv = ["functions-framework", *spec["args"]]
sys.exit(cli.load()())
"""
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def production_env(function: str) -> dict[str, str]:
    """What Terraform would set, with fake but well-formed secrets and every service on a closed port."""
    closed = free_port()  # bound and released: nothing listens there
    dead = f"127.0.0.1:{closed}"
    return {
        "APP_ENV": "production",
        "TASKS_MODE": "cloud",
        "LOG_LEVEL": "INFO",
        "GCP_PROJECT": "bcm-prod-check",
        "GCP_REGION": "asia-south1",
        "FUNCTIONS_BASE_URL": "https://asia-south1-bcm-prod-check.cloudfunctions.net",
        "FRONTEND_URL": "https://app.example.com",
        "DATABASE_URL": f"postgresql://postgres.abcdefghijklmnop:not-a-real-password@{dead}/postgres",
        "SUPABASE_URL": "https://abcdefghijklmnop.supabase.co",
        "SUPABASE_JWKS_URL": f"http://{dead}/auth/v1/.well-known/jwks.json",
        "REDIS_URL": f"redis://:not-a-real-auth@{dead}/0",
        "GCS_BUCKET_EXPORTS": "bcm-prod-check-exports",
        "GCS_BUCKET_EVIDENCE": "bcm-prod-check-evidence",
        "SIGNING_SERVICE_ACCOUNT": f"fn-{function.replace('_', '-')}@bcm-prod-check.iam.gserviceaccount.com",
        "TASKS_INVOKER_EMAIL": "tasks-invoker@bcm-prod-check.iam.gserviceaccount.com",
        "PHONEPE_ENV": "production",
        "PHONEPE_CLIENT_ID": "PROD_CLIENT_CHECK",
        "PHONEPE_CLIENT_SECRET": "not-a-real-client-secret",
        "PHONEPE_API_BASE": f"http://{dead}/apis/pg",
        "PHONEPE_TOKEN_URL": f"http://{dead}/apis/identity-manager/v1/oauth/token",
        "PHONEPE_WEBHOOK_USERNAME": "webhookcheck",
        "PHONEPE_WEBHOOK_PASSWORD": "notreal12345",
        "RESEND_API_KEY": "re_NotARealKey_0123456789",
        "RESEND_BASE_URL": f"http://{dead}",
        "RESEND_FROM": "Founders <billing@example.com>",
        "FIRESTORE_DATABASE": "(default)",
        "TASKS_QUEUE_AI": "onboarding-ai-prod",
        "TASKS_QUEUE_BCM": "bcm-rebuild-prod",
        "TASKS_QUEUE_PAYMENTS": "payment-reconcile-prod",
        "TASKS_QUEUE_OUTBOX": "outbox-relay-prod",
        # As Terraform writes it: one plain email, not a JSON list.
        "OIDC_ALLOWED_EMAILS": "tasks-invoker@bcm-prod-check.iam.gserviceaccount.com",
        "OIDC_AUDIENCE": f"https://asia-south1-bcm-prod-check.cloudfunctions.net/{function}",
        "VERTEX_LOCATION": "asia-south1",
        "VERTEX_MODEL": "gemini-2.5-flash",
        "PHONEPE_CLIENT_VERSION": "1",
        "SUPABASE_JWT_SECRET": "not-a-real-jwt-secret-0123456789abcdef",
        "REDIS_CA_PEM": "",
        "THREADS": "4",
        "DB_POOL_MAX": "3",
    }


@dataclass
class Server:
    function: str
    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def unzip_fresh(function: str, root: Path) -> Path:
    archive = stage(function, out=root / "build").archive
    folder = root / "deployed" / function
    folder.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    return folder


def launch(function: str, folder: Path, log: Path) -> Server:
    port = free_port()
    spec = {
        "repo": str(REPO),
        "allowed": list(read_lock(folder / "requirements.txt")),
        "args": ["--target", "main", "--source", "main.py", "--host", "127.0.0.1", "--port", str(port)],
    }
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "LANG": "C.UTF-8"}
    env |= production_env(function)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, json.dumps(spec)],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn's worker is stopped with it
        )
    return Server(function, folder, port, process, log)


def wait_healthy(server: Server, deadline: float) -> httpx.Response:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"{server.function} exited with {server.process.returncode}:\n{server.output()}")
        try:
            return httpx.get(f"{server.url}/healthz", timeout=2.0)
        except httpx.TransportError:
            time.sleep(POLL_INTERVAL_S)
    pytest.fail(f"{server.function} did not answer within {START_TIMEOUT_S}s:\n{server.output()}")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(server: Server) -> bool:
    """SIGTERM the group (gunicorn stops and reaps its worker), SIGKILL after a grace period.

    Returns whether the group was empty once the master had exited: False means
    a process outlived it (it is killed anyway, so nothing is left behind).
    """
    pgid = server.process.pid
    if server.process.poll() is None:
        os.killpg(pgid, signal.SIGTERM)
        try:
            server.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            server.process.wait(timeout=STOP_TIMEOUT_S)
    clean = not group_alive(pgid)
    if not clean:
        os.killpg(pgid, signal.SIGKILL)
    return clean


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Server, httpx.Response]]]:
    root = tmp_path_factory.mktemp("built")
    started: list[Server] = []
    try:
        for function in KINDS.values():
            folder = unzip_fresh(function, root)
            started.append(launch(function, folder, root / f"{function}.log"))
        deadline = time.monotonic() + START_TIMEOUT_S
        yield {s.function: (s, wait_healthy(s, deadline)) for s in started}
    finally:
        for server in started:
            stop(server)


def test_the_environment_is_every_variable_terraform_sets() -> None:
    from tools.tfcheck import Terraform

    tf = Terraform.load()
    terraform_sets = tf.plain_env | {s for cfg in tf.functions.values() for s in cfg["secrets"]}
    assert terraform_sets <= set(production_env("payment_webhook"))


def test_the_environment_is_one_production_settings_accept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed from the process environment, as a cold start does (not model_validate: env parsing differs)."""
    for key, value in production_env("payment_webhook").items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.app_env is AppEnv.PRODUCTION
    assert settings.tasks_mode is TasksMode.CLOUD
    assert settings.oidc_allowed_emails == ["tasks-invoker@bcm-prod-check.iam.gserviceaccount.com"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_unzipped_package_serves_healthz(kind: str, servers: dict[str, tuple[Server, httpx.Response]]) -> None:
    function = KINDS[kind]
    server, response = servers[function]
    assert response.status_code == 200, server.output()
    body = response.json()
    assert body["status"] == "ok"
    assert body["function"] == function
    build_info = json.loads((server.folder / "build_info.json").read_text())
    assert build_info["function"] == function
    assert body["version"] == build_info["source_sha256"][:12]  # read by the unzipped lib, beside main.py
    assert not (server.folder / "devtools").exists()
    assert not (server.folder / "lib" / "testing").exists()


def test_servers_leave_no_process_behind(servers: dict[str, tuple[Server, httpx.Response]]) -> None:
    """Stopping one server's group ends its master and worker; the others keep serving."""
    first, *others = (server for server, _ in servers.values())
    assert group_alive(first.process.pid)
    assert stop(first), f"a process of {first.function} outlived gunicorn's master"
    assert first.process.returncode is not None
    assert not group_alive(first.process.pid)
    for server in others:
        assert httpx.get(f"{server.url}/healthz", timeout=2.0).status_code == 200
