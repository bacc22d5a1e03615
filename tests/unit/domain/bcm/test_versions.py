"""Semantic versions of manifests: one case per rule (docs/domain.md, "The manifest")."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lib.domain.bcm import VersionChange, next_version, reduce_context
from lib.domain.bcm.versions import bump

GOLDEN = Path(__file__).resolve().parents[4] / "tests" / "golden"
Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return json.loads((GOLDEN / "typical.manifest.json").read_bytes())


def _changed(base: dict[str, Any], edit: Edit) -> dict[str, Any]:
    new = copy.deepcopy(base)
    edit(new)
    return new


def test_the_first_manifest_is_1_0_0(base: dict[str, Any]) -> None:
    assert next_version(None, None, base) == VersionChange("1.0.0", "initial")


def test_same_content_is_no_new_version(base: dict[str, Any]) -> None:
    assert next_version(base, "2.3.4", copy.deepcopy(base)) is None


def test_a_rebuild_of_unchanged_content_is_no_new_version() -> None:
    context = json.loads((GOLDEN / "typical.input.json").read_text())
    first = reduce_context(context, source="onboarding").manifest
    again = reduce_context(context, source="rebuild").manifest
    assert first["meta"]["source"] != again["meta"]["source"]
    assert next_version(first, "1.0.0", again) is None


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda m: m["meta"].update(schema_version="2.0"), id="schema_version"),
        pytest.param(lambda m: m["foundation"].update(company="Hisaab Technologies"), id="company"),
        pytest.param(lambda m: m["foundation"].update(category="GST software"), id="category"),
        pytest.param(lambda m: m["icps"].reverse(), id="primary_icp"),
    ],
)
def test_major_when_schema_or_identity_changes(base: dict[str, Any], edit: Edit) -> None:
    assert next_version(base, "1.4.2", _changed(base, edit)) == VersionChange("2.0.0", "major")


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda m: m["icps"].pop(), id="icp_set"),
        pytest.param(lambda m: m["competitive"]["alternatives"].append({"name": "Zoho GST"}), id="alternative_set"),
        pytest.param(lambda m: m["channels"][0].update(name="Podcasts"), id="channel_set"),
        pytest.param(lambda m: m["goals"]["kpis"].pop(0), id="kpi_set"),
        pytest.param(lambda m: m["foundation"].update(value_prop="Recover ITC monthly."), id="value_prop"),
    ],
)
def test_minor_when_a_set_of_names_or_the_value_prop_changes(base: dict[str, Any], edit: Edit) -> None:
    assert next_version(base, "1.4.2", _changed(base, edit)) == VersionChange("1.5.0", "minor")


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda m: m["icps"][0]["pains"].pop(), id="icp_detail"),
        pytest.param(lambda m: m["channels"].reverse(), id="channel_order_only"),
        pytest.param(lambda m: m["messaging"].update(one_liner="New words."), id="messaging"),
        pytest.param(lambda m: m["market"].update(som="INR 50 Cr"), id="market"),
        pytest.param(lambda m: m["foundation"].update(company="HISAAB  labs"), id="cosmetic_identity"),
        pytest.param(lambda m: m["meta"].update(compression="light"), id="meta"),
    ],
)
def test_patch_for_any_other_content_change(base: dict[str, Any], edit: Edit) -> None:
    assert next_version(base, "1.4.2", _changed(base, edit)) == VersionChange("1.4.3", "patch")


def test_a_change_of_volatile_fields_only_is_no_new_version(base: dict[str, Any]) -> None:
    new = _changed(base, lambda m: m["meta"].update(source="edit", token_count=1))
    assert next_version(base, "1.0.0", new) is None


def test_major_outranks_minor(base: dict[str, Any]) -> None:
    def both(m: dict[str, Any]) -> None:
        m["foundation"].update(company="New Co", value_prop="Different")

    assert next_version(base, "3.9.9", _changed(base, both)) == VersionChange("4.0.0", "major")


@pytest.mark.parametrize(
    ("version", "change", "expected"),
    [
        ("1.0.0", "major", "2.0.0"),
        ("1.9.3", "minor", "1.10.0"),
        ("1.9.3", "patch", "1.9.4"),
        ("7.1.1", "initial", "1.0.0"),
    ],
)
def test_bump(version: str, change: Any, expected: str) -> None:
    assert bump(version, change) == expected


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.0.0", "1.0.0-rc1", ""])
def test_a_malformed_previous_version_is_refused(base: dict[str, Any], version: str) -> None:
    with pytest.raises(ValueError, match=r"major\.minor\.patch"):
        next_version(base, version, _changed(base, lambda m: m["market"].update(som="x")))


def test_previous_manifest_and_version_go_together(base: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="together"):
        next_version(base, None, base)
    with pytest.raises(ValueError, match="together"):
        next_version(None, "1.0.0", base)
