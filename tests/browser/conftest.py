"""Fixtures of the browser layer: the local suite on a free port, the system Chromium, axe-core.

The suite is the dev server's app (every function, the PhonePe simulator, the
Gemini stand-in, the task dispatcher, the mail catcher) over the session's
real services, as ``tests/e2e`` serves it.  Chromium or axe-core missing is a
skip with the reason, and a failure under ``REQUIRE_EMULATORS=1`` (CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from devtools.local.devserver import LocalApp
from devtools.local.services import ServiceSet
from lib.config import Settings
from tests.browser.browser_support import (
    AXE_JS,
    REPO,
    clear_journey_dir,
    find_chromium,
    launch_args,
    missing,
    written_this_run,
)
from tests.conftest import needs
from tests.e2e.served import served_suite

# How long an assertion on the page waits (Playwright's default is 5 s): the AI stand-in's answer and a
# rebuild go through the task dispatcher, which a loaded CI machine may slow down.
EXPECT_TIMEOUT_MS = 20_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@dataclass
class Suite:
    """The local suite as the browser sees it: its base URL and a plain HTTP client to it."""

    app: LocalApp
    base: str
    http: httpx.Client

    def api(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        """The API as the console calls it, with the founder's token (for comparisons and quick fills)."""
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        missing("no Chromium: install Debian's chromium package, put it on PATH or set CHROMIUM")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.exists():
        missing(f"axe-core is not installed at {AXE_JS.relative_to(REPO)} (make test runs npm ci in tests/browser)")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def journey_dir() -> None:
    """``.local/journey/`` emptied once per run: what is left there is this run's."""
    clear_journey_dir()


@pytest.fixture(scope="module")
def browser(chromium: str, journey_dir: None) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=launch_args())
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def suite(services: ServiceSet, settings: Settings) -> Iterator[Suite]:
    needs(services, "firestore")
    with (
        served_suite(services, settings, gemini=True) as served,
        httpx.Client(base_url=served.base, timeout=30) as client,
    ):
        yield Suite(served.app, served.base, client)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if written_this_run:
        terminalreporter.section("browser journey screenshots")
        for path in written_this_run:
            terminalreporter.write_line(str(path.relative_to(REPO)))
