"""Steps 1-5: who the company is and what is known to be true about it.

Every field is optional so a draft saves; ``rules.py`` says what "complete" needs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lib.domain.steps import limits as L
from lib.domain.steps.fields import (
    Confidence,
    Document,
    HttpUrl,
    Identifier,
    Name,
    Paragraph,
    StepModel,
    StoragePath,
    Tag,
)

CompanyStage = Literal["idea", "mvp", "early_revenue", "growth", "scale"]
FactCategory = Literal[
    "company", "product", "customer", "market", "competition", "pricing", "traction", "team", "other"
]
IdList = Annotated[list[Identifier], Field(max_length=L.REFS_MAX)]


class CompanyProfile(StepModel):
    """Step 1: the company in a few fields."""

    name: Name | None = None
    website: HttpUrl | None = None
    industry: Name | None = None
    stage: CompanyStage | None = Field(None, description="Business maturity, not funding round.")
    description: Paragraph | None = Field(None, description="What the company does, 20-1000 characters.")
    founded_year: Annotated[int, Field(ge=L.FOUNDED_YEAR_MIN, le=L.FOUNDED_YEAR_MAX)] | None = None
    team_size: Annotated[int, Field(ge=1, le=L.TEAM_SIZE_MAX)] | None = None


class EvidenceItem(StepModel):
    """A link, an uploaded file or a typed note the AI may read."""

    id: Identifier | None = None
    kind: Literal["url", "file", "note"] | None = None
    title: Name | None = None
    url: HttpUrl | None = Field(None, description="Required when kind is url.")
    storage_path: StoragePath | None = Field(None, description="Required when kind is file.")
    text: Document | None = Field(None, description="The note (required when kind is note) or extracted text.")
    tags: Annotated[list[Tag], Field(max_length=L.TAGS_MAX)] | None = None


class EvidenceVault(StepModel):
    """Step 2: the material the rest of onboarding draws facts from."""

    items: Annotated[list[EvidenceItem], Field(max_length=L.EVIDENCE_MAX)] | None = None


class Fact(StepModel):
    """One claim about the business, proposed by the AI from evidence and checked by the user."""

    id: Identifier | None = None
    category: FactCategory | None = None
    label: Name | None = None
    value: Paragraph | None = None
    confidence: Confidence | None = None
    source_ids: IdList | None = Field(None, description="Evidence item ids (step 2) the fact comes from.")
    status: Literal["pending", "verified", "edited", "rejected"] | None = None


class AutoExtraction(StepModel):
    """Step 3: facts extracted from the evidence vault."""

    facts: Annotated[list[Fact], Field(max_length=L.FACTS_MAX)] | None = None


class Issue(StepModel):
    """A contradiction or gap between facts that the user resolves."""

    id: Identifier | None = None
    kind: Literal["contradiction", "gap", "ambiguity", "unsupported_claim"] | None = None
    priority: Literal["critical", "high", "medium"] | None = None
    title: Name | None = None
    description: Paragraph | None = None
    fact_ids: IdList | None = Field(None, description="Fact ids (step 3) involved.")
    resolution: Paragraph | None = None
    resolved: bool | None = None


class ContradictionCheck(StepModel):
    """Step 4: issues found among the facts; an empty list means none were found."""

    issues: Annotated[list[Issue], Field(max_length=L.ISSUES_MAX)] | None = None


class TruthEntry(StepModel):
    """A fact as the user signs it off."""

    id: Identifier | None = None
    category: FactCategory | None = None
    label: Name | None = None
    value: Paragraph | None = None
    status: Literal["confirmed", "needs_review", "edited", "unknown"] | None = None
    source_fact_id: Identifier | None = Field(None, description="The fact id (step 3) this entry settles.")


class TruthSheet(StepModel):
    """Step 5: the signed-off facts; locking it freezes them for later steps."""

    entries: Annotated[list[TruthEntry], Field(max_length=L.TRUTH_ENTRIES_MAX)] | None = None
    locked: bool | None = None
