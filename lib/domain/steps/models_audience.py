"""Steps 14-15: who buys, and how they come to buy."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from lib.domain.steps import limits as L
from lib.domain.steps.fields import Level, Name, Sentence, StepModel

Sentences = Annotated[list[Sentence], Field(max_length=L.SHORT_LIST_MAX)]
Names = Annotated[list[Name], Field(max_length=L.SHORT_LIST_MAX)]


class Psychographics(StepModel):
    """What the buyer believes, fears and values."""

    beliefs: Sentences | None = None
    fears: Sentences | None = None
    values: Sentences | None = None


class IcpProfile(StepModel):
    """One ideal customer profile: the person who buys and the company they buy for."""

    name: Name | None = Field(None, description="Unique among the profiles; `primary` refers to it.")
    role: Name | None = None
    company_size: Name | None = Field(None, description='e.g. "50-500 employees".')
    stage: Name | None = Field(None, description="The customer company's stage, in the user's words.")
    psychographics: Psychographics | None = None
    pain_points: Sentences | None = None
    goals: Sentences | None = None
    objections: Sentences | None = None
    triggers: Sentences | None = None
    hangouts: Names | None = Field(None, description="Where they spend time: communities, events, channels.")
    sophistication: Level | None = Field(None, description="Market sophistication, 1 (new to it) to 5 (jaded).")


class IcpProfiles(StepModel):
    """Step 14: one to three ideal customer profiles, one of them primary."""

    profiles: Annotated[list[IcpProfile], Field(max_length=L.ICP_PROFILES_MAX)] | None = None
    primary: Name | None = Field(None, description="The `name` of the primary profile (matched exactly).")


class BuyingStage(StepModel):
    """One stage of the purchase: what the buyer asks and what content answers it."""

    name: Name | None = None
    questions: Sentences | None = None
    content: Sentences | None = None


class BuyingProcess(StepModel):
    """Step 15: how aware buyers are and how they move to a purchase."""

    awareness_stage: Level | None = Field(
        None,
        description="1 unaware, 2 problem aware, 3 solution aware, 4 product aware, 5 most aware.",
    )
    stages: Annotated[list[BuyingStage], Field(max_length=L.SHORT_LIST_MAX)] | None = None
    decision_makers: Names | None = Field(None, description="Roles involved in the decision.")
