"""business_context v2.0: building it from the 23 steps, validating it, and its published JSON Schema.

The schema file is generated from the pydantic model; if ``test_published_schema_matches_the_model`` fails,
run ``python -m lib.domain.bcm --write-schema`` and review the diff.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lib.domain.bcm.__main__ import schema_text
from lib.domain.context import (
    SCHEMA_PATH,
    build_business_context,
    business_context_json_schema,
    parse_business_context,
    validate_business_context,
)
from lib.errors import Unprocessable

REPO = Path(__file__).resolve().parents[4]
STEPS_FIXTURE = REPO / "tests" / "unit" / "fixtures" / "steps_complete.json"
GOLDEN = REPO / "tests" / "golden"
GENERATED_AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def _build(steps: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"session_id": "sess-1", "workspace_id": "ws-1", "generated_at": GENERATED_AT}
    kwargs.update(overrides)
    return build_business_context(steps, **kwargs)


@pytest.fixture
def steps() -> dict[str, Any]:
    return json.loads(STEPS_FIXTURE.read_text())


@pytest.fixture
def doc(steps: dict[str, Any]) -> dict[str, Any]:
    return _build(steps)


def _errors(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(Unprocessable) as info:
        validate_business_context(doc)
    assert info.value.status == 422
    return {e.path: e.message for e in info.value.errors}


# --- building ---------------------------------------------------------------------------------


def test_the_complete_steps_build_a_valid_document(doc: dict[str, Any]) -> None:
    validate_business_context(doc)
    assert doc["version"] == "2.0"
    assert doc["generated_at"] == "2025-03-01T09:30:00Z"
    assert (doc["session_id"], doc["workspace_id"]) == ("sess-1", "ws-1")
    assert doc["company_profile"]["name"] == "Hisaab Labs"
    assert set(doc["company_profile"]) == {"name", "website", "industry", "stage", "description"}
    intel = doc["intelligence"]
    assert intel["primary_icp"] in [icp["name"] for icp in intel["icps"]]
    assert intel["positioning"]["category_path"] in {"safe", "clever", "bold"}


def test_the_small_golden_input_is_what_the_builder_makes_from_its_steps() -> None:
    steps = json.loads((GOLDEN / "small.steps.json").read_text())
    built = _build(steps, session_id="sess-small", workspace_id="ws-small")
    assert built == json.loads((GOLDEN / "small.input.json").read_text())


def test_rejected_facts_are_dropped_and_truth_sheet_values_win(steps: dict[str, Any]) -> None:
    facts = {f["id"]: f for f in _build(steps)["intelligence"]["facts"]}
    rejected = [f["id"] for f in steps["auto_extraction"]["facts"] if f["status"] == "rejected"]
    assert rejected
    assert not set(rejected) & set(facts)
    linked = [e for e in steps["truth_sheet"]["entries"] if e.get("source_fact_id") and e.get("status") != "unknown"]
    assert linked
    for entry in linked:
        fact = facts[entry["source_fact_id"]]
        assert fact["value"] == entry["value"]
        assert fact["source"] == "truth_sheet"


def test_truth_sheet_merge_rules() -> None:
    steps = {
        "auto_extraction": {
            "facts": [
                {
                    "id": "f1",
                    "category": "traction",
                    "label": "ARR",
                    "value": "2 Cr",
                    "confidence": 0.4,
                    "status": "pending",
                },
                {"id": "f2", "label": "Team", "value": "30", "confidence": 0.7, "status": "pending"},
                {"id": "f3", "label": "HQ", "value": "Pune", "confidence": 0.6, "status": "verified"},
                {"id": "f4", "label": "Churn", "value": "5%", "confidence": 0.5, "status": "rejected"},
            ]
        },
        "truth_sheet": {
            "entries": [
                {"id": "t1", "label": "ARR", "value": "3.1 Cr", "status": "confirmed", "source_fact_id": "f1"},
                {"id": "t2", "label": "Team", "value": "About 38", "status": "needs_review", "source_fact_id": "f2"},
                {"id": "t3", "label": "HQ", "value": "Mumbai?", "status": "unknown", "source_fact_id": "f3"},
                {"id": "t4", "label": "Churn", "value": "3%", "status": "edited", "source_fact_id": "f4"},
                {"id": "t5", "label": "Founded", "value": "2021", "status": "needs_review"},
            ]
        },
    }
    facts = {f["id"]: f for f in _build(steps)["intelligence"]["facts"]}
    assert list(facts) == ["f1", "f2", "f3", "t4", "t5"]
    assert facts["f1"] == {
        "id": "f1",
        "category": "traction",
        "label": "ARR",
        "value": "3.1 Cr",
        "confidence": 1.0,
        "source": "truth_sheet",
    }
    assert (facts["f2"]["value"], facts["f2"]["confidence"]) == ("About 38", 0.7)  # under review: confidence kept
    assert (facts["f3"]["value"], facts["f3"]["confidence"], facts["f3"]["source"]) == ("Pune", 1.0, "extraction")
    assert (facts["t4"]["value"], facts["t4"]["confidence"]) == ("3%", 1.0)  # the founder's entry beats a rejection
    assert (facts["t5"]["value"], facts["t5"]["confidence"]) == ("2021", 0.5)


def test_evidence_is_counted_and_summarised() -> None:
    steps = {
        "evidence_vault": {
            "items": [
                {"kind": "url", "title": "Home", "tags": ["Website", "pricing"]},
                {"kind": "note", "title": "Calls", "tags": ["sales", "website"]},
                {"kind": "note", "title": "  ", "tags": ["sales"]},
            ]
        }
    }
    evidence = _build(steps)["evidence"]
    assert evidence["count"] == 3
    assert evidence["summary"] == {
        "by_kind": {"url": 1, "file": 0, "note": 2},
        "titles": ["Home", "Calls"],
        "tags": ["sales", "website", "pricing"],  # by frequency, then alphabetically
    }


@pytest.mark.parametrize(
    ("icp_step", "expected"),
    [
        ({"profiles": [{"name": "A"}, {"name": "B"}], "primary": "B"}, "B"),
        ({"profiles": [{"name": "A"}, {"name": "B"}], "primary": 1}, "B"),
        ({"profiles": [{"name": "A"}, {"name": "B", "primary": True}]}, "B"),
        ({"profiles": [{"name": "Only"}]}, "Only"),
        ({"profiles": [{"name": "A"}, {"name": "B"}]}, None),
        ({"profiles": [{"name": "A"}], "primary": "Ghost"}, "Ghost"),
    ],
)
def test_primary_icp_resolution(icp_step: dict[str, Any], expected: str | None) -> None:
    assert _build({"icp_profiles": icp_step})["intelligence"]["primary_icp"] == expected


def test_positioning_takes_the_selected_category_path_and_splits_focus(steps: dict[str, Any]) -> None:
    positioning = _build(steps)["intelligence"]["positioning"]
    selected = steps["category_path"]["selected"]
    assert positioning["category"] == steps["category_path"]["options"][selected]["category_name"]
    assert positioning["category_path"] == selected
    items = steps["focus_sacrifice"]["items"]
    assert positioning["focus"] == [i["item"] for i in items if i["decision"] == "focus"]
    assert positioning["sacrifice"] == [i["item"] for i in items if i["decision"] == "sacrifice"]


def test_category_falls_back_to_the_positioning_statement() -> None:
    positioning = _build({"positioning_statement": {"category": "Kiosk analytics"}})["intelligence"]["positioning"]
    assert (positioning["category"], positioning["category_path"]) == ("Kiosk analytics", None)


def test_only_open_validation_tasks_are_kept() -> None:
    steps = {"validation_todos": {"tasks": [{"text": "Call 5 CFOs", "done": True}, {"text": "Price test"}]}}
    assert _build(steps)["intelligence"]["open_validation_tasks"] == ["Price test"]


def test_strings_are_trimmed_and_blanks_become_null() -> None:
    doc = _build({"company_profile": {"name": "  Acme  ", "website": "   "}})
    assert doc["company_profile"]["name"] == "Acme"
    assert doc["company_profile"]["website"] is None


def test_generated_at_must_be_timezone_aware_and_is_written_in_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _build({}, generated_at=datetime(2025, 1, 1))  # a naive datetime is the point
    ist = timezone(timedelta(hours=5, minutes=30))
    assert _build({}, generated_at=datetime(2025, 1, 1, 15, 0, tzinfo=ist))["generated_at"] == "2025-01-01T09:30:00Z"


def test_missing_steps_give_an_incomplete_document_not_a_crash() -> None:
    doc = _build({})
    assert doc["intelligence"]["icps"] == []
    assert doc["intelligence"]["market"] is None
    errors = _errors(doc)
    assert {"company_profile.name", "company_profile.industry", "company_profile.description"} <= set(errors)


# --- validating -------------------------------------------------------------------------------


def test_errors_name_the_bad_fields_by_path(doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(doc)
    bad["company_profile"]["description"] = "too short"
    bad["intelligence"]["icps"][0]["sophistication"] = 9
    bad["intelligence"]["messaging"]["donts"].append("x" * 201)
    bad["intelligence"]["channels"][0]["tier"] = "sometimes"
    errors = _errors(bad)
    assert set(errors) == {
        "company_profile.description",
        "intelligence.icps.0.sophistication",
        f"intelligence.messaging.donts.{len(bad['intelligence']['messaging']['donts']) - 1}",
        "intelligence.channels.0.tier",
    }


def test_primary_icp_must_name_an_icp(doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(doc)
    bad["intelligence"]["primary_icp"] = "Somebody else"
    assert set(_errors(bad)) == {"intelligence.primary_icp"}
    bad["intelligence"]["primary_icp"] = None
    assert _errors(bad)["intelligence.primary_icp"] == "must name one of the ICPs"


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update(version="1.0"), "version"),
        (lambda d: d.update(generated_at="2025-03-01T09:30:00"), "generated_at"),
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["company_profile"].update(name="Acme\x00"), "company_profile.name"),
        (lambda d: d["company_profile"].update(name="Acme\x85"), "company_profile.name"),
        (lambda d: d["intelligence"].pop("goals"), "intelligence.goals"),
        (lambda d: d["intelligence"]["facts"][0].update(confidence=1.5), "intelligence.facts.0.confidence"),
        (lambda d: d["intelligence"]["market"]["tam"].update(value=float("nan")), "intelligence.market.tam.value"),
        (lambda d: d["intelligence"].update(icps=d["intelligence"]["icps"] * 2), "intelligence.icps"),
    ],
)
def test_invalid_documents_are_rejected(doc: dict[str, Any], mutate: Any, path: str) -> None:
    bad = copy.deepcopy(doc)
    mutate(bad)
    assert path in _errors(bad)


def test_newlines_and_tabs_are_allowed_in_text(doc: dict[str, Any]) -> None:
    ok = copy.deepcopy(doc)
    text = "Line one of the description.\n\tLine two, indented."
    ok["company_profile"]["description"] = text
    validate_business_context(ok)  # raises Unprocessable when refused
    assert parse_business_context(ok).company_profile.description == text  # kept verbatim, not stripped


def test_parse_returns_the_typed_document(doc: dict[str, Any]) -> None:
    parsed = parse_business_context(doc)
    assert parsed.company_profile.name == "Hisaab Labs"
    assert parsed.generated_at == GENERATED_AT


# --- the published JSON Schema --------------------------------------------------------------


def test_published_schema_matches_the_model() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), "run: python -m lib.domain.bcm --write-schema"


@pytest.mark.parametrize("name", ["small", "typical", "very_large"])
def test_published_schema_accepts_the_golden_inputs(name: str) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    golden = json.loads((GOLDEN / f"{name}.input.json").read_text())
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(golden)] == []


def test_published_schema_rejects_what_the_model_rejects(doc: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(business_context_json_schema())
    bad = copy.deepcopy(doc)
    bad["intelligence"]["channels"][0]["tier"] = "sometimes"
    bad["company_profile"]["name"] = "tab\x07bell"
    bad["evidence"]["extra"] = True
    paths = {".".join(str(p) for p in e.absolute_path) for e in validator.iter_errors(bad)}
    assert paths == {"intelligence.channels.0.tier", "company_profile.name", "evidence"}


def test_builder_tolerates_odd_but_harmless_shapes() -> None:
    steps: dict[str, Any] = {
        "company_profile": {"name": 42, "industry": True, "stage": 3.0, "description": ["not", "text"]},
        "auto_extraction": {"facts": [{"id": "f1", "label": "Customers", "value": 142, "confidence": "high"}]},
        "icp_profiles": {"profiles": [{"name": "A", "pain_points": "One pain", "goals": [{"text": "Grow"}, {}, 7]}]},
        "perceptual_map": {"x_axis": "Price", "y_axis": 5, "our_position": {"x": 10, "y": 20}},
        "category_path": {"options": {"bold": {"category_name": "Kiosk OS"}}, "selected": "Kiosk OS"},
        "market_intelligence": {"insights": "not a list", "detected_competitors": [{"name": "Rival"}, None]},
        "goals_kpis": {"kpis": [{"name": "MRR", "target": True}]},
    }
    doc = _build(steps)
    assert doc["company_profile"]["name"] == "42"
    assert doc["company_profile"]["industry"] is None
    assert doc["company_profile"]["stage"] == "3"
    assert doc["company_profile"]["description"] is None
    assert doc["intelligence"]["facts"][0]["value"] == "142"
    assert doc["intelligence"]["facts"][0]["confidence"] is None  # reported by validation, not guessed
    icp = doc["intelligence"]["icps"][0]
    assert (icp["pain_points"], icp["goals"]) == (["One pain"], ["Grow", "7"])
    perceptual_map = doc["intelligence"]["positioning"]["perceptual_map"]
    assert perceptual_map["x_axis"] == {"label": "Price", "low": None, "high": None}
    assert perceptual_map["y_axis"] is None
    assert doc["intelligence"]["positioning"]["category"] == "Kiosk OS"
    assert doc["intelligence"]["positioning"]["category_path"] == "bold"
    assert doc["intelligence"]["market_insights"] == {"insights": [], "detected_competitors": ["Rival"]}
    assert doc["intelligence"]["goals"]["kpis"][0]["target"] is None
    assert "intelligence.facts.0.confidence" in _errors(doc)
