"""What "complete" means for each step (docs/domain.md, the step table's "complete when").

Types and limits are checked by the models for drafts and completed steps alike;
the functions here run on an already valid model and list what is still missing,
as ``FieldError``s with paths relative to the request (``data.items.3.url``).
A draft that fails only these rules is saved with ``complete=False`` and these
errors shown next to it; a save with ``draft=false`` is refused with them.

Each rule is registered with a one-line summary and the list of requirements it
checks, which the catalogue publishes as ``x-complete-when``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lib.domain.steps import limits as L
from lib.domain.steps import models_audience as A
from lib.domain.steps import models_foundation as F
from lib.domain.steps import models_messaging as M
from lib.domain.steps import models_planning as P
from lib.domain.steps import models_strategy as S
from lib.domain.steps.fields import StepModel
from lib.errors import FieldError

REQUIRED = "is required to complete this step"
ROOT = "data"

Check = Callable[[Any], list[FieldError]]


@dataclass(frozen=True)
class Completeness:
    """A step's completeness rule and its published description."""

    summary: str
    requires: tuple[str, ...]
    check: Check


RULES: dict[str, Completeness] = {}


def _rule(slug: str, summary: str, *requires: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        RULES[slug] = Completeness(summary, requires, check)
        return check

    return register


# --- helpers ------------------------------------------------------------------------------------


def _path(*parts: str | int) -> str:
    return ".".join([ROOT, *(str(part) for part in parts)])


def _given(value: object) -> bool:
    """Absent, null and blank (after trimming) all mean "not given"."""
    return value is not None and value not in ("", [])


def _filled(values: Sequence[str] | None) -> int:
    return sum(1 for value in values or () if value)


def _require(model: StepModel | None, fields: Sequence[str], *prefix: str | int) -> list[FieldError]:
    return [
        FieldError(_path(*prefix, name), REQUIRED)
        for name in fields
        if model is None or not _given(getattr(model, name))
    ]


def _require_each(items: Sequence[StepModel], fields: Sequence[str], *prefix: str | int) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        errors += _require(item, fields, *prefix, index)
    return errors


def _at_least(count: int, minimum: int, what: str, *prefix: str | int) -> list[FieldError]:
    if count >= minimum:
        return []
    return [FieldError(_path(*prefix), f"needs at least {minimum} {what} to complete this step (has {count})")]


def _unique(items: Sequence[StepModel], field: str, *prefix: str | int) -> list[FieldError]:
    seen: dict[object, int] = {}
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        value = getattr(item, field)
        if not _given(value):
            continue
        if value in seen:
            errors.append(FieldError(_path(*prefix, index, field), f"repeats the {field} of item {seen[value]}"))
        else:
            seen[value] = index
    return errors


# --- 1-5 ----------------------------------------------------------------------------------------


@_rule(
    "company_profile",
    "name, industry, stage and a description of 20-1000 characters",
    "name is given",
    "industry is given",
    "stage is given",
    f"description has {L.DESCRIPTION_MIN}-{L.PARAGRAPH_MAX} characters",
)
def company_profile(step: F.CompanyProfile) -> list[FieldError]:
    errors = _require(step, ["name", "industry", "stage", "description"])
    if step.description and len(step.description) < L.DESCRIPTION_MIN:
        errors.append(
            FieldError(
                _path("description"),
                f"must be at least {L.DESCRIPTION_MIN} characters to complete this step (has {len(step.description)})",
            )
        )
    return errors


_EVIDENCE_PAYLOAD = {"url": "url", "file": "storage_path", "note": "text"}


@_rule(
    "evidence_vault",
    "at least one evidence item",
    "items has at least 1 item",
    "every item has an id (unique) and a kind",
    "a url item has url, a file item has storage_path, a note item has text",
)
def evidence_vault(step: F.EvidenceVault) -> list[FieldError]:
    items = step.items or []
    errors = _at_least(len(items), 1, "item", "items")
    errors += _require_each(items, ["id", "kind"], "items")
    for index, item in enumerate(items):
        if item.kind is not None:
            errors += _require(item, [_EVIDENCE_PAYLOAD[item.kind]], "items", index)
    return errors + _unique(items, "id", "items")


@_rule(
    "auto_extraction",
    f"at least {L.FACTS_COMPLETE_MIN} facts verified or edited",
    f"at least {L.FACTS_COMPLETE_MIN} facts have status verified or edited",
    "every fact has an id (unique), a label and a value",
)
def auto_extraction(step: F.AutoExtraction) -> list[FieldError]:
    facts = step.facts or []
    accepted = sum(1 for fact in facts if fact.status in {"verified", "edited"})
    errors = _at_least(accepted, L.FACTS_COMPLETE_MIN, "facts with status verified or edited", "facts")
    errors += _require_each(facts, ["id", "label", "value"], "facts")
    return errors + _unique(facts, "id", "facts")


@_rule(
    "contradiction_check",
    "no unresolved critical issue",
    "issues is present (an empty list means none were found)",
    "every issue has an id (unique), a priority and a title",
    "every critical issue is resolved",
)
def contradiction_check(step: F.ContradictionCheck) -> list[FieldError]:
    if step.issues is None:
        return [FieldError(_path("issues"), REQUIRED + " (send [] when there is none)")]
    errors = _require_each(step.issues, ["id", "priority", "title"], "issues")
    for index, issue in enumerate(step.issues):
        if issue.priority == "critical" and issue.resolved is not True:
            errors.append(FieldError(_path("issues", index, "resolved"), "a critical issue must be resolved"))
    return errors + _unique(step.issues, "id", "issues")


@_rule(
    "truth_sheet",
    "locked, with at least one confirmed entry",
    "locked is true",
    "at least 1 entry has status confirmed",
    "every entry has a label and a value",
)
def truth_sheet(step: F.TruthSheet) -> list[FieldError]:
    entries = step.entries or []
    errors = [] if step.locked is True else [FieldError(_path("locked"), "must be true to complete this step")]
    errors += _at_least(sum(1 for e in entries if e.status == "confirmed"), 1, "confirmed entry", "entries")
    errors += _require_each(entries, ["label", "value"], "entries")
    return errors + _unique(entries, "id", "entries")


# --- 6-13 ---------------------------------------------------------------------------------------


@_rule(
    "offer_pricing",
    "pricing_model and core_deliverable",
    "pricing_model is given",
    "core_deliverable is given",
    "every tier has a name",
)
def offer_pricing(step: S.OfferPricing) -> list[FieldError]:
    return _require(step, ["pricing_model", "core_deliverable"]) + _require_each(step.tiers or [], ["name"], "tiers")


@_rule(
    "market_intelligence",
    "at least one insight",
    "insights has at least 1 item",
    "every insight has a kind and a quote",
)
def market_intelligence(step: S.MarketIntelligence) -> list[FieldError]:
    insights = step.insights or []
    return _at_least(len(insights), 1, "insight", "insights") + _require_each(insights, ["kind", "quote"], "insights")


@_rule(
    "competitive_alternatives",
    "at least one alternative",
    "alternatives has at least 1 item",
    "every alternative has a name and a kind",
)
def competitive_alternatives(step: S.CompetitiveAlternatives) -> list[FieldError]:
    alternatives = step.alternatives or []
    return _at_least(len(alternatives), 1, "alternative", "alternatives") + _require_each(
        alternatives, ["name", "kind"], "alternatives"
    )


@_rule(
    "category_path",
    "a selected category path",
    "selected is one of safe, clever, bold",
    "the selected option has a category_name",
)
def category_path(step: S.CategoryPath) -> list[FieldError]:
    if step.selected is None:
        return [FieldError(_path("selected"), REQUIRED)]
    option = getattr(step.options, step.selected) if step.options else None
    return _require(option, ["category_name"], "options", step.selected)


@_rule(
    "capability_rating",
    "at least one capability",
    "capabilities has at least 1 item",
    "every capability has a name and a rating",
)
def capability_rating(step: S.CapabilityRating) -> list[FieldError]:
    capabilities = step.capabilities or []
    return _at_least(len(capabilities), 1, "capability", "capabilities") + _require_each(
        capabilities, ["name", "rating"], "capabilities"
    )


@_rule(
    "perceptual_map",
    "both axes and our position",
    "x_axis.label and y_axis.label are given",
    "our_position.x and our_position.y are given",
    "every plotted competitor has a name, x and y",
)
def perceptual_map(step: S.PerceptualMap) -> list[FieldError]:
    errors = _require(step.x_axis, ["label"], "x_axis") + _require(step.y_axis, ["label"], "y_axis")
    errors += _require(step.our_position, ["x", "y"], "our_position")
    return errors + _require_each(step.competitors or [], ["name", "x", "y"], "competitors")


@_rule("positioning_statement", "uvp and statement", "uvp is given", "statement is given")
def positioning_statement(step: S.PositioningStatement) -> list[FieldError]:
    return _require(step, ["uvp", "statement"])


@_rule(
    "focus_sacrifice",
    "at least one focus and one sacrifice",
    "at least 1 item has decision focus",
    "at least 1 item has decision sacrifice",
    "every item has an item text and a decision",
)
def focus_sacrifice(step: S.FocusSacrifice) -> list[FieldError]:
    items = step.items or []
    errors: list[FieldError] = []
    for decision in ("focus", "sacrifice"):
        count = sum(1 for entry in items if entry.decision == decision)
        errors += _at_least(count, 1, f"item with decision {decision}", "items")
    return errors + _require_each(items, ["item", "decision"], "items")


# --- 14-15 --------------------------------------------------------------------------------------


@_rule(
    "icp_profiles",
    "at least one profile with name, role and a pain point; primary names a profile",
    "at least 1 profile has a name, a role and at least 1 pain point",
    "every profile has a name, unique among the profiles",
    "primary equals the name of one of the profiles",
)
def icp_profiles(step: A.IcpProfiles) -> list[FieldError]:
    profiles = step.profiles or []
    usable = sum(1 for p in profiles if p.name and p.role and _filled(p.pain_points))
    errors = _at_least(usable, 1, "profile with a name, a role and a pain point", "profiles")
    errors += _require_each(profiles, ["name"], "profiles") + _unique(profiles, "name", "profiles")
    names = [p.name for p in profiles if p.name]
    if not step.primary:
        errors.append(FieldError(_path("primary"), REQUIRED))
    elif step.primary not in names:
        errors.append(FieldError(_path("primary"), "must be the name of one of the profiles"))
    return errors


@_rule("buying_process", "awareness_stage", "awareness_stage is given (1-5)", "every stage has a name")
def buying_process(step: A.BuyingProcess) -> list[FieldError]:
    return _require(step, ["awareness_stage"]) + _require_each(step.stages or [], ["name"], "stages")


# --- 16-18 --------------------------------------------------------------------------------------


@_rule(
    "messaging_guardrails",
    "at least one do and one don't",
    "dos has at least 1 non-empty entry",
    "donts has at least 1 non-empty entry",
)
def messaging_guardrails(step: M.MessagingGuardrails) -> list[FieldError]:
    return _at_least(_filled(step.dos), 1, "do", "dos") + _at_least(_filled(step.donts), 1, "don't", "donts")


@_rule(
    "soundbites",
    "at least one approved soundbite",
    "at least 1 soundbite has status approved",
    "every soundbite has a text",
)
def soundbites(step: M.Soundbites) -> list[FieldError]:
    items = step.soundbites or []
    approved = sum(1 for item in items if item.status == "approved")
    return _at_least(approved, 1, "approved soundbite", "soundbites") + _require_each(items, ["text"], "soundbites")


@_rule("message_hierarchy", "one_liner and headline", "one_liner is given", "headline is given")
def message_hierarchy(step: M.MessageHierarchy) -> list[FieldError]:
    return _require(step, ["one_liner", "headline"])


# --- 19-23 --------------------------------------------------------------------------------------


@_rule(
    "channel_mapping",
    "at least one primary channel",
    "at least 1 channel has tier primary",
    "every channel has a name and a tier",
)
def channel_mapping(step: P.ChannelMapping) -> list[FieldError]:
    channels = step.channels or []
    primary = sum(1 for channel in channels if channel.tier == "primary")
    return _at_least(primary, 1, "primary channel", "channels") + _require_each(channels, ["name", "tier"], "channels")


@_rule(
    "market_size",
    "tam, sam and som",
    "tam.value, sam.value and som.value are given",
    "som <= sam <= tam",
)
def market_size(step: P.MarketSize) -> list[FieldError]:
    figures = {"tam": step.tam, "sam": step.sam, "som": step.som}
    errors: list[FieldError] = []
    for key, figure in figures.items():
        errors += _require(figure, ["value"], key)
    values = {key: figure.value for key, figure in figures.items() if figure and figure.value is not None}
    if len(values) < len(figures):
        return errors
    if values["sam"] > values["tam"]:
        errors.append(FieldError(_path("sam", "value"), "must not exceed tam (the serviceable market is part of it)"))
    if values["som"] > values["sam"]:
        errors.append(FieldError(_path("som", "value"), "must not exceed sam (an obtainable market is part of it)"))
    return errors


@_rule("goals_kpis", "at least one KPI", "kpis has at least 1 item", "every KPI has a name and a target")
def goals_kpis(step: P.GoalsKpis) -> list[FieldError]:
    kpis = step.kpis or []
    return _at_least(len(kpis), 1, "KPI", "kpis") + _require_each(kpis, ["name", "target"], "kpis")


@_rule(
    "validation_todos",
    "the task list is present (it may be empty)",
    "tasks is present (may be empty)",
    "every task has a text",
)
def validation_todos(step: P.ValidationTodos) -> list[FieldError]:
    if step.tasks is None:
        return [FieldError(_path("tasks"), REQUIRED + " (send [] when there is none)")]
    return _require_each(step.tasks, ["text"], "tasks")


@_rule(
    "final_review",
    "all three confirmations true",
    "confirmations.facts_reviewed is true",
    "confirmations.positioning_approved is true",
    "confirmations.messaging_approved is true",
)
def final_review(step: P.FinalReview) -> list[FieldError]:
    names = ("facts_reviewed", "positioning_approved", "messaging_approved")
    return [
        FieldError(_path("confirmations", name), "must be true to complete this step")
        for name in names
        if step.confirmations is None or getattr(step.confirmations, name) is not True
    ]
