"""Draft versus complete with one schema: each step's completeness rule, one case per step at least."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lib.domain.steps import STEPS, step_by_slug, validate_step
from lib.errors import Unprocessable

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "steps_complete.json"
Mutate = Callable[[dict[str, Any]], None]


def _step_data(slug: str) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(json.loads(FIXTURE.read_text(encoding="utf-8"))[slug])
    return data


def _set(path: str, value: Any) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()


def _delete(path: str) -> Mutate:
    return _set(path, _DELETE)


def _both(*mutations: Mutate) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(data)

    return mutate


def _keep_facts_with(status: str, count: int) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        for index, fact in enumerate(data["facts"]):
            fact["status"] = status if index < count else "pending"

    return mutate


def _all(items: str, field: str, value: Any) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        for item in data[items]:
            item[field] = value

    return mutate


# slug -> (what breaks completeness, the paths the error names)
CASES: list[tuple[str, Mutate, list[str]]] = [
    ("company_profile", _both(_delete("name"), _delete("stage")), ["data.name", "data.stage"]),
    ("company_profile", _set("description", "Too short."), ["data.description"]),
    ("evidence_vault", _set("items", []), ["data.items"]),
    ("evidence_vault", _delete("items.0.url"), ["data.items.0.url"]),
    ("evidence_vault", _delete("items.2.storage_path"), ["data.items.2.storage_path"]),
    ("evidence_vault", _delete("items.4.text"), ["data.items.4.text"]),
    ("evidence_vault", _set("items.1.id", "ev-website"), ["data.items.1.id"]),
    ("auto_extraction", _keep_facts_with("verified", 2), ["data.facts"]),
    ("auto_extraction", _delete("facts.3.value"), ["data.facts.3.value"]),
    ("contradiction_check", _set("issues.0.resolved", False), ["data.issues.0.resolved"]),
    ("contradiction_check", _delete("issues.0.resolved"), ["data.issues.0.resolved"]),
    ("contradiction_check", _delete("issues"), ["data.issues"]),
    ("truth_sheet", _set("locked", False), ["data.locked"]),
    ("truth_sheet", _all("entries", "status", "needs_review"), ["data.entries"]),
    (
        "offer_pricing",
        _both(_delete("pricing_model"), _delete("core_deliverable")),
        ["data.pricing_model", "data.core_deliverable"],
    ),
    ("offer_pricing", _delete("tiers.1.name"), ["data.tiers.1.name"]),
    ("market_intelligence", _set("insights", []), ["data.insights"]),
    ("market_intelligence", _delete("insights.2.quote"), ["data.insights.2.quote"]),
    ("competitive_alternatives", _delete("alternatives"), ["data.alternatives"]),
    ("competitive_alternatives", _delete("alternatives.1.kind"), ["data.alternatives.1.kind"]),
    ("category_path", _delete("selected"), ["data.selected"]),
    ("category_path", _delete("options.clever.category_name"), ["data.options.clever.category_name"]),
    ("capability_rating", _set("capabilities", []), ["data.capabilities"]),
    ("capability_rating", _delete("capabilities.0.rating"), ["data.capabilities.0.rating"]),
    (
        "perceptual_map",
        _both(_delete("our_position.y"), _delete("x_axis")),
        ["data.x_axis.label", "data.our_position.y"],
    ),
    ("perceptual_map", _delete("competitors.2.x"), ["data.competitors.2.x"]),
    ("positioning_statement", _both(_delete("uvp"), _set("statement", "   ")), ["data.uvp", "data.statement"]),
    ("focus_sacrifice", _all("items", "decision", "focus"), ["data.items"]),
    ("focus_sacrifice", _all("items", "decision", "sacrifice"), ["data.items"]),
    ("icp_profiles", _set("primary", "Someone else"), ["data.primary"]),
    ("icp_profiles", _delete("primary"), ["data.primary"]),
    ("icp_profiles", _both(_set("profiles.0.pain_points", []), _delete("profiles.1.role")), ["data.profiles"]),
    ("icp_profiles", _set("profiles.1.name", "Multi-state distributor CFO"), ["data.profiles.1.name"]),
    ("buying_process", _delete("awareness_stage"), ["data.awareness_stage"]),
    ("buying_process", _delete("stages.0.name"), ["data.stages.0.name"]),
    ("messaging_guardrails", _set("donts", []), ["data.donts"]),
    ("messaging_guardrails", _set("dos", ["", "  "]), ["data.dos"]),
    ("soundbites", _all("soundbites", "status", "draft"), ["data.soundbites"]),
    ("soundbites", _delete("soundbites.3.text"), ["data.soundbites.3.text"]),
    ("message_hierarchy", _both(_delete("one_liner"), _delete("headline")), ["data.one_liner", "data.headline"]),
    ("channel_mapping", _all("channels", "tier", "secondary"), ["data.channels"]),
    ("channel_mapping", _delete("channels.5.tier"), ["data.channels.5.tier"]),
    ("market_size", _delete("som"), ["data.som.value"]),
    ("market_size", _set("sam.value", 50_000_000_000), ["data.sam.value"]),
    ("market_size", _set("som.value", 9_700_000_000), ["data.som.value"]),
    ("goals_kpis", _set("kpis", []), ["data.kpis"]),
    ("goals_kpis", _delete("kpis.2.target"), ["data.kpis.2.target"]),
    ("validation_todos", _delete("tasks"), ["data.tasks"]),
    ("validation_todos", _delete("tasks.1.text"), ["data.tasks.1.text"]),
    ("final_review", _set("confirmations.messaging_approved", False), ["data.confirmations.messaging_approved"]),
    (
        "final_review",
        _delete("confirmations"),
        [
            "data.confirmations.facts_reviewed",
            "data.confirmations.positioning_approved",
            "data.confirmations.messaging_approved",
        ],
    ),
]


def test_every_step_has_a_completeness_case() -> None:
    assert {slug for slug, _, _ in CASES} == {step.slug for step in STEPS}


@pytest.mark.parametrize(("slug", "mutate", "paths"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_incomplete_step_saves_as_draft_but_not_as_complete(slug: str, mutate: Mutate, paths: list[str]) -> None:
    step = step_by_slug(slug)
    data = _step_data(slug)
    mutate(data)

    draft = validate_step(step.number, data, draft=True)
    assert draft.complete is False
    assert [error.path for error in draft.missing] == paths

    with pytest.raises(Unprocessable) as caught:
        validate_step(step.number, data, draft=False)
    assert caught.value.code == "step_incomplete"
    assert caught.value.status == 422
    assert [error.path for error in caught.value.errors] == paths
    assert all(error.message for error in caught.value.errors)


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.slug)
def test_empty_draft_saves_and_is_incomplete(step: Any) -> None:
    result = validate_step(step.number, {}, draft=True)
    assert result.data == {}
    assert result.complete is False
    assert result.missing
    with pytest.raises(Unprocessable) as caught:
        validate_step(step.number, {}, draft=False)
    assert caught.value.code == "step_incomplete"


def test_empty_lists_complete_the_steps_that_allow_them() -> None:
    assert validate_step(22, {"tasks": []}, draft=False).complete is True
    assert validate_step(4, {"issues": []}, draft=False).complete is True


def test_unresolved_non_critical_issue_does_not_block() -> None:
    data = {"issues": [{"id": "i1", "priority": "high", "title": "Pricing unclear", "resolved": False}]}
    assert validate_step(4, data, draft=False).complete is True


def test_messages_explain_what_is_missing() -> None:
    result = validate_step(
        3, {"facts": [{"id": "f1", "label": "ARR", "value": "1 Cr", "status": "verified"}]}, draft=True
    )
    assert [(e.path, e.message) for e in result.missing] == [
        ("data.facts", "needs at least 3 facts with status verified or edited to complete this step (has 1)")
    ]
    result = validate_step(1, {"name": "Acme", "industry": "SaaS", "stage": "mvp", "description": "Short"}, draft=True)
    assert [(e.path, e.message) for e in result.missing] == [
        ("data.description", "must be at least 20 characters to complete this step (has 5)")
    ]
