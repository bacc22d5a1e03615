"""Fixtures the PhonePe client's tests share: a manual clock, the token cache and a scripted PhonePe."""

from __future__ import annotations

import pytest

from lib.testing.fakes import FakeKeyValue, ManualClock
from tests.unit.adapters.test_phonepe_client import FakePhonePe


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def kv(clock: ManualClock) -> FakeKeyValue:
    return FakeKeyValue(clock)


@pytest.fixture
def phonepe(clock: ManualClock) -> FakePhonePe:
    return FakePhonePe(clock)
