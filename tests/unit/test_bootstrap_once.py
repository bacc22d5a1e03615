"""Container properties are built once per instance even when the first requests arrive together."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from lib.bootstrap import Container, built_once
from lib.config import Settings

THREADS = 16


class CountingContainer(Container):
    def __init__(self) -> None:
        super().__init__(Settings())
        self.builds: list[str] = []
        self.start = threading.Barrier(THREADS)

    @built_once
    def pool(self) -> object:
        self.builds.append("pool")
        time.sleep(0.02)  # a slow build: without the lock every waiting thread would build its own
        return object()

    @built_once
    def service(self) -> tuple[object, object]:
        self.builds.append("service")
        return (self.pool, object())  # re-entrant: one property building another


def test_sixteen_concurrent_first_uses_build_one_pool() -> None:
    c = CountingContainer()

    def first_request() -> object:
        c.start.wait()
        return c.pool

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda _: first_request(), range(THREADS)))
    assert c.builds == ["pool"]
    assert all(r is results[0] for r in results)


def test_a_property_built_from_another_reuses_it_and_assignment_replaces_it() -> None:
    c = CountingContainer()
    pool, _ = c.service
    assert pool is c.pool
    assert c.builds == ["service", "pool"]
    fake = object()
    c.pool = fake  # a test installing a fake, as with functools.cached_property
    assert c.pool is fake
    assert isinstance(CountingContainer.__dict__["pool"], built_once)
