"""The whole local suite served on a free port with its task dispatcher running: what the over-HTTP
journeys (e2e, the fuzzer, the TypeScript client, the browser) share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from devtools.local.devserver import DevSuite, LocalApp, build_suite, build_wsgi
from devtools.local.services import ServiceSet, free_port
from devtools.local.travel_clock import TravelClock
from lib.adapters.phonepe import TOKEN_KEY as PHONEPE_TOKEN_KEY
from lib.config import Settings
from tests.e2e.support import base_url, serving, suite_settings

# Real seconds per travelled second while the suite waits on its own clock (tasks' delays, ladders).
TIME_SCALE = 0.05


@dataclass(frozen=True)
class Served:
    base: str
    dev: DevSuite
    app: LocalApp
    settings: Settings


@contextmanager
def served_suite(
    services: ServiceSet, settings: Settings, *, time_scale: float = 1.0, gemini: bool = False, **update: Any
) -> Iterator[Served]:
    """Every function, the PhonePe simulator, the mail catcher and the dispatcher on one port, with no
    PhonePe token cached by an earlier simulator instance; ``gemini`` aims the AI worker at the Gemini
    stand-in; ``update`` overrides settings."""
    port = free_port()
    base = base_url(port)
    if gemini:
        update["genai_base_url"] = f"{base}/_dev/gemini"
    local = suite_settings(settings, port, **update)
    dev = build_suite(local, services, time_scale=time_scale)
    dev.container.kv.delete(PHONEPE_TOKEN_KEY)
    app = LocalApp(dev, build_wsgi(dev))
    dev.dispatcher.start()
    try:
        with serving(app, port):
            yield Served(base, dev, app, local)
    finally:
        app.stop()


@contextmanager
def travelling_suite(
    services: ServiceSet, settings: Settings, *, timeout_s: float
) -> Iterator[tuple[httpx.Client, DevSuite]]:
    """(a client of the suite, the suite), on a ``TravelClock`` the journeys move."""
    with served_suite(services, settings, time_scale=TIME_SCALE) as served:
        assert isinstance(served.dev.container.clock, TravelClock)
        with httpx.Client(base_url=served.base, timeout=timeout_s) as client:
            yield client, served.dev
