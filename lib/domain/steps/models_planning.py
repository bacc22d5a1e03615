"""Steps 19-23: where to show up, how big the prize is, what to measure, and sign-off."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lib.domain.steps import limits as L
from lib.domain.steps.fields import Currency, KpiTarget, Money, Name, Notes, Paragraph, Sentence, StepModel, Tag

Names = Annotated[list[Name], Field(max_length=L.SHORT_LIST_MAX)]
Goals = Annotated[list[Sentence], Field(max_length=L.GOALS_MAX)]


class Channel(StepModel):
    """A channel and how much the company should invest in it."""

    name: Name | None = None
    tier: Literal["primary", "secondary", "experimental", "avoid"] | None = None
    owned: bool | None = Field(None, description="True for channels the company owns (site, list, community).")
    rationale: Sentence | None = None


class ChannelMapping(StepModel):
    """Step 19: channels ranked from primary to avoid."""

    channels: Annotated[list[Channel], Field(max_length=L.CHANNELS_MAX)] | None = None


class MarketFigure(StepModel):
    """One market size: the number, how to show it, and how it was reached."""

    value: Money | None = Field(None, description="In major units of the step's currency, per year.")
    display: Name | None = Field(None, description='As people say it, e.g. "INR 4,200 Cr".')
    basis: Paragraph | None = Field(None, description="The calculation or source behind the number.")


class MarketSize(StepModel):
    """Step 20: total, serviceable and obtainable market."""

    tam: MarketFigure | None = None
    sam: MarketFigure | None = None
    som: MarketFigure | None = None
    currency: Currency | None = None
    verticals: Names | None = None
    geo: Names | None = None


class Kpi(StepModel):
    """A number the company commits to moving."""

    name: Name | None = None
    target: KpiTarget | None = None
    unit: Tag | None = None
    cadence: Literal["daily", "weekly", "monthly", "quarterly", "annually"] | None = None


class GoalsKpis(StepModel):
    """Step 21: goals for the next quarter and the next years, and the KPIs that track them."""

    short_term_goals: Goals | None = None
    long_term_goals: Goals | None = None
    kpis: Annotated[list[Kpi], Field(max_length=L.KPIS_MAX)] | None = None


class ValidationTask(StepModel):
    """Something to check before launch."""

    text: Sentence | None = None
    done: bool | None = None


class ValidationTodos(StepModel):
    """Step 22: open validation tasks; an empty list is a valid answer."""

    tasks: Annotated[list[ValidationTask], Field(max_length=L.ITEMS_MAX)] | None = None


class Confirmations(StepModel):
    """The three sign-offs that finalize needs."""

    facts_reviewed: bool | None = None
    positioning_approved: bool | None = None
    messaging_approved: bool | None = None


class FinalReview(StepModel):
    """Step 23: the user confirms facts, positioning and messaging."""

    confirmations: Confirmations | None = None
    notes: Notes | None = None
