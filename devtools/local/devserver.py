"""``make dev``: the whole system on one port, with local stand-ins for every cloud service.

``run()`` starts PostgreSQL, Valkey, the Firestore and Storage emulators
(``devtools.local.services``; data kept under ``LOCAL_DIR``, default ``.local/``),
applies the migrations with the local auth shim, points the settings at the
stand-ins (through the environment, the one channel ``lib.config`` reads), and
serves, threaded, on ``DEV_PORT`` (8080):

    /<function>/...        every Cloud Function, loaded with functions_framework.create_app
    /healthz               Postgres, Redis, Firestore and Storage, each probed with a short timeout
    /_dev/token            sign up / in and get a Supabase-shaped access token (devtools.local.dev_auth)
    /_dev/auth/...         that token's JWKS, under SUPABASE_URL
    /_dev/oidc/jwks        the local Google OIDC signer's JWKS (devtools.local.oidc_signer)
    /_dev/tasks            the local Cloud Tasks dispatcher (devtools.local.dispatcher)
    /_dev/resend, /_dev/mail   the Resend-speaking mail catcher (devtools.local.mailcatcher)
    /_dev/phonepe, /_dev/gemini  simulators registered in DEV_MOUNTS
    /_dev/clock            the movable clock: GET, POST /advance {"days": 30}, POST /reset
    /                      the web console (devtools/local/console)
    /app/...               FRONTEND_URL's pages (checkout return, billing): the console, at that part

SIGINT/SIGTERM stop the HTTP server, the dispatcher and every child service.
``build_app(settings, services)`` is the same app without the process
lifecycle, for tests that serve it in-process on a free port.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from devtools.local.dev_auth import DevAuth, ensure_dev_routes
from devtools.local.dispatcher import LocalTaskDispatcher, standard_queues
from devtools.local.mailcatcher import MailCatcher
from devtools.local.oidc_signer import LocalOidcSigner
from devtools.local.services import ServiceSet, start_all
from devtools.local.travel_clock import TravelClock
from lib import bootstrap
from lib.config import Settings, get_settings
from tools.functions import FUNCTIONS_DIR, function_names

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]

REPO_ROOT = Path(__file__).resolve().parents[2]
CONSOLE_DIR = Path(__file__).resolve().parent / "console"
# Where FRONTEND_URL points locally: the pages the product links to (PhonePe's return after checkout,
# the billing page in emails) are the console's, served under this prefix, apart from the functions'
# own paths (``/billing`` is the billing function).
FRONTEND_PATH = "/app"
# Every Cloud Function, mounted at /<name>/: the one list (pyproject.toml [tool.bcm.functions]).
FUNCTIONS: tuple[str, ...] = tuple(function_names())
LOOPBACK = "127.0.0.1"
# Each /healthz probe gets this long; a dev server that takes longer to answer is unhealthy.
HEALTH_PROBE_TIMEOUT_S = 2.0
# devtools.local.services imports <local_dir>/firestore/<this>/<this>.overall_export_metadata at start.
FIRESTORE_EXPORT_NAME = "export"
# Exporting a dev database takes well under a second; do not let it hold up Ctrl-C.
FIRESTORE_EXPORT_TIMEOUT_S = 10.0
# Per-request access logs of the server and the dispatcher's HTTP client: the router logs each call.
QUIET_LOGGERS = ("werkzeug", "httpx")
# The local dispatcher's worker threads: enough for AI, rebuilds and reconciliation side by side.
DISPATCH_WORKERS = 4


@dataclass
class DevSuite:
    """What the local app is made of; handed to every ``DEV_MOUNTS`` factory."""

    settings: Settings
    services: ServiceSet
    container: bootstrap.Container
    dispatcher: LocalTaskDispatcher
    oidc: LocalOidcSigner
    dev_auth: DevAuth
    mail: MailCatcher
    local_dir: Path | None  # None: in-memory state (tests)
    mounts: dict[str, WsgiApp] = field(default_factory=dict)

    def state_path(self, *parts: str) -> Path | None:
        """Where a stand-in may keep state across restarts (None in tests)."""
        return self.local_dir.joinpath(*parts) if self.local_dir is not None else None


AppFactory = Callable[[DevSuite], WsgiApp]

# Registration point for the other stand-ins: (mount prefix, factory or "module:function").
# A factory gets the DevSuite and returns a WSGI app; a module that does not exist yet is
# skipped with a note in the banner, so a stand-in can land independently of this file.
DEV_MOUNTS: list[tuple[str, AppFactory | str]] = [
    ("/_dev/phonepe", "devtools.local.phonepe_sim:create_app"),
    ("/_dev/gemini", "devtools.local.gemini_stub:create_app"),
    ("/_dev/clock", "devtools.local.travel_clock:create_app"),
]


def register_dev_mount(prefix: str, factory: AppFactory | str) -> None:
    """Add (or replace) a stand-in mounted at ``prefix``."""
    DEV_MOUNTS[:] = [(p, f) for p, f in DEV_MOUNTS if p != prefix]
    DEV_MOUNTS.append((prefix, factory))


def _resolve_factory(factory: AppFactory | str) -> AppFactory | None:
    if not isinstance(factory, str):
        return factory
    module_name, _, attr = factory.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None  # not written yet
        raise
    resolved: AppFactory = getattr(module, attr)
    return resolved


# --- the functions ----------------------------------------------------------------------

_load_lock = threading.Lock()


def load_function_app(name: str, functions_dir: Path = FUNCTIONS_DIR) -> WsgiApp:
    """``functions_framework.create_app(target="main", source=functions/<name>/main.py)``.

    The framework imports every source as the module ``main`` (and appends its
    folder to ``sys.path``); ten functions in one process would overwrite each
    other's ``sys.modules['main']``.  Each loaded module is re-registered as
    ``functions.<name>.main`` and the ``main`` slot and ``sys.path`` restored,
    so the apps coexist and nothing else imports the wrong ``main``.
    """
    import functions_framework

    source = functions_dir / name / "main.py"
    with _load_lock:
        saved_path = list(sys.path)
        previous = sys.modules.get("main")
        try:
            app: WsgiApp = functions_framework.create_app(target="main", source=str(source))  # type: ignore[no-untyped-call]
        finally:
            loaded: ModuleType | None = sys.modules.pop("main", None)
            if previous is not None:
                sys.modules["main"] = previous
            sys.path[:] = saved_path
        if loaded is not None:
            sys.modules[f"functions.{name}.main"] = loaded
    return app


# --- /healthz -----------------------------------------------------------------------------


def _health_probes(suite: DevSuite) -> dict[str, Callable[[], str]]:
    c, s = suite.container, suite.settings

    def postgres() -> str:
        c.db.ping()
        return "select 1 ok"

    def redis() -> str:
        c.kv.ping()
        return "PING ok"

    def firestore() -> str:
        c.documents.ping()
        return f"read ok ({s.firestore_emulator_host or 'Firestore'})"

    def storage() -> str:
        for bucket in (s.gcs_bucket_exports, s.gcs_bucket_evidence):
            c.blobs.ping(bucket)
        return "buckets exist"

    return {"postgres": postgres, "redis": redis, "firestore": firestore, "storage": storage}


def health_report(suite: DevSuite, timeout_s: float = HEALTH_PROBE_TIMEOUT_S) -> tuple[bool, dict[str, Any]]:
    """Probe every service concurrently; ``(all ok, report)``."""
    probes = _health_probes(suite)
    checks: dict[str, dict[str, Any]] = {}
    pool = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="healthz")
    started = time.monotonic()
    futures = {name: pool.submit(probe) for name, probe in probes.items() if name not in suite.services.missing}
    for name, reason in suite.services.missing.items():
        checks[name] = {"status": "skipped", "detail": reason}
    for name, future in futures.items():
        remaining = max(0.0, started + timeout_s - time.monotonic())
        try:
            detail = future.result(timeout=remaining)
            checks[name] = {"status": "ok", "detail": detail}
        except FutureTimeout:
            checks[name] = {"status": "failed", "detail": f"no answer within {timeout_s:.1f}s"}
        except Exception as exc:  # any failure of a probe is that service's problem, reported not raised
            checks[name] = {"status": "failed", "detail": f"{type(exc).__name__}: {exc}"[:200]}
    pool.shutdown(wait=False, cancel_futures=True)
    checks["tasks"] = {"status": "ok", "detail": f"{len(suite.dispatcher.pending())} pending"}
    ok = all(c["status"] != "failed" for c in checks.values())
    return ok, {"status": "ok" if ok else "degraded", "checks": checks, "functions": list(FUNCTIONS)}


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


def _health_app(suite: DevSuite) -> WsgiApp:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        ok, report = health_report(suite)
        return _json(report, 200 if ok else 503)(environ, start_response)

    return app


def _static_app(body: dict[str, Any]) -> WsgiApp:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return _json(body)(environ, start_response)

    return app


def _console_app(directory: Path = CONSOLE_DIR) -> WsgiApp:
    """``/`` is the console's index.html; its other files by name; anything else 404."""

    def index(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.path in ("", "/"):
            response = Response((directory / "index.html").read_bytes(), mimetype="text/html")
            response.headers["Cache-Control"] = "no-store"
        else:
            response = _json({"code": "not_found", "detail": f"nothing at {request.path}"}, 404)
        return response(environ, start_response)

    return SharedDataMiddleware(index, {"/": str(directory)}, cache=False)


def _frontend_app(directory: Path = CONSOLE_DIR) -> WsgiApp:
    """``/app/...`` (FRONTEND_URL): every page is the console, which reads its path (``/app/billing``,
    ``/app/billing/return?order=...``) and opens that part of the journey."""

    def page(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        response = Response((directory / "index.html").read_bytes(), mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    return page


# --- assembling the app ----------------------------------------------------------------------


def build_suite(
    settings: Settings,
    services: ServiceSet,
    *,
    local_dir: Path | None = None,
    time_scale: float = 1.0,
) -> DevSuite:
    """The stand-ins and the composition root for ``settings``; nothing is served yet.

    Installs a container built from ``settings`` as the process's, so the
    functions mounted in this process use exactly these settings.
    """
    ensure_dev_routes(settings)
    container = bootstrap.Container(settings)
    # The clock a person can move forward (/_dev/clock); kept across restarts with the rest of .local.
    container.clock = TravelClock(local_dir / "clock.json" if local_dir else None)
    if "firestore" in services.missing:
        # No emulator on this machine: an in-memory document store, lost on exit (the banner says so).
        from lib.testing.fakes import FakeDocuments

        container.documents = FakeDocuments()
    bootstrap.install(container)
    oidc = LocalOidcSigner.load_or_create(local_dir / "oidc" / "signer.pem") if local_dir else LocalOidcSigner()
    invoker = settings.tasks_invoker_email
    dispatcher = LocalTaskDispatcher(
        standard_queues(
            ai=settings.tasks_queue_ai,
            bcm=settings.tasks_queue_bcm,
            payments=settings.tasks_queue_payments,
            outbox=settings.tasks_queue_outbox,
        ),
        token_source=lambda audience: oidc.sign(audience, invoker),
        time_scale=time_scale,
        state_path=local_dir / "tasks" / "state.json" if local_dir else None,
        project=settings.gcp_project,
        location=settings.gcp_region,
        workers=DISPATCH_WORKERS,
    )
    return DevSuite(
        settings=settings,
        services=services,
        container=container,
        dispatcher=dispatcher,
        oidc=oidc,
        dev_auth=DevAuth(settings, container.db, key_path=local_dir / "auth" / "jwk.json" if local_dir else None),
        mail=MailCatcher(store_path=local_dir / "mail" / "messages.json" if local_dir else None),
        local_dir=local_dir,
    )


def _function_root(function_app: WsgiApp) -> WsgiApp:
    """Serve ``/<function>`` as the function's ``/`` (as Cloud Functions does), not as a redirect.

    Task targets and their default OIDC audience are ``<FUNCTIONS_BASE_URL>/<function>``;
    a 308 to the slashed URL would count as a failed delivery.
    """

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not environ.get("PATH_INFO"):
            environ["PATH_INFO"] = "/"
        return function_app(environ, start_response)

    return app


def build_wsgi(suite: DevSuite, functions: Iterable[str] = FUNCTIONS) -> WsgiApp:
    """Mount every function and stand-in under one WSGI app (``suite.mounts`` lists them)."""
    mounts: dict[str, WsgiApp] = {f"/{name}": _function_root(load_function_app(name)) for name in functions}
    mounts.update(
        {
            "/healthz": _health_app(suite),
            "/_dev/token": suite.dev_auth.token_app,
            "/_dev/auth": suite.dev_auth.auth_app,
            "/_dev/oidc/jwks": _static_app(suite.oidc.jwks()),
            "/_dev/tasks": suite.dispatcher.wsgi_app(),
            "/_dev/mail": suite.mail.wsgi_app,
            "/_dev/resend": suite.mail.wsgi_app,
            FRONTEND_PATH: _frontend_app(),
        }
    )
    for prefix, factory in DEV_MOUNTS:
        resolved = _resolve_factory(factory)
        if resolved is not None:
            mounts[prefix] = resolved(suite)
    suite.mounts = mounts
    return DispatcherMiddleware(_console_app(), mounts)


class LocalApp:
    """The whole local system as one WSGI app, with its parts (``suite``) and ``stop()``."""

    def __init__(self, suite: DevSuite, wsgi: WsgiApp) -> None:
        self.suite = suite
        self._wsgi = wsgi

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self._wsgi(environ, start_response)

    def stop(self) -> None:
        stop_suite(self.suite)


def build_app(settings: Settings, services: ServiceSet, *, local_dir: Path | None = None) -> LocalApp:
    """Everything ``run()`` serves, for ``settings`` and already-running ``services``; the
    task dispatcher is started.  Call ``.stop()`` when done (the services are the caller's)."""
    suite = build_suite(settings, services, local_dir=local_dir)
    app = LocalApp(suite, build_wsgi(suite))
    suite.dispatcher.start()
    return app


def stop_suite(suite: DevSuite) -> None:
    """Stop the dispatcher, close the container's pool and forget it (services are the caller's)."""
    suite.dispatcher.stop()
    db = suite.container.__dict__.get("db")  # a built_once property: present only if it was ever built
    close = getattr(db, "close", None)
    if callable(close):
        close()
    bootstrap.reset()


# --- run() -------------------------------------------------------------------------------------


def local_environment(services: ServiceSet, port: int, local_dir: Path) -> dict[str, str]:
    """The variables that point every adapter at the local stand-ins on ``port``."""
    base = f"http://{LOOPBACK}:{port}"
    return {
        **services.env,
        "APP_ENV": "local",
        "DEV_ROUTES": "true",
        "DEV_PORT": str(port),
        "LOCAL_DIR": str(local_dir),
        "FUNCTIONS_BASE_URL": base,
        "FRONTEND_URL": f"{base}{FRONTEND_PATH}",
        "SUPABASE_URL": f"{base}/_dev/auth",
        "OIDC_LOCAL_JWKS_URL": f"{base}/_dev/oidc/jwks",
        "TASKS_MODE": "local",
        "TASKS_LOCAL_URL": f"{base}/_dev/tasks",
        "RESEND_BASE_URL": f"{base}/_dev/resend",
        "PHONEPE_API_BASE": f"{base}/_dev/phonepe/apis/pg-sandbox",
        "PHONEPE_TOKEN_URL": f"{base}/_dev/phonepe/apis/pg-sandbox/v1/oauth/token",
        "GENAI_BASE_URL": f"{base}/_dev/gemini",
    }


def banner(suite: DevSuite, port: int, seconds: float) -> str:
    base = f"http://{LOOPBACK}:{port}"
    lines = [
        f"Local suite up in {seconds:.1f}s: {base}/  (data in {suite.local_dir})",
        f"  console     {base}/",
        f"  health      {base}/healthz",
        f"  sign in     curl -X POST {base}/_dev/token -H 'content-type: application/json'"
        """ -d '{"email": "me@example.com"}'""",
        f"  mail        {base}/_dev/mail/",
        f"  tasks       {base}/_dev/tasks/",
    ]
    lines += [f"  function    {base}/{name}/" for name in FUNCTIONS]
    for prefix, factory in DEV_MOUNTS:
        state = "" if prefix in suite.mounts else f"  (not available yet: {factory})"
        lines.append(f"  stand-in    {base}{prefix}/{state}")
    for name, why in suite.services.missing.items():
        lines.append(f"  missing     {name}: {why}")
    lines.append("Ctrl-C stops everything.")
    return "\n".join(lines)


def export_firestore(services: ServiceSet, project: str, data_dir: Path) -> bool:
    """Ask the Firestore emulator we started to export its data to ``<data_dir>/export``.

    ``devtools.local.services`` starts the emulator with ``--export-on-exit`` and re-imports
    ``export/export.overall_export_metadata`` at the next start, but the emulator's launcher
    does not run the export when it is stopped by a signal; its export API does the same job
    on demand.  Returns False (and logs) when there was nothing to export or it failed.
    """
    import httpx

    host = services.env.get("FIRESTORE_EMULATOR_HOST")
    if host is None or not any(c.name == "firestore" for c in services.children):
        return False  # not ours (given by URL) or not running
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        response = httpx.post(
            f"http://{host}/emulator/v1/projects/{project}:export",
            json={
                "database": f"projects/{project}/databases/(default)",
                "export_directory": str(data_dir),
                "export_name": FIRESTORE_EXPORT_NAME,
            },
            timeout=FIRESTORE_EXPORT_TIMEOUT_S,
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        logging.getLogger(__name__).warning("Firestore export failed: %s", exc)
        return False
    return True


def stop_local(suite: DevSuite | None, services: ServiceSet, local_dir: Path) -> None:
    """``make dev``'s shutdown once the HTTP server has stopped: the suite, then Firestore's
    data exported under ``local_dir`` (so the next start imports it), then every service.

    Shared by ``run()`` and the restart tests, so they stop exactly as ``make dev`` does.
    """
    if suite is not None:
        with contextlib.suppress(Exception):
            stop_suite(suite)
        export_firestore(services, suite.settings.gcp_project, local_dir / "firestore")
    services.stop()


def _set_environment(env: dict[str, str]) -> Settings:
    """Hand ``env`` to ``lib.config`` (the only reader of the environment) and re-read it."""
    import os

    os.environ.update(env)
    get_settings.cache_clear()
    return get_settings()


def _port_busy(port: int) -> str | None:
    """Why ``port`` cannot be listened on, or None when it is free."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server does
        try:
            probe.bind((LOOPBACK, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def run() -> int:
    """Start everything, serve until SIGINT/SIGTERM, then stop everything; the exit code."""
    from devtools.db.migrate import migrate
    from lib.logs import configure_logging

    started = time.monotonic()
    initial = get_settings()
    configure_logging(initial.log_level)
    for noisy in QUIET_LOGGERS:  # the functions log every request themselves
        logging.getLogger(noisy).setLevel(logging.WARNING)
    local_dir = Path(initial.local_dir).resolve()
    port = initial.dev_port
    busy = _port_busy(port)
    if busy is not None:  # before starting anything: nothing to clean up
        print(f"cannot listen on {LOOPBACK}:{port} ({busy}); set DEV_PORT to a free port", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    services = start_all(local_dir, persistent=True, buckets=[initial.gcs_bucket_exports, initial.gcs_bucket_evidence])
    suite: DevSuite | None = None
    server: BaseWSGIServer | None = None
    try:
        migrate(services.env["DATABASE_URL"], local_shim=True)
        settings = _set_environment(local_environment(services, port, local_dir))
        suite = build_suite(settings, services, local_dir=local_dir)
        app = build_wsgi(suite)
        server = make_server(LOOPBACK, port, app, threaded=True)
        threading.Thread(target=server.serve_forever, name="devserver", daemon=True).start()
        suite.dispatcher.start()
        print(banner(suite, port, time.monotonic() - started), flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping...", flush=True)
        return 0
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        stop_local(suite, services, local_dir)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
