"""The whole local suite on the movable clock, served on a free port with its task dispatcher running:
what the subscription journeys share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from devtools.local.devserver import DevSuite, LocalApp, build_suite, build_wsgi
from devtools.local.services import ServiceSet, free_port
from devtools.local.travel_clock import TravelClock
from lib.adapters.phonepe import TOKEN_KEY as PHONEPE_TOKEN_KEY
from lib.config import Settings
from tests.e2e.support import base_url, serving, suite_settings

# Real seconds per travelled second while the suite waits on its own clock (tasks' delays, ladders).
TIME_SCALE = 0.05


@contextmanager
def travelling_suite(
    services: ServiceSet, settings: Settings, *, timeout_s: float
) -> Iterator[tuple[httpx.Client, DevSuite]]:
    """(a client of the suite, the suite): every function, the PhonePe simulator and the dispatcher on a
    ``TravelClock``, with no PhonePe token cached from an earlier suite."""
    port = free_port()
    dev = build_suite(suite_settings(settings, port), services, time_scale=TIME_SCALE)
    assert isinstance(dev.container.clock, TravelClock)
    dev.container.kv.delete(PHONEPE_TOKEN_KEY)
    app = LocalApp(dev, build_wsgi(dev))
    dev.dispatcher.start()
    try:
        with serving(app, port), httpx.Client(base_url=base_url(port), timeout=timeout_s) as client:
            yield client, dev
    finally:
        app.stop()
