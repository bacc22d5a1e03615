"""The console measured in the browser: Chromium (the system's) driving the local suite over HTTP.

- ``baseline.browser_blank_load``: a fresh browser context (cold cache) loads a
  one-line HTML page from the same server: what any first load costs at least.
- ``browser.console_first_load``: a fresh context loads the console for a
  signed-in founder in the middle of onboarding; each sample is the navigation
  start to the later of the load event and the last response the page fetched
  while settling (its first API calls included).  p95 <= 1 s; the ratio is
  over the blank page.
- ``baseline.browser_fetch``: an in-page ``fetch`` of a small static file,
  uncached: the browser's round trip to this server, at least.
- ``browser.autosave_round_trip``: the founder types in an open step and the
  console autosaves it; each sample is the save request as Chromium timed it
  (sent to the response's last byte).  p95 <= 100 ms; the ratio is over the
  bare fetch.

The app is the dev server's (every function, the stand-ins, the dispatcher)
served in this process on a free port; Chromium is found as the browser tests
find it (``CHROMIUM``, ``chromium`` on PATH, ``/usr/bin/chromium``): without it
the rows are skipped.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import BenchContext, Measured, Operation, ScenarioSkipped, Target, scenario
from tools.functions import REPO

FIRST_LOAD = Target(p95_ms=1000.0)
AUTOSAVE = Target(p95_ms=100.0)
# The page the blank baseline loads (served next to the suite by this module, not by the app).
BLANK_PATH = "/_bench/blank"
BLANK_PAGE = b"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>blank</title></head><body></body>"
# A first load may not take longer than this to settle before it counts as broken (ms).
SETTLE_TIMEOUT_MS = 10_000
# The quiet gap after which a first load counts as settled (no request started or in flight, ms).
QUIET_MS = 300
# How often the settling page is looked at (ms).
POLL_MS = 25
STEPS_FIXTURE = REPO / "tests" / "unit" / "fixtures" / "steps_complete.json"


@dataclass
class _Console:
    base: str
    token: str
    workspace_id: str
    email: str
    session_id: str
    browser: Any


def _chromium() -> str:
    named = os.environ.get("CHROMIUM")
    if named and Path(named).exists():
        return named
    import shutil

    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    raise ScenarioSkipped("no Chromium (install Debian's chromium package or set CHROMIUM)")


def _with_blank_page(app: Any) -> Callable[[dict[str, Any], Any], Any]:
    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == BLANK_PATH:
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")])
            return [BLANK_PAGE]
        return app(environ, start_response)

    return wsgi


@contextmanager
def _console(ctx: BenchContext) -> Iterator[_Console]:
    """The local suite on a free port, a founder on the free plan with an onboarding session, Chromium."""
    ctx.require("postgres", "redis", "firestore", "storage")
    if "schema" in ctx.missing:
        raise ScenarioSkipped(ctx.missing["schema"])
    chromium = _chromium()
    import httpx
    from playwright.sync_api import sync_playwright

    from devtools.local.devserver import LocalApp, build_suite, build_wsgi
    from devtools.local.services import ServiceSet, free_port
    from lib.config import Settings
    from tests.e2e.support import serving, suite_settings

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    local = Settings(app_env="local", dev_routes=True)
    settings = suite_settings(local, port, genai_base_url=f"{base}/_dev/gemini")
    services = ServiceSet(root=Path("."), env=dict(ctx.env), missing=dict(ctx.missing))
    dev = build_suite(settings, services)
    app = LocalApp(dev, build_wsgi(dev))
    dev.dispatcher.start()
    # werkzeug's line per request goes to stderr, where the progress is.
    server_log = logging.getLogger("werkzeug")
    level = server_log.level
    server_log.setLevel(logging.WARNING)
    try:
        with serving(_with_blank_page(app), port), httpx.Client(base_url=base, timeout=10) as http:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            who = http.post("/_dev/token", json={"email": email})
            who.raise_for_status()
            token = who.json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            http.post("/initiate_payment/", json={"plan": "free", "billing_period": "monthly"}, headers=headers)
            started = http.post("/onboarding_step/sessions", json={}, headers=headers)
            started.raise_for_status()
            session_id = started.json()["session_id"]
            company = json.loads(STEPS_FIXTURE.read_text(encoding="utf-8"))["company_profile"]
            step_one = f"/onboarding_step/sessions/{session_id}/steps/1"
            http.put(step_one, json={"data": company, "draft": True}, headers=headers).raise_for_status()
            with sync_playwright() as playwright:
                args = ["--disable-dev-shm-usage"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
                browser = playwright.chromium.launch(executable_path=chromium, args=args)
                try:
                    yield _Console(base, token, who.json()["workspace_id"], email, session_id, browser)
                finally:
                    browser.close()
    finally:
        app.stop()
        server_log.setLevel(level)


def _signed_in(console: _Console) -> dict[str, Any]:
    """A storage state in which the console opens signed in, in the founder's session."""
    values = {
        "bcm.token": console.token,
        "bcm.email": console.email,
        "bcm.workspace": console.workspace_id,
        "bcm.session": console.session_id,
    }
    return {
        "cookies": [],
        "origins": [{"origin": console.base, "localStorage": [{"name": k, "value": v} for k, v in values.items()]}],
    }


SETTLED_JS = """() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const ends = performance.getEntriesByType("resource").map((r) => r.responseEnd);
    return Math.max(nav.loadEventEnd, ...ends);
}"""


def _first_load(console: _Console, path: str, state: dict[str, Any] | None, *, reads: str | None = None) -> Measured:
    """Navigation start to the later of the load event and the last response, in a fresh context.

    A sample counts only when the page threw nothing and, with ``reads``, fetched that path with a 200.
    """
    context = console.browser.new_context(base_url=console.base, storage_state=state)
    try:
        page = context.new_page()
        errors: list[str] = []
        ok: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("response", lambda response: ok.append(response.url) if response.status == 200 else None)
        pending: set[Any] = set()

        def started(request: Any) -> None:
            pending.add(request)

        def ended(request: Any) -> None:
            pending.discard(request)

        page.on("request", started)
        page.on("requestfinished", ended)
        page.on("requestfailed", ended)
        page.goto(path, wait_until="load", timeout=SETTLE_TIMEOUT_MS)
        waited = quiet = 0
        while quiet < QUIET_MS:
            if waited > SETTLE_TIMEOUT_MS:
                raise RuntimeError(f"{path} never settled: {len(pending)} requests in flight")
            page.wait_for_timeout(POLL_MS)
            waited += POLL_MS
            quiet = 0 if pending else quiet + POLL_MS
        if errors:
            raise RuntimeError(f"{path}: the page threw: {errors[0]}")
        if reads and not any(reads in url for url in ok):
            raise RuntimeError(f"{path} never read {reads}")
        ms = float(page.evaluate(SETTLED_JS))
        return Measured(int(ms * 1e6))
    finally:
        context.close()


@scenario("baseline.browser_blank_load", iterations=20, warmup=2, budget_s=20.0)
def blank_load(ctx: BenchContext) -> Generator[Operation, None, None]:
    with _console(ctx) as console:
        yield lambda: _first_load(console, BLANK_PATH, None)


@scenario(
    "browser.console_first_load",
    baseline="baseline.browser_blank_load",
    target=FIRST_LOAD,
    iterations=20,
    warmup=2,
    budget_s=30.0,
)
def console_first_load(ctx: BenchContext) -> Generator[Operation, None, None]:
    with _console(ctx) as console:
        state = _signed_in(console)
        session = f"/onboarding_step/sessions/{console.session_id}"
        yield lambda: _first_load(console, "/", state, reads=session)


FETCH_JS = """async (path) => {
    const url = `${path}?n=${Math.random()}`;
    await (await fetch(url, { cache: "no-store" })).arrayBuffer();
    const entry = performance.getEntriesByName(new URL(url, location.href).href).pop();
    return entry.responseEnd - entry.startTime;
}"""


@scenario("baseline.browser_fetch", iterations=200, warmup=20, budget_s=10.0)
def bare_fetch(ctx: BenchContext) -> Generator[Operation, None, None]:
    with _console(ctx) as console:
        context = console.browser.new_context(base_url=console.base)
        try:
            page = context.new_page()
            page.goto(BLANK_PATH)

            def op() -> Measured:
                return Measured(int(float(page.evaluate(FETCH_JS, BLANK_PATH)) * 1e6))

            yield op
        finally:
            context.close()


@scenario(
    "browser.autosave_round_trip",
    baseline="baseline.browser_fetch",
    target=AUTOSAVE,
    iterations=30,
    warmup=3,
    budget_s=60.0,
)
def autosave_round_trip(ctx: BenchContext) -> Generator[Operation, None, None]:
    with _console(ctx) as console:
        state = _signed_in(console)
        state["origins"][0]["localStorage"].append({"name": "bcm.step", "value": "1"})
        context = console.browser.new_context(base_url=console.base, storage_state=state)
        try:
            page = context.new_page()
            page.goto("/")
            description = page.get_by_label("Description", exact=True)
            description.press("End")
            status = page.locator("#save-status")
            save = f"/onboarding_step/sessions/{console.session_id}/steps/1"

            def is_save(response: Any) -> bool:
                return bool(response.request.method == "PUT" and response.url.endswith(save))

            def op() -> Measured:
                with page.expect_response(is_save, timeout=SETTLE_TIMEOUT_MS) as info:
                    description.press("x")
                response = info.value
                if response.status != 200:
                    raise RuntimeError(f"autosave answered {response.status}: {response.text()}")
                response.finished()
                page.wait_for_function("(node) => node.textContent === 'Saved'", arg=status.element_handle())
                return Measured(int(float(response.request.timing["responseEnd"]) * 1e6))

            yield op
        finally:
            context.close()
