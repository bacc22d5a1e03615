"""What the browser journey shares: finding Chromium and axe-core, watching pages, recording stages.

Chromium is the system's (Debian's ``chromium`` package: ``CHROMIUM``, else
``chromium`` on PATH, else ``/usr/bin/chromium``); Playwright's own browser
download is never used.  axe-core comes from ``tests/browser/node_modules``,
installed by ``make test`` from ``tests/browser/package-lock.json``.

``Watch`` listens to every page of a browser context and collects what a
founder's browser should never show: a console error, an uncaught page error,
a request that failed, a 4xx/5xx response.  A response the journey provokes on
purpose is declared first with ``watch.expect(...)`` and is then no problem.

``Stages`` writes one screenshot per stage to ``.local/journey/`` and, at each
stage, runs axe-core (zero serious or critical violations) and, at a narrow
width, checks that nothing scrolls sideways; those findings are gathered and
fail the test at its end (``finish``), so one run lists them all, while the
watcher's problems fail at the stage where they happen.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
JOURNEY_DIR = REPO / ".local" / "journey"
# Where Debian's package puts the browser when it is not on PATH.
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
# axe impacts that fail the journey.
BLOCKING_IMPACTS = ("serious", "critical")
# Chromium's console line for a response with an error status (the response itself is judged on its own).
FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})")


def require_emulators() -> bool:
    return os.environ.get("REQUIRE_EMULATORS") == "1"


def missing(what: str) -> None:
    """Fail under ``REQUIRE_EMULATORS=1`` (CI), else skip with the reason: never a silent pass."""
    if require_emulators():
        pytest.fail(f"REQUIRE_EMULATORS=1 but {what}")
    pytest.skip(what)


def find_chromium() -> str | None:
    """``CHROMIUM`` if set (it must exist), else ``chromium`` on PATH, else Debian's path."""
    named = os.environ.get("CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return str(DEBIAN_CHROMIUM) if DEBIAN_CHROMIUM.exists() else None


def launch_args() -> list[str]:
    """Chromium refuses its sandbox as root (CI containers): only then is it turned off."""
    args = ["--disable-dev-shm-usage"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


# --- watching pages -----------------------------------------------------------------------------


@dataclass
class Expected:
    """A response the journey provokes on purpose: ``method`` on a path matching ``path``, ``status``."""

    method: str
    path: re.Pattern[str]
    status: int
    why: str
    seen: int = 0

    def matches(self, method: str, path: str, status: int) -> bool:
        return method == self.method and status == self.status and bool(self.path.search(path))


@dataclass
class Watch:
    """Everything unexpected the pages of one context report; ``check()`` fails on any of it."""

    problems: list[str] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    # URLs whose error status was expected: Chromium's console line about them is not a problem either.
    _excused: set[str] = field(default_factory=set)
    responses: list[tuple[str, str, int]] = field(default_factory=list)
    # Chromium aborts a navigation that turns into a download; each must be a download the journey took.
    _aborted_navigations: list[str] = field(default_factory=list)
    _downloads: set[str] = field(default_factory=set)

    def expect(self, method: str, path: str, status: int, why: str) -> Expected:
        entry = Expected(method, re.compile(path), status, why)
        self.expected.append(entry)
        return entry

    @contextmanager
    def expecting(self, method: str, path: str, status: int, why: str) -> Iterator[Expected]:
        """Within the block only; the block must have provoked it at least once."""
        entry = self.expect(method, path, status, why)
        try:
            yield entry
        finally:
            self.expected.remove(entry)
        assert entry.seen, f"expected {method} {path} -> {status} ({why}), never seen"

    def attach(self, context: BrowserContext) -> None:
        for page in context.pages:
            self._attach(page)
        context.on("page", self._attach)

    def _attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error on {page.url}: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = str(message.location.get("url", ""))
        failed_load = FAILED_LOAD.match(message.text)
        if failed_load and (url in self._excused or self._expected_url(url, int(failed_load.group(1)))):
            return
        self.problems.append(f"console error at {url or '?'}: {message.text}")

    def downloaded(self, url: str) -> None:
        """``url`` was a download the journey expected (its navigation's abort is no failure)."""
        self._downloads.add(url)

    def _expected_url(self, url: str, status: int) -> bool:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return any(e.status == status and e.path.search(path) for e in self.expected)

    def _failed(self, request: Request) -> None:
        if request.failure == "net::ERR_ABORTED" and request.is_navigation_request():
            self._aborted_navigations.append(request.url)
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        request = response.request
        parts = urlsplit(response.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.responses.append((request.method, path, response.status))
        if response.status < 400:
            return
        for entry in self.expected:
            if entry.matches(request.method, path, response.status):
                entry.seen += 1
                self._excused.add(response.url)
                return
        self.problems.append(f"unexpected {response.status}: {request.method} {path}")

    def check(self, where: str) -> None:
        for url in self._aborted_navigations:
            if url not in self._downloads:
                self.problems.append(f"navigation aborted (and no download expected): {url}")
        self._aborted_navigations = []
        if self.problems:
            found, self.problems = self.problems, []
            raise AssertionError(f"at {where}:\n  " + "\n  ".join(found))


# --- stages ---------------------------------------------------------------------------------------


def axe_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (injected when absent)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, so no Content-Security-Policy stands in the way.
        page.evaluate(axe_source)
    found: list[dict[str, Any]] = page.evaluate(
        """async (blocking) => {
            const result = await window.axe.run(document, { resultTypes: ["violations"] });
            return result.violations
                .filter((v) => blocking.includes(v.impact))
                .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                               nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
        }""",
        list(BLOCKING_IMPACTS),
    )
    return found


def horizontal_overflow(page: Page) -> tuple[int, int]:
    """``(scrollWidth, innerWidth)`` of the document: the first above the second scrolls sideways."""
    sizes: list[int] = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    return sizes[0], sizes[1]


@dataclass
class Stages:
    """One screenshot, one axe run and the watcher's verdict per stage; what was written, in order."""

    axe_source: str
    watch: Watch
    prefix: str = ""
    written: list[Path] = field(default_factory=list)
    narrow: bool = False
    # axe's findings per stage, kept to the end (``finish``) so one run lists every stage's.
    findings: list[str] = field(default_factory=list)
    # Where the screenshots go (the journey's folder unless a test of the judges says otherwise).
    directory: Path = JOURNEY_DIR

    def __call__(self, page: Page, name: str) -> None:
        label = f"{self.prefix}{name}"
        page.wait_for_load_state("load")
        journey = self.directory == JOURNEY_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        shot = self.directory / f"{len(written_this_run if journey else self.written) + 1:02d}-{label}.png"
        page.screenshot(path=str(shot), full_page=True)
        self.written.append(shot)
        if journey:
            written_this_run.append(shot)
        self.findings += [
            f"{label}: {v['impact']} {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
            for v in axe_violations(page, self.axe_source)
        ]
        if self.narrow:
            scroll, inner = horizontal_overflow(page)
            if scroll > inner:
                self.findings.append(f"{label}: scrolls sideways at {inner} px wide (scrollWidth {scroll})")
        self.watch.check(label)

    def finish(self) -> None:
        """Fail on what axe (or the width check) found at any stage; the screenshots stay for a look."""
        assert not self.findings, "accessibility and layout:\n  " + "\n  ".join(self.findings)


# Every screenshot of this pytest run, for the terminal summary (tests/browser/conftest.py).
written_this_run: list[Path] = []


def clear_journey_dir() -> None:
    if JOURNEY_DIR.exists():
        for old in JOURNEY_DIR.glob("*.png"):
            old.unlink()
