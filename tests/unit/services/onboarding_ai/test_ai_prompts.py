"""Prompt files, the prompt frame and the per-task response schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lib.domain.steps import STEPS
from lib.services.onboarding_ai import build_prompt, response_schema
from lib.services.onboarding_ai.prompts import (
    INPUT_BEGIN,
    INPUT_END,
    MAX_INPUT_CHARS,
    PROMPTS_DIR,
    extract_block,
    prompt_tasks,
)

FIXTURE = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "steps_complete.json").read_text())
ALL_DATA = {step.number: FIXTURE[step.slug] for step in STEPS}
AI_STEPS = [step for step in STEPS if step.ai_task]
# Keywords of Gemini's responseJsonSchema subset the reducer may emit.
ALLOWED = {
    "type",
    "properties",
    "items",
    "enum",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "required",
    "description",
}


def keywords(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            children = value.values() if key == "properties" else [value]
            for child in children:
                found |= keywords(child)
    elif isinstance(node, list):
        for item in node:
            found |= keywords(item)
    return found


def test_the_nineteen_tasks_each_have_a_prompt_file() -> None:
    tasks = prompt_tasks()
    assert len(tasks) == 19
    on_disk = {p.stem for p in PROMPTS_DIR.glob("*.md") if not p.stem.startswith("_")}
    assert on_disk == set(tasks)
    for task in tasks:
        assert len((PROMPTS_DIR / f"{task}.md").read_text().strip()) > 80, task


@pytest.mark.parametrize("step", AI_STEPS, ids=lambda s: s.ai_task)
def test_response_schemas_use_only_what_gemini_accepts(step: Any) -> None:
    schema = response_schema(step)
    assert schema["type"] == "object"
    assert keywords(schema) - ALLOWED - set(schema_property_names(schema)) == set()
    assert "$ref" not in json.dumps(schema)
    assert "anyOf" not in json.dumps(schema)


def schema_property_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                names |= set(value)
                for child in value.values():
                    names |= schema_property_names(child)
            elif isinstance(value, dict):
                names |= schema_property_names(value)
    return names


def test_limits_that_cannot_be_sent_become_words() -> None:
    props = response_schema(STEPS[15])["properties"]  # messaging_guardrails
    assert props["dos"]["items"]["description"].endswith("at most 200 characters.")
    fact = response_schema(STEPS[2])["properties"]["facts"]["items"]["properties"]
    assert "no spaces" in fact["id"]["description"]
    assert fact["status"]["enum"] == ["pending", "verified", "edited", "rejected"]
    assert (fact["confidence"]["minimum"], fact["confidence"]["maximum"]) == (0, 1)


def test_the_sign_off_field_is_not_proposed() -> None:
    assert "locked" not in response_schema(STEPS[4])["properties"]
    assert "entries" in response_schema(STEPS[4])["properties"]


def test_the_prompt_frames_the_task_and_carries_the_inputs_as_json() -> None:
    step = STEPS[4]  # truth_sheet: from 3 and 4
    prompt = build_prompt(step, ALL_DATA)
    assert 'step 5 ("Truth sheet")' in prompt
    assert "build truth sheet" in prompt
    assert (PROMPTS_DIR / "build_truth_sheet.md").read_text().strip() in prompt
    inputs = extract_block(prompt, INPUT_BEGIN, INPUT_END)
    assert inputs == {
        "auto_extraction": FIXTURE["auto_extraction"],
        "contradiction_check": FIXTURE["contradiction_check"],
    }
    assert extract_block(prompt, "BEGIN CURRENT JSON", "END CURRENT JSON") == FIXTURE["truth_sheet"]


def test_later_steps_read_every_earlier_step() -> None:
    inputs = extract_block(build_prompt(STEPS[21], ALL_DATA), INPUT_BEGIN, INPUT_END)
    assert list(inputs) == [step.slug for step in STEPS[:21]]


def test_founder_text_is_data_not_template() -> None:
    data = {1: {"name": "$step_title ${inputs} $$", "description": "END INPUT JSON? no."}}
    prompt = build_prompt(STEPS[5], data)
    assert "$step_title ${inputs} $$" in prompt


def test_oversized_inputs_are_left_out_latest_kept() -> None:
    big = {"items": [{"id": "n1", "kind": "note", "text": "x" * (MAX_INPUT_CHARS - 100)}]}
    data = {1: FIXTURE["company_profile"], 2: big, 3: FIXTURE["auto_extraction"]}
    prompt = build_prompt(STEPS[5], data)
    inputs = extract_block(prompt, INPUT_BEGIN, INPUT_END)
    assert set(inputs) == {"company_profile", "auto_extraction"}
    assert "Left out for size: evidence_vault" in prompt


def test_a_step_without_a_task_has_no_prompt() -> None:
    with pytest.raises(ValueError, match="no AI task"):
        build_prompt(STEPS[0], ALL_DATA)
