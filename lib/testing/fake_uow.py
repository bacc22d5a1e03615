"""The in-memory unit of work: a snapshot of its stores on enter, put back unless committed.

A feature's fake unit of work subclasses ``FakeUnitOfWork`` with its fake
repositories as the stores.  The fake only stores: every rule runs in the
service that opened the unit, exactly as it does over Postgres.
"""

from __future__ import annotations

import copy
from types import TracebackType
from typing import Any, Self

# What a store keeps as data (its "tables"); anything else (locks, clocks, switches) is not undone.
_DATA = (dict, list, set)


def _state(store: object) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in vars(store).items() if isinstance(v, _DATA)}


class FakeUnitOfWork:
    """``lib.ports.UnitOfWork`` over in-memory stores; counts commits for tests."""

    def __init__(self, *stores: object, lock: Any = None) -> None:
        """``lock`` (the stores' own ``threading.RLock``), when given, is held for the whole block:
        units over the same stores run one at a time, as serialisable transactions would."""
        self._stores = stores
        self._lock = lock
        self._snapshots: list[dict[str, Any]] | None = None
        self._committed = False
        self.commits = 0
        self.rollbacks = 0

    def __enter__(self) -> Self:
        if self._snapshots is not None:
            raise RuntimeError("a unit of work is not re-entrant; open a new one")
        if self._lock is not None:
            self._lock.acquire()
        self._committed = False
        self._snapshots = [_state(store) for store in self._stores]
        return self

    def commit(self) -> None:
        self._committed = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        snapshots, self._snapshots = self._snapshots, None
        assert snapshots is not None, "__exit__ without __enter__"
        try:
            if exc is None and self._committed:
                self.commits += 1
                return
            self.rollbacks += 1
            for store, state in zip(self._stores, snapshots, strict=True):
                vars(store).update(state)
        finally:
            if self._lock is not None:
                self._lock.release()
