"""``lib.domain.ids``: what counts as a UUID, and its one canonical spelling."""

from __future__ import annotations

import pytest

from lib.domain.ids import canonical_uuid

UPPER = "AAAAAAAA-0000-4000-8000-000000000001"


def test_canonical_form_is_lower_case_and_hyphenated() -> None:
    assert canonical_uuid(UPPER) == UPPER.lower()
    assert canonical_uuid(UPPER.replace("-", "")) == UPPER.lower()
    assert canonical_uuid(f"urn:uuid:{UPPER}") == UPPER.lower()
    assert canonical_uuid("{" + UPPER + "}") == UPPER.lower()


@pytest.mark.parametrize("value", ["", "not-a-uuid", "aaaaaaaa-0000-4000-8000-00000000000", None, 42])
def test_anything_else_is_none_never_an_exception(value: object) -> None:
    assert canonical_uuid(value) is None  # type: ignore[arg-type]
