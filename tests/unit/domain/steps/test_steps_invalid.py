"""Types and limits: always checked (drafts too), every error names its field and says why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lib.domain.steps import MAX_STEP_BYTES, payload_size, step_by_number, step_by_slug, validate_step
from lib.errors import NotFound, Unprocessable

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "steps_complete.json"


def _errors(number: int, data: Any, *, draft: bool = True) -> list[tuple[str, str]]:
    with pytest.raises(Unprocessable) as caught:
        validate_step(number, data, draft=draft)
    assert caught.value.status == 422
    assert caught.value.code == "step_invalid"
    return [(error.path, error.message) for error in caught.value.errors]


def _paths(number: int, data: Any) -> list[str]:
    return [path for path, _ in _errors(number, data)]


@pytest.mark.parametrize("draft", [True, False])
def test_wrong_types_name_each_field(draft: bool) -> None:
    data = {"name": 42, "founded_year": "2021", "team_size": 12.5, "stage": "unicorn", "website": ["x"]}
    assert _errors(1, data, draft=draft) == [
        ("data.name", "must be text"),
        ("data.website", "must be text"),
        ("data.stage", "must be one of 'idea', 'mvp', 'early_revenue', 'growth' or 'scale'"),
        ("data.founded_year", "must be a whole number"),
        ("data.team_size", "must be a whole number"),
    ]


def test_nested_wrong_types_have_list_indexes() -> None:
    data = {
        "items": [
            {"id": "e1", "kind": "note", "text": "fine"},
            {"id": "e2", "kind": "note", "text": "fine"},
            {"id": "e3", "kind": "pdf", "tags": ["ok", 7]},
            "not an object",
        ]
    }
    assert _errors(2, data) == [
        ("data.items.2.kind", "must be one of 'url', 'file' or 'note'"),
        ("data.items.2.tags.1", "must be text"),
        ("data.items.3", "must be an object"),
    ]


def test_booleans_and_numbers_are_strict() -> None:
    assert _errors(5, {"locked": "yes"}) == [("data.locked", "must be true or false")]
    assert _errors(3, {"facts": [{"confidence": "0.9"}]}) == [("data.facts.0.confidence", "must be a number")]
    assert _errors(15, {"awareness_stage": True}) == [("data.awareness_stage", "must be a whole number")]


@pytest.mark.parametrize(
    ("number", "data", "path", "message"),
    [
        (3, {"facts": [{"confidence": 1.01}]}, "data.facts.0.confidence", "must be at most 1"),
        (3, {"facts": [{"confidence": -0.1}]}, "data.facts.0.confidence", "must be at least 0"),
        (7, {"insights": [{"sentiment": -1.5}]}, "data.insights.0.sentiment", "must be at least -1"),
        (11, {"our_position": {"x": 101, "y": 5}}, "data.our_position.x", "must be at most 100"),
        (11, {"competitors": [{"name": "A", "x": 5, "y": -1}]}, "data.competitors.0.y", "must be at least 0"),
        (14, {"profiles": [{"sophistication": 6}]}, "data.profiles.0.sophistication", "must be at most 5"),
        (15, {"awareness_stage": 0}, "data.awareness_stage", "must be at least 1"),
        (1, {"team_size": 0}, "data.team_size", "must be at least 1"),
        (20, {"tam": {"value": -1}}, "data.tam.value", "must be at least 0"),
    ],
)
def test_numbers_are_ranged(number: int, data: dict[str, Any], path: str, message: str) -> None:
    assert _errors(number, data) == [(path, message)]


def test_fractional_bounds_read_as_written() -> None:
    assert _errors(3, {"facts": [{"confidence": 2}]}) == [("data.facts.0.confidence", "must be at most 1")]
    assert validate_step(7, {"insights": [{"sentiment": -0.25}]}, draft=True).data == {
        "insights": [{"sentiment": -0.25}]
    }


def test_wrong_type_in_a_long_text_and_broken_unicode() -> None:
    assert _errors(1, {"description": 5}) == [("data.description", "must be text")]
    assert _errors(1, {"name": "bad \ud800 surrogate"}) == [("data.name", "must be valid Unicode text")]


def test_not_finite_numbers_are_refused() -> None:
    assert _paths(20, {"tam": {"value": float("inf")}}) == ["data.tam.value"]
    assert _paths(21, {"kpis": [{"target": float("nan")}]}) == ["data.kpis.0.target"]


def test_over_long_strings_are_refused_after_trimming() -> None:
    assert _errors(1, {"name": "x" * 121}) == [("data.name", "must be at most 120 characters")]
    assert validate_step(1, {"name": "  " + "x" * 120 + "  "}, draft=True).data == {"name": "x" * 120}
    assert _errors(12, {"statement": "s" * 601}) == [("data.statement", "must be at most 600 characters")]
    assert _errors(16, {"dos": ["ok", "d" * 201]}) == [("data.dos.1", "must be at most 200 characters")]
    assert _errors(17, {"soundbites": [{"text": "t" * 281}]}) == [
        ("data.soundbites.0.text", "must be at most 280 characters")
    ]
    assert _errors(1, {"description": "d" * 1001}) == [("data.description", "must be at most 1000 characters")]


@pytest.mark.parametrize(
    ("number", "field", "limit"),
    [(2, "items", 50), (3, "facts", 200), (7, "insights", 100), (14, "profiles", 3), (16, "donts", 30)],
)
def test_lists_are_bounded(number: int, field: str, limit: int) -> None:
    item: Any = "x" if field == "donts" else {}
    assert _errors(number, {field: [item] * (limit + 1)}) == [
        (f"data.{field}", f"must have at most {limit} items (has {limit + 1})")
    ]
    validate_step(number, {field: [item] * limit}, draft=True)


def test_control_characters_are_refused_with_position() -> None:
    assert _errors(1, {"name": "Acme\x00Corp"}) == [
        ("data.name", "must not contain control characters (found U+0000 at position 4)")
    ]
    assert _paths(2, {"items": [{"tags": ["ok", "bad\x1b[31m"]}]}) == ["data.items.0.tags.1"]
    assert _paths(3, {"facts": [{}, {"label": "line\nbreak"}]}) == ["data.facts.1.label"]  # single-line field
    assert _paths(18, {"headline": "tab\there"}) == ["data.headline"]
    assert _paths(1, {"description": "bell \x07 in a long text"}) == ["data.description"]
    assert _paths(1, {"description": "C1 control \x85 too"}) == ["data.description"]


def test_long_texts_keep_newlines_and_tabs() -> None:
    text = "Line one\r\nLine two\n\tindented\rold mac"
    result = validate_step(1, {"description": text}, draft=True)
    assert result.data == {"description": "Line one\nLine two\n\tindented\nold mac"}


def test_html_is_kept_as_text_not_interpreted() -> None:
    description = '<script>alert("x")</script> &amp; <b>bold</b> claims'
    result = validate_step(1, {"name": "<img src=x onerror=alert(1)>", "description": description}, draft=True)
    assert result.data == {"name": "<img src=x onerror=alert(1)>", "description": description}


def test_text_is_trimmed_nfc_normalized_and_blank_means_absent() -> None:
    result = validate_step(1, {"name": "  Cafe\u0301 Labs ", "industry": "   ", "website": ""}, draft=True)
    assert result.data == {"name": "Café Labs"}


def test_unknown_fields_are_named() -> None:
    assert _errors(1, {"name": "Acme", "ceo": "Asha"}) == [
        ("data.ceo", "unknown field 'ceo': it is not part of this step's schema")
    ]
    assert _paths(9, {"options": {"safe": {"category_name": "x", "score": 3}, "wild": {}}}) == [
        "data.options.safe.score",
        "data.options.wild",
    ]
    assert _paths(2, {"items": [{}, {}, {}, {"id": "e4", "mime": "pdf"}]}) == ["data.items.3.mime"]


def test_oversize_payload_is_refused_whole() -> None:
    notes = [{"id": f"n{i}", "kind": "note", "text": "x" * 9_000} for i in range(30)]
    data = {"items": notes}
    assert payload_size(data) > MAX_STEP_BYTES
    assert _errors(2, data) == [
        ("data", f"is {payload_size(data)} bytes as JSON; a step may be at most {MAX_STEP_BYTES} bytes (256 KiB)")
    ]


def test_payload_just_under_the_limit_is_accepted() -> None:
    notes = [{"id": f"n{i}", "kind": "note", "text": "x" * 5_000} for i in range(50)]
    assert payload_size({"items": notes}) < MAX_STEP_BYTES
    assert validate_step(2, {"items": notes}, draft=False).complete is True


def test_size_counts_utf8_bytes() -> None:
    assert payload_size({"a": "₹"}) == len('{"a":"₹"}'.encode())


@pytest.mark.parametrize("data", [None, [], "text", 3])
def test_data_must_be_an_object(data: Any) -> None:
    assert _errors(1, data) == [("data", "must be an object")]


def test_data_that_is_not_json_is_refused() -> None:
    assert _errors(1, {"name": {1, 2}}) == [("data", "must be JSON data")]


def test_urls_are_checked_and_normalized() -> None:
    result = validate_step(1, {"website": "hisaablabs.in/pricing"}, draft=True)
    assert result.data == {"website": "https://hisaablabs.in/pricing"}
    assert validate_step(1, {"website": "http://localhost:8080/x"}, draft=True).data["website"].startswith("http://")
    assert _errors(1, {"website": "a" * 2045}) == [("data.website", "must be at most 2048 characters")]
    for bad in [
        "javascript:alert(1)",
        "http://a:0",
        "ftp://files.example.com",
        "https://",
        "https://exa mple.com",
        "http://a:99999",
    ]:
        assert _paths(1, {"website": bad}) == ["data.website"], bad


def test_identifiers_storage_paths_and_currency() -> None:
    assert _paths(2, {"items": [{"id": "../etc"}]}) == ["data.items.0.id"]
    assert _paths(3, {"facts": [{"source_ids": ["ok-1", ""]}]}) == ["data.facts.0.source_ids.1"]
    assert _paths(2, {"items": [{"storage_path": "/abs/path.pdf"}]}) == ["data.items.0.storage_path"]
    assert _paths(2, {"items": [{"storage_path": "ws/../other/x.pdf"}]}) == ["data.items.0.storage_path"]
    assert _errors(20, {"currency": "RUPEES"}) == [("data.currency", "must be at most 3 characters")]
    assert _errors(20, {"currency": "R$1"}) == [
        ("data.currency", "must be a three-letter ISO 4217 currency code such as INR")
    ]
    assert validate_step(20, {"currency": " inr "}, draft=True).data == {"currency": "INR"}


def test_whole_numbers_are_stored_as_integers() -> None:
    result = validate_step(
        21, {"kpis": [{"name": "MRR", "target": 1500000.0}, {"name": "Churn", "target": 2.5}]}, draft=True
    )
    assert json.dumps(result.data) == '{"kpis": [{"name": "MRR", "target": 1500000}, {"name": "Churn", "target": 2.5}]}'


def test_unknown_steps_are_not_found() -> None:
    for number in (0, 24, -1):
        with pytest.raises(NotFound) as caught:
            validate_step(number, {}, draft=True)
        assert caught.value.code == "step_not_found"
    with pytest.raises(NotFound):
        step_by_number(True)
    with pytest.raises(NotFound):
        step_by_slug("pricing")


def test_a_step_with_type_errors_is_refused_even_if_otherwise_complete() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))["company_profile"]
    data["founded_year"] = 1700
    assert _errors(1, data, draft=False) == [("data.founded_year", "must be at least 1800")]
