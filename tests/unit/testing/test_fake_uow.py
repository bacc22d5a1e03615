"""The in-memory unit of work keeps a committed change and undoes everything else."""

from __future__ import annotations

import threading

import pytest

from lib.testing.fake_uow import FakeUnitOfWork


class _Store:
    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self._lock = threading.Lock()


def test_commit_keeps_the_change() -> None:
    store = _Store()
    uow = FakeUnitOfWork(store)
    with uow:
        store.rows["a"] = 1
        uow.commit()
    assert store.rows == {"a": 1}
    assert (uow.commits, uow.rollbacks) == (1, 0)


def test_leaving_without_commit_undoes_the_change() -> None:
    store = _Store()
    store.rows["kept"] = 0
    uow = FakeUnitOfWork(store)
    with uow:
        store.rows["a"] = 1
        store.rows["kept"] = 5
    assert store.rows == {"kept": 0}
    assert (uow.commits, uow.rollbacks) == (0, 1)


def test_an_exception_undoes_even_after_commit() -> None:
    store = _Store()
    uow = FakeUnitOfWork(store)

    def change_commit_then_fail() -> None:
        with uow:
            store.rows["a"] = 1
            uow.commit()
            raise KeyError("boom")

    with pytest.raises(KeyError):
        change_commit_then_fail()
    assert store.rows == {}


def test_a_unit_is_not_reentrant() -> None:
    uow = FakeUnitOfWork(_Store())
    with uow, pytest.raises(RuntimeError, match="re-entrant"), uow:
        pass


def test_only_data_is_undone_and_a_lock_serialises_units() -> None:
    class _Clocked(_Store):
        def __init__(self) -> None:
            super().__init__()
            self.clock = object()
            self.down = False

    store = _Clocked()
    clock = store.clock
    lock = threading.RLock()
    uow = FakeUnitOfWork(store, lock=lock)
    with uow:
        store.rows["a"] = 1
        store.down = True
        entered = threading.Event()

        def other() -> None:
            with FakeUnitOfWork(store, lock=lock):
                entered.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.05)  # the second unit waits for the first to end
    thread.join(1)
    assert entered.is_set()
    assert store.rows == {}
    assert store.clock is clock
    assert store.down is True
