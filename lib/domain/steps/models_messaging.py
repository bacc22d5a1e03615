"""Steps 16-18: what to say, what never to say, and in which order."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from lib.domain.steps import limits as L
from lib.domain.steps.fields import Guardrail, Name, Sentence, Soundbite, StepModel, Tag

Sentences = Annotated[list[Sentence], Field(max_length=L.SHORT_LIST_MAX)]
Guardrails = Annotated[list[Guardrail], Field(max_length=L.GUARDRAILS_MAX)]


class MessagingGuardrails(StepModel):
    """Step 16: rules every message follows; the don'ts back the guardrail check."""

    dos: Guardrails | None = None
    donts: Guardrails | None = None


class SoundbiteItem(StepModel):
    """A short, reusable line; only approved ones reach the manifest first."""

    label: Name | None = None
    text: Soundbite | None = None
    status: Literal["draft", "approved"] | None = None


class Soundbites(StepModel):
    """Step 17: soundbites drafted and approved."""

    soundbites: Annotated[list[SoundbiteItem], Field(max_length=L.SOUNDBITES_MAX)] | None = None


class BrandVoice(StepModel):
    """How the brand sounds."""

    tone: Annotated[list[Tag], Field(max_length=L.SHORT_LIST_MAX)] | None = None


class MessageHierarchy(StepModel):
    """Step 18: one-liner, headline, then subheads and proof."""

    one_liner: Sentence | None = None
    headline: Sentence | None = None
    subheads: Sentences | None = None
    proof_points: Sentences | None = None
    brand_voice: BrandVoice | None = None
