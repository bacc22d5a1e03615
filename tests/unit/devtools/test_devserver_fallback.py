"""Without the Firestore emulator, `make dev` still runs, on an in-memory document store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.local.devserver import build_suite
from devtools.local.services import ServiceSet
from lib import bootstrap
from lib.config import Settings
from lib.testing.fakes import FakeDocuments


@pytest.fixture(autouse=True)
def _forget_installed_container() -> Iterator[None]:
    yield
    bootstrap.reset()  # build_suite installs its container for the process


def test_missing_firestore_emulator_falls_back_to_memory(tmp_path: Path) -> None:
    services = ServiceSet(root=tmp_path, missing={"firestore": "not installed"})
    suite = build_suite(Settings(app_env="local", dev_routes=True), services)
    assert isinstance(suite.container.documents, FakeDocuments)
    suite.container.documents.set("c", "d", {"x": 1})
    assert suite.container.documents.get("c", "d") == {"x": 1}


def test_with_the_emulator_the_real_adapter_is_used(tmp_path: Path) -> None:
    services = ServiceSet(root=tmp_path)
    suite = build_suite(Settings(app_env="local", dev_routes=True, firestore_emulator_host="127.0.0.1:1"), services)
    assert not isinstance(suite.container.documents, FakeDocuments)
