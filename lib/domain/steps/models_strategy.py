"""Steps 6-13: the offer, the market, the competition and the position taken in it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lib.domain.steps import limits as L
from lib.domain.steps.fields import (
    Currency,
    MapCoordinate,
    Money,
    Name,
    Paragraph,
    PositioningText,
    Sentence,
    Sentiment,
    StepModel,
)

Sentences = Annotated[list[Sentence], Field(max_length=L.SHORT_LIST_MAX)]


class PricingTier(StepModel):
    """One price point of the offer (fields beyond the step table's "tiers[]" are what a pricing page shows)."""

    name: Name | None = None
    price: Money | None = Field(None, description="In major currency units (rupees, not paise).")
    currency: Currency | None = None
    billing_period: Literal["monthly", "annual", "one_time", "usage"] | None = None
    description: Sentence | None = None
    features: Sentences | None = None


class OfferPricing(StepModel):
    """Step 6: what is sold, how it is priced and what it promises."""

    pricing_model: Literal["recurring", "one_time", "hybrid", "usage"] | None = None
    core_deliverable: Sentence | None = None
    promised_outcome: Sentence | None = None
    time_to_value: Name | None = Field(None, description='How soon the customer sees the outcome, e.g. "2 weeks".')
    tiers: Annotated[list[PricingTier], Field(max_length=L.TIERS_MAX)] | None = None


class Insight(StepModel):
    """A pain, desire or objection heard in the market, ideally in the customer's words."""

    kind: Literal["pain", "desire", "objection"] | None = None
    quote: Paragraph | None = None
    source: Name | None = None
    sentiment: Sentiment | None = None


class MarketIntelligence(StepModel):
    """Step 7: what the market says, and who else it mentions."""

    insights: Annotated[list[Insight], Field(max_length=L.INSIGHTS_MAX)] | None = None
    detected_competitors: Annotated[list[Name], Field(max_length=L.COMPETITORS_MAX)] | None = None


class Alternative(StepModel):
    """What a buyer would do instead of buying from us."""

    name: Name | None = None
    kind: Literal["status_quo", "direct", "indirect"] | None = None
    their_promise: Sentence | None = None
    their_weakness: Sentence | None = None
    our_leverage: Sentence | None = None


class CompetitiveAlternatives(StepModel):
    """Step 8: the alternatives, including doing nothing."""

    alternatives: Annotated[list[Alternative], Field(max_length=L.ITEMS_MAX)] | None = None


class CategoryOption(StepModel):
    """One way to name the category the product competes in."""

    category_name: Name | None = None
    rationale: Paragraph | None = None
    education_effort: Literal["low", "medium", "high"] | None = None


class CategoryOptions(StepModel):
    """The three category paths, from safest to boldest."""

    safe: CategoryOption | None = None
    clever: CategoryOption | None = None
    bold: CategoryOption | None = None


class CategoryPath(StepModel):
    """Step 9: the category path chosen among safe, clever and bold."""

    options: CategoryOptions | None = None
    selected: Literal["safe", "clever", "bold"] | None = Field(None, description="The key of the chosen option.")


class Capability(StepModel):
    """A capability and how it compares with the alternatives."""

    name: Name | None = None
    rating: Literal["only_you", "unique", "better", "table_stakes"] | None = None
    verified: bool | None = None


class CapabilityRating(StepModel):
    """Step 10: capabilities rated from table stakes to only-you."""

    capabilities: Annotated[list[Capability], Field(max_length=L.ITEMS_MAX)] | None = None


class Axis(StepModel):
    """A map axis: what it measures and what its two ends mean (the ends add to docs/domain.md's step table)."""

    label: Name | None = None
    low: Name | None = Field(None, description="What 0 on this axis means.")
    high: Name | None = Field(None, description="What 100 on this axis means.")


class Point(StepModel):
    """A position on the map, 0-100 on each axis."""

    x: MapCoordinate | None = None
    y: MapCoordinate | None = None


class MapCompetitor(StepModel):
    """A competitor plotted on the map."""

    name: Name | None = None
    x: MapCoordinate | None = None
    y: MapCoordinate | None = None


class PerceptualMap(StepModel):
    """Step 11: where buyers place us and the alternatives on two axes that matter to them."""

    x_axis: Axis | None = None
    y_axis: Axis | None = None
    our_position: Point | None = None
    competitors: Annotated[list[MapCompetitor], Field(max_length=L.COMPETITORS_MAX)] | None = None
    narrative: Paragraph | None = None


class PositioningStatement(StepModel):
    """Step 12: the positioning in parts and as one statement."""

    category: Name | None = None
    for_whom: Sentence | None = None
    problem: Sentence | None = None
    uvp: Sentence | None = Field(None, description="The unique value proposition in one sentence.")
    differentiators: Sentences | None = None
    statement: PositioningText | None = None


class FocusItem(StepModel):
    """Something the company chooses to focus on, or to give up."""

    item: Sentence | None = None
    decision: Literal["focus", "sacrifice"] | None = None
    reason: Sentence | None = None


class FocusSacrifice(StepModel):
    """Step 13: what the company focuses on and what it sacrifices for it."""

    items: Annotated[list[FocusItem], Field(max_length=L.ITEMS_MAX)] | None = None
