"""The 23 steps in order: slug, title, schema, completeness rule and AI task.

``ai_inputs`` lists the earlier steps an AI task reads: docs/domain.md names them for
steps 3-5 ("from N"); every other task reads all earlier steps, because later
strategy steps build on everything before them.  Steps without a task read none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lib.domain.steps import models_audience as A
from lib.domain.steps import models_foundation as F
from lib.domain.steps import models_messaging as M
from lib.domain.steps import models_planning as P
from lib.domain.steps import models_strategy as S
from lib.domain.steps import rules
from lib.domain.steps.fields import StepModel
from lib.domain.steps.limits import TOTAL_STEPS
from lib.errors import NotFound

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class StepDef:
    """One onboarding step as the rest of the backend sees it."""

    number: int
    slug: str
    title: str
    model: type[StepModel]
    ai_task: str | None
    ai_inputs: tuple[int, ...]
    completeness: rules.Completeness = field(repr=False)

    def json_schema(self) -> dict[str, Any]:
        """The published JSON Schema of the step's ``data`` (input form), with what "complete" requires."""
        schema = self.model.model_json_schema(mode="validation")
        return {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": f"steps/{self.number:02d}_{self.slug}.schema.json",
            **schema,
            "title": self.title,
            "x-step": {
                "number": self.number,
                "slug": self.slug,
                "ai_task": self.ai_task,
                "ai_inputs": list(self.ai_inputs),
            },
            "x-complete-when": {
                "description": self.completeness.summary,
                "requires": list(self.completeness.requires),
            },
        }


def _step(number: int, slug: str, title: str, model: type[StepModel], ai_task: str | None, *inputs: int) -> StepDef:
    if ai_task is None:
        ai_inputs: tuple[int, ...] = ()
    else:
        ai_inputs = inputs or tuple(range(1, number))
    return StepDef(number, slug, title, model, ai_task, ai_inputs, rules.RULES[slug])


STEPS: tuple[StepDef, ...] = (
    _step(1, "company_profile", "Company profile", F.CompanyProfile, None),
    _step(2, "evidence_vault", "Evidence vault", F.EvidenceVault, "classify_evidence"),
    _step(3, "auto_extraction", "Auto-extracted facts", F.AutoExtraction, "extract_facts", 2),
    _step(4, "contradiction_check", "Contradiction check", F.ContradictionCheck, "detect_contradictions", 3),
    _step(5, "truth_sheet", "Truth sheet", F.TruthSheet, "build_truth_sheet", 3, 4),
    _step(6, "offer_pricing", "Offer and pricing", S.OfferPricing, "suggest_offer"),
    _step(7, "market_intelligence", "Market intelligence", S.MarketIntelligence, "research_market"),
    _step(8, "competitive_alternatives", "Competitive alternatives", S.CompetitiveAlternatives, "analyze_competitors"),
    _step(9, "category_path", "Category path", S.CategoryPath, "propose_category_paths"),
    _step(10, "capability_rating", "Capability rating", S.CapabilityRating, None),
    _step(11, "perceptual_map", "Perceptual map", S.PerceptualMap, "propose_perceptual_map"),
    _step(12, "positioning_statement", "Positioning statement", S.PositioningStatement, "draft_positioning"),
    _step(13, "focus_sacrifice", "Focus and sacrifice", S.FocusSacrifice, "suggest_focus"),
    _step(14, "icp_profiles", "Ideal customer profiles", A.IcpProfiles, "generate_icps"),
    _step(15, "buying_process", "Buying process", A.BuyingProcess, None),
    _step(16, "messaging_guardrails", "Messaging guardrails", M.MessagingGuardrails, "propose_guardrails"),
    _step(17, "soundbites", "Soundbites", M.Soundbites, "generate_soundbites"),
    _step(18, "message_hierarchy", "Message hierarchy", M.MessageHierarchy, "build_hierarchy"),
    _step(19, "channel_mapping", "Channel mapping", P.ChannelMapping, "recommend_channels"),
    _step(20, "market_size", "Market size", P.MarketSize, "estimate_market"),
    _step(21, "goals_kpis", "Goals and KPIs", P.GoalsKpis, "suggest_kpis"),
    _step(22, "validation_todos", "Validation to-dos", P.ValidationTodos, "launch_readiness"),
    _step(23, "final_review", "Final review", P.FinalReview, None),
)

_BY_SLUG = {step.slug: step for step in STEPS}


def step_by_number(number: int) -> StepDef:
    """The step numbered ``number`` (1-23); ``NotFound`` (404, ``step_not_found``) otherwise."""
    if isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= TOTAL_STEPS:
        return STEPS[number - 1]
    raise NotFound(f"There is no onboarding step {number!r}; steps are 1-{TOTAL_STEPS}.", code="step_not_found")


def step_by_slug(slug: str) -> StepDef:
    """The step named ``slug``; ``NotFound`` (404, ``step_not_found``) otherwise."""
    try:
        return _BY_SLUG[slug]
    except (KeyError, TypeError):
        raise NotFound(f"There is no onboarding step {slug!r}.", code="step_not_found") from None
