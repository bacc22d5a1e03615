"""Canonical JSON and the manifest checksum (RFC 8785 style; volatile meta fields left out)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from lib.domain.bcm import VOLATILE_META_FIELDS, canonical_json, manifest_checksum, reduce_context

GOLDEN = Path(__file__).resolve().parents[4] / "tests" / "golden"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((GOLDEN / "typical.manifest.json").read_bytes())


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_unicode() -> None:
    assert canonical_json({"b": [1, {"z": None, "a": True}], "a": "₹ café"}) == (
        '{"a":"₹ café","b":[1,{"a":true,"z":null}]}'.encode()
    )


def test_canonical_json_writes_integral_floats_as_jcs_integers() -> None:
    assert canonical_json({"x": 1.0, "y": 2.5, "z": -0.0}) == b'{"x":1,"y":2.5,"z":0}'
    # ECMAScript prints the shortest digits, then zeros, up to 1e21 (RFC 8785 appendix B).
    assert canonical_json([1e20, 2.0**60, 1e21]) == b"[100000000000000000000,1152921504606847000,1e+21]"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_canonical_json_refuses_nan_and_infinity(bad: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": bad})


def test_key_order_does_not_change_the_checksum(manifest: dict[str, Any]) -> None:
    reordered = {key: manifest[key] for key in reversed(list(manifest))}
    reordered["meta"] = {key: manifest["meta"][key] for key in reversed(list(manifest["meta"]))}
    assert manifest_checksum(reordered) == manifest_checksum(manifest)


def test_checksum_is_sha256_of_the_canonical_non_volatile_content(manifest: dict[str, Any]) -> None:
    content = copy.deepcopy(manifest)
    for key in ("source", "token_count"):
        del content["meta"][key]
    expected = hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    assert manifest_checksum(manifest) == expected
    assert len(expected) == 64


def test_volatile_fields_do_not_change_the_checksum(manifest: dict[str, Any]) -> None:
    other = copy.deepcopy(manifest)
    other["meta"].update(source="rebuild", token_count=7, generated_at="2030-01-01T00:00:00Z")
    assert manifest_checksum(other) == manifest_checksum(manifest)
    assert set(VOLATILE_META_FIELDS) >= {"source", "token_count", "generated_at"}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: m["foundation"].update(company="Hisaab Labs."),
        lambda m: m["icps"][0]["pains"].reverse(),
        lambda m: m["channels"].pop(),
        lambda m: m["meta"].update(compression="light"),
        lambda m: m["meta"]["counts"].update(facts=10),
        lambda m: m["market"].update(tam="INR 4,201 Cr"),
    ],
)
def test_tampering_any_content_field_changes_the_checksum(manifest: dict[str, Any], tamper: Any) -> None:
    tampered = copy.deepcopy(manifest)
    tamper(tampered)
    assert manifest_checksum(tampered) != manifest_checksum(manifest)


def test_reducer_checksum_is_the_checksum_of_its_manifest() -> None:
    context = json.loads((GOLDEN / "small.input.json").read_text())
    reduced = reduce_context(context, source="edit")
    assert reduced.checksum == manifest_checksum(reduced.manifest)
    assert reduced.checksum == manifest_checksum(json.loads(reduced.canonical))


def test_canonical_json_accepts_any_mapping_sequence_and_float_subclass() -> None:
    from types import MappingProxyType

    class Ratio(float):
        pass

    data = MappingProxyType({"b": (1, Ratio(2.0)), "a": MappingProxyType({"x": Ratio(0.5)})})
    assert canonical_json(data) == b'{"a":{"x":0.5},"b":[1,2]}'
