"""The manifest while it is being made: frozen, typed sections.

Extractors fill a ``Draft`` from the business_context; compression levels
return smaller copies of it (``dataclasses.replace``); ``body`` turns it into
the manifest's JSON sections.  In the JSON, a field that is ``None`` or empty
is left out (absent means "nothing known or nothing kept"), which keeps the
manifest small; the top-level sections are always present.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any


@dataclass(frozen=True)
class Foundation:
    company: str | None = None
    industry: str | None = None
    stage: str | None = None
    mission: str | None = None
    value_prop: str | None = None
    category: str | None = None
    category_path: str | None = None


@dataclass(frozen=True)
class IcpCard:
    name: str
    role: str | None = None
    pains: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    sophistication: int | None = None


@dataclass(frozen=True)
class Alternative:
    name: str
    kind: str | None = None


@dataclass(frozen=True)
class Competitive:
    category: str | None = None
    alternatives: tuple[Alternative, ...] = ()
    differentiation: tuple[str, ...] = ()
    leverage: tuple[str, ...] = ()


@dataclass(frozen=True)
class Soundbite:
    text: str
    approved: bool


@dataclass(frozen=True)
class Hierarchy:
    headline: str | None = None
    subheads: tuple[str, ...] = ()


@dataclass(frozen=True)
class Guardrails:
    dos: tuple[str, ...] = ()
    donts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Messaging:
    one_liner: str | None = None
    positioning: str | None = None
    tone: tuple[str, ...] = ()
    guardrails: Guardrails = field(default_factory=Guardrails)
    soundbites: tuple[Soundbite, ...] = ()
    hierarchy: Hierarchy = field(default_factory=Hierarchy)


@dataclass(frozen=True)
class ChannelCard:
    name: str
    priority: str | None = None


@dataclass(frozen=True)
class MarketCard:
    tam: str | None = None
    sam: str | None = None
    som: str | None = None


@dataclass(frozen=True)
class KpiCard:
    name: str
    target: str | None = None


@dataclass(frozen=True)
class GoalsCard:
    kpis: tuple[KpiCard, ...] = ()
    short_term: tuple[str, ...] = ()


@dataclass(frozen=True)
class Draft:
    foundation: Foundation = field(default_factory=Foundation)
    icps: tuple[IcpCard, ...] = ()
    competitive: Competitive = field(default_factory=Competitive)
    messaging: Messaging = field(default_factory=Messaging)
    channels: tuple[ChannelCard, ...] = ()
    market: MarketCard = field(default_factory=MarketCard)
    goals: GoalsCard = field(default_factory=GoalsCard)
    # How many items the business_context held, per kind: tells a reader how much the manifest left out.
    counts: tuple[tuple[str, int], ...] = ()


SECTIONS = ("foundation", "icps", "competitive", "messaging", "channels", "market", "goals")


def _field_names(kind: type) -> tuple[str, ...]:
    """A dataclass's field names in declaration order, looked up once per class (this runs per level)."""
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind))
    return names


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _json(value: Any) -> Any:
    """A dataclass/tuple tree as JSON values, leaving out None and empty fields."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is tuple or kind is list:
        return [_json(item) for item in value]
    if is_dataclass(value):
        out: dict[str, Any] = {}
        for name in _field_names(kind):
            item = _json(getattr(value, name))
            if item is not None and item not in ([], {}):
                out[name] = item
        return out
    return value


def body(draft: Draft) -> dict[str, Any]:
    """The manifest's content sections (everything but ``meta``)."""
    return {name: _json(getattr(draft, name)) for name in SECTIONS}
