"""The shared complete fixture: every step is complete, normalization is stable, progress is 100 %."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lib.domain.steps import STEPS, TOTAL_STEPS, StepDef, progress, step_by_number, step_by_slug, validate_step

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "steps_complete.json"


def _fixture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def test_fixture_covers_the_23_steps_in_order() -> None:
    assert list(_fixture()) == [step.slug for step in STEPS]
    assert len(STEPS) == TOTAL_STEPS == 23
    assert [step.number for step in STEPS] == list(range(1, 24))


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.slug)
def test_fixture_step_is_complete_and_already_normalized(step: StepDef) -> None:
    data = _fixture()[step.slug]
    result = validate_step(step.number, data, draft=False)
    assert result.complete is True
    assert result.missing == []
    # The fixture is what the backend stores: validating it again changes nothing, byte for byte.
    assert json.dumps(result.data, sort_keys=True) == json.dumps(data, sort_keys=True)
    assert validate_step(step.number, data, draft=True).complete is True


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.slug)
def test_fixture_step_satisfies_the_published_json_schema(step: StepDef) -> None:
    schema = step.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(_fixture()[step.slug])] == []


def test_fixture_yields_full_progress() -> None:
    statuses = {}
    for step in STEPS:
        result = validate_step(step.number, _fixture()[step.slug], draft=False)
        statuses[step.number] = "complete" if result.complete else "draft"
    assert progress(statuses) == {"complete": 23, "total": 23, "percent": 100}


def test_fixture_is_a_coherent_company() -> None:
    """Cross-step references in the fixture point at things that exist (others build journeys on it)."""
    data = _fixture()
    evidence_ids = {item["id"] for item in data["evidence_vault"]["items"]}
    fact_ids = {fact["id"] for fact in data["auto_extraction"]["facts"]}
    assert all(set(fact["source_ids"]) <= evidence_ids for fact in data["auto_extraction"]["facts"])
    assert all(set(issue["fact_ids"]) <= fact_ids for issue in data["contradiction_check"]["issues"])
    assert {entry["source_fact_id"] for entry in data["truth_sheet"]["entries"]} <= fact_ids
    profiles = data["icp_profiles"]["profiles"]
    assert data["icp_profiles"]["primary"] in {profile["name"] for profile in profiles}
    assert (
        data["category_path"]["options"][data["category_path"]["selected"]]["category_name"]
        == (data["positioning_statement"]["category"])
    )
    alternatives = {alt["name"] for alt in data["competitive_alternatives"]["alternatives"]}
    assert {c["name"] for c in data["perceptual_map"]["competitors"]} <= alternatives


def test_lookups_by_number_and_slug_agree() -> None:
    for step in STEPS:
        assert step_by_number(step.number) is step
        assert step_by_slug(step.slug) is step


def test_ai_inputs_follow_the_domain_table() -> None:
    assert step_by_slug("auto_extraction").ai_inputs == (2,)
    assert step_by_slug("contradiction_check").ai_inputs == (3,)
    assert step_by_slug("truth_sheet").ai_inputs == (3, 4)
    assert step_by_slug("offer_pricing").ai_inputs == (1, 2, 3, 4, 5)
    assert step_by_slug("validation_todos").ai_inputs == tuple(range(1, 22))
    for step in STEPS:
        if step.ai_task is None:
            assert step.ai_inputs == ()
        assert all(1 <= n < step.number for n in step.ai_inputs)
    assert [s.number for s in STEPS if s.ai_task is None] == [1, 10, 15, 23]
