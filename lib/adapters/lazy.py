"""A vendor client built on first use, once per instance, thread-safe.

Adapters must not connect or build clients at import or construction (cold
starts are paid per instance, and building may need credentials); the warm
instance then reuses the one client across requests and threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """``get()`` builds the value with ``build`` the first time (an injected ``value`` skips that)."""

    def __init__(self, build: Callable[[], T], value: T | None = None) -> None:
        self._build = build
        self._value = value
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value
