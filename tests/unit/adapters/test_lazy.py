"""Clients are built on first use, once, even when many threads ask at the same time."""

from __future__ import annotations

import threading
import time

from lib.adapters.lazy import Lazy


def test_built_once_under_concurrency() -> None:
    calls: list[int] = []

    def build() -> object:
        calls.append(1)
        time.sleep(0.01)
        return object()

    lazy: Lazy[object] = Lazy(build)
    assert not lazy.built
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(lazy.get())) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert lazy.built
    assert all(v is seen[0] for v in seen)


def test_an_injected_value_is_never_rebuilt() -> None:
    injected = object()
    lazy: Lazy[object] = Lazy(lambda: (_ for _ in ()).throw(AssertionError("built")), injected)
    assert lazy.built
    assert lazy.get() is injected
