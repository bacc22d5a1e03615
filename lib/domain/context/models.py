"""The business_context v2.0 document: one pydantic model, the single source of its schema.

Finalize builds this document from the 23 steps and validates it; the reducer
reads it; ``schemas/business_context.v2.schema.json`` is generated from it.
Every key is always present (``null`` or ``[]`` when the founder gave
nothing), so a consumer never has to guess between "absent" and "empty".
Strings are bounded and may not hold control characters (tabs and newlines
excepted); every list is bounded.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

BUSINESS_CONTEXT_VERSION = "2.0"

# No control characters (C0 but tab and newline, DEL, C1): text is stored, never interpreted.
NO_CONTROL_CHARS = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"
# Names, labels, ids: one line's worth.
MAX_NAME = 200
# A website URL: the de-facto browser limit, as in the step schema.
MAX_URL = 2048
# Free text (fact values, rationales, quotes): generous but bounded, far below the 256 KiB step limit.
MAX_TEXT = 2000
# Step 1: a description is 20-1000 characters.
MIN_DESCRIPTION, MAX_DESCRIPTION = 20, 1000
# Step 12: the positioning statement is at most 600 characters.
MAX_STATEMENT = 600
# Step 16: each do / don't is at most 200 characters.
MAX_GUARDRAIL = 200
# Step 17: a soundbite is at most 280 characters.
MAX_SOUNDBITE = 280
# Step 3 allows 200 facts; the truth sheet (step 5) may add as many entries of its own.
MAX_FACTS = 400
# Step 14: one to three ICP profiles.
MAX_ICPS = 3
# Step 7: at most 100 market insights.
MAX_INSIGHTS = 100
# Any other list: plenty for a founder's input, small enough to keep documents cheap.
MAX_ITEMS = 50
# The evidence summary keeps this many titles and tags (the items themselves stay in the vault).
MAX_EVIDENCE_SUMMARY = 20

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, pattern=NO_CONTROL_CHARS)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=NO_CONTROL_CHARS)]
Description = Annotated[
    str, StringConstraints(min_length=MIN_DESCRIPTION, max_length=MAX_DESCRIPTION, pattern=NO_CONTROL_CHARS)
]
Statement = Annotated[str, StringConstraints(min_length=1, max_length=MAX_STATEMENT, pattern=NO_CONTROL_CHARS)]
Guardrail = Annotated[str, StringConstraints(min_length=1, max_length=MAX_GUARDRAIL, pattern=NO_CONTROL_CHARS)]
SoundbiteText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SOUNDBITE, pattern=NO_CONTROL_CHARS)]
Names = Annotated[list[Name], Field(max_length=MAX_ITEMS)]
Texts = Annotated[list[Text], Field(max_length=MAX_ITEMS)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL, pattern=NO_CONTROL_CHARS)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100)]

CategoryPath = Literal["safe", "clever", "bold"]
AlternativeKind = Literal["status_quo", "direct", "indirect"]
CapabilityRating = Literal["only_you", "unique", "better", "table_stakes"]
ChannelTier = Literal["primary", "secondary", "experimental", "avoid"]
PricingModel = Literal["recurring", "one_time", "hybrid", "usage"]
InsightKind = Literal["pain", "desire", "objection"]
FactSource = Literal["extraction", "truth_sheet"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CompanyProfile(_Model):
    name: Name
    website: Url | None
    industry: Name
    stage: Name
    description: Description


class EvidenceByKind(_Model):
    url: int = Field(ge=0)
    file: int = Field(ge=0)
    note: int = Field(ge=0)


class EvidenceSummary(_Model):
    by_kind: EvidenceByKind
    titles: Annotated[list[Name], Field(max_length=MAX_EVIDENCE_SUMMARY)]
    tags: Annotated[list[Name], Field(max_length=MAX_EVIDENCE_SUMMARY)]


class Evidence(_Model):
    count: int = Field(ge=0)
    summary: EvidenceSummary


class Fact(_Model):
    id: Name
    category: Name | None
    label: Name
    value: Text
    confidence: float = Field(ge=0, le=1)
    source: FactSource


class Psychographics(_Model):
    beliefs: Texts
    fears: Texts
    values: Texts


class Icp(_Model):
    name: Name
    role: Name | None
    company_size: Name | None
    stage: Name | None
    psychographics: Psychographics
    pain_points: Texts
    goals: Texts
    objections: Texts
    triggers: Texts
    hangouts: Names
    sophistication: int | None = Field(ge=1, le=5)


class Competitor(_Model):
    name: Name
    kind: AlternativeKind | None
    their_promise: Text | None
    their_weakness: Text | None
    our_leverage: Text | None


class Point(_Model):
    x: Percent
    y: Percent


class MapCompetitor(_Model):
    name: Name
    x: Percent
    y: Percent


class Axis(_Model):
    label: Name | None
    low: Name | None
    high: Name | None


class PerceptualMap(_Model):
    x_axis: Axis | None
    y_axis: Axis | None
    our_position: Point
    competitors: Annotated[list[MapCompetitor], Field(max_length=MAX_ITEMS)]
    narrative: Text | None


class Capability(_Model):
    name: Name
    rating: CapabilityRating | None
    verified: bool


class Positioning(_Model):
    category: Name | None
    category_path: CategoryPath | None
    uvp: Text | None
    statement: Statement | None
    for_whom: Text | None
    problem: Text | None
    differentiators: Texts
    competitors: Annotated[list[Competitor], Field(max_length=MAX_ITEMS)]
    perceptual_map: PerceptualMap | None
    capabilities: Annotated[list[Capability], Field(max_length=MAX_ITEMS)]
    focus: Texts
    sacrifice: Texts


class Soundbite(_Model):
    label: Name | None
    text: SoundbiteText
    status: Literal["draft", "approved"]


class Messaging(_Model):
    one_liner: Text | None
    headline: Text | None
    subheads: Texts
    proof_points: Texts
    tone: Names
    dos: Annotated[list[Guardrail], Field(max_length=MAX_ITEMS)]
    donts: Annotated[list[Guardrail], Field(max_length=MAX_ITEMS)]
    soundbites: Annotated[list[Soundbite], Field(max_length=MAX_ITEMS)]


class Channel(_Model):
    name: Name
    tier: ChannelTier | None
    owned: bool | None
    rationale: Text | None


class MarketSize(_Model):
    value: Amount | None
    display: Name | None
    basis: Text | None


class Market(_Model):
    tam: MarketSize | None
    sam: MarketSize | None
    som: MarketSize | None
    currency: Name | None
    verticals: Names
    geo: Names


class OfferTier(_Model):
    name: Name
    price: Amount | None
    currency: Name | None
    billing_period: Name | None
    description: Text | None
    features: Texts


class Offer(_Model):
    pricing_model: PricingModel | None
    core_deliverable: Text | None
    promised_outcome: Text | None
    time_to_value: Name | None
    tiers: Annotated[list[OfferTier], Field(max_length=MAX_ITEMS)]


class Kpi(_Model):
    name: Name
    target: float | None = Field(allow_inf_nan=False)
    unit: Name | None
    cadence: Name | None


class Goals(_Model):
    short_term: Texts
    long_term: Texts
    kpis: Annotated[list[Kpi], Field(max_length=MAX_ITEMS)]


class BuyingStage(_Model):
    name: Name
    questions: Texts
    content: Texts


class BuyingProcess(_Model):
    awareness_stage: int | None = Field(ge=1, le=5)
    stages: Annotated[list[BuyingStage], Field(max_length=MAX_ITEMS)]
    decision_makers: Names


class Insight(_Model):
    kind: InsightKind
    quote: Text
    source: Text | None
    sentiment: float | None = Field(ge=-1, le=1)


class MarketInsights(_Model):
    insights: Annotated[list[Insight], Field(max_length=MAX_INSIGHTS)]
    detected_competitors: Names


class Intelligence(_Model):
    facts: Annotated[list[Fact], Field(max_length=MAX_FACTS)]
    icps: Annotated[list[Icp], Field(max_length=MAX_ICPS)]
    primary_icp: Name | None
    positioning: Positioning
    messaging: Messaging
    channels: Annotated[list[Channel], Field(max_length=MAX_ITEMS)]
    market: Market | None
    offer: Offer | None
    goals: Goals
    buying_process: BuyingProcess | None
    market_insights: MarketInsights
    open_validation_tasks: Texts
    # primary_icp must name one of the ICPs: checked in validation.py, where the error gets its own path.


class BusinessContext(_Model):
    """business_context v2.0, as finalize stores it and the reducer reads it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        title="business_context",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    version: Literal["2.0"]
    generated_at: AwareDatetime
    session_id: Name
    workspace_id: Name
    company_profile: CompanyProfile
    evidence: Evidence
    intelligence: Intelligence
