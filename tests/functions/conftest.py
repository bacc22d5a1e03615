"""Every response these tests see must match docs/openapi.json (``tests/contract_conformance.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract_conformance import Conformance, assert_conforms, checking


@pytest.fixture(scope="session")
def conformance() -> Iterator[Conformance]:
    yield from checking()


@pytest.fixture(autouse=True)
def _responses_match_the_contract(conformance: Conformance) -> Iterator[None]:
    conformance.take()  # what an earlier module's setup saw is that module's
    yield
    assert_conforms(conformance)
