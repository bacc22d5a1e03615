"""The in-memory unit of work: a snapshot of its stores on enter, put back unless committed.

A feature's fake unit of work subclasses ``FakeUnitOfWork`` with its fake
repositories as the stores.  The fake only stores: every rule runs in the
service that opened the unit, exactly as it does over Postgres.
"""

from __future__ import annotations

import copy
import threading
from types import TracebackType
from typing import Any, Self

_UNCOPIED = (type(threading.Lock()), type(threading.RLock()))


def _state(store: object) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in vars(store).items() if not isinstance(v, _UNCOPIED)}


class FakeUnitOfWork:
    """``lib.ports.UnitOfWork`` over in-memory stores; counts commits for tests."""

    def __init__(self, *stores: object) -> None:
        self._stores = stores
        self._snapshots: list[dict[str, Any]] | None = None
        self._committed = False
        self.commits = 0
        self.rollbacks = 0

    def __enter__(self) -> Self:
        if self._snapshots is not None:
            raise RuntimeError("a unit of work is not re-entrant; open a new one")
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
        if exc is None and self._committed:
            self.commits += 1
            return
        self.rollbacks += 1
        for store, state in zip(self._stores, snapshots, strict=True):
            vars(store).update(state)
