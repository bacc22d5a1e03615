"""Extractors: small typed callables, chained, that fill the manifest draft from a business_context.

Each one has the same signature, ``(context, draft) -> draft``, and fills one
section (the structlog processor-chain shape): adding a section is adding a
function to ``EXTRACTORS``.  Every choice of "which items" is a stable sort
with the input position as the last tie-breaker, so the same document always
gives the same draft, whatever the hash seed or dict history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from lib.domain.bcm.draft import (
    Alternative,
    ChannelCard,
    Competitive,
    Draft,
    Foundation,
    GoalsCard,
    Guardrails,
    Hierarchy,
    IcpCard,
    KpiCard,
    MarketCard,
    Messaging,
    Soundbite,
)
from lib.domain.bcm.text import cut, squash, unique
from lib.domain.context.models import BusinessContext, Icp, MarketSize

Extractor = Callable[[BusinessContext, Draft], Draft]

# Section limits of the manifest (docs/domain.md, "The manifest").
MISSION_CHARS = 200
VALUE_PROP_CHARS = 300
POSITIONING_CHARS = 300
MAX_ICPS = 3
ICP_LIST_ITEMS = 3
MAX_ALTERNATIVES = 5
GUARDRAILS_EACH = 5
MAX_SOUNDBITES = 3
MAX_SUBHEADS = 3
MAX_CHANNELS = 6
MAX_KPIS = 5
MAX_SHORT_TERM_GOALS = 3
# Not fixed by the manifest's definition: enough to say what sets us apart and how we win, without a wall of text.
MAX_DIFFERENTIATION = 3
MAX_LEVERAGE = 3
MAX_TONE = 5
# No single list item may dominate the budget; step limits allow 2000 characters, a manifest item needs far less.
ITEM_CHARS = 200
NAME_CHARS = 100

# Direct competitors matter most to the features reading the manifest, the status quo least.
ALTERNATIVE_KIND_RANK = {"direct": 0, "indirect": 1, "status_quo": 2}
# Channels in the order a campaign should consider them; "avoid" is kept (last) as a guardrail.
CHANNEL_TIER_RANK = {"primary": 0, "secondary": 1, "experimental": 2, "avoid": 3}
# Capabilities that only we (or few) have are the differentiation when no differentiator was written.
CAPABILITY_RANK = {"only_you": 0, "unique": 1, "better": 2}
_UNRANKED = 9


def _text(value: str | None, limit: int) -> str | None:
    return cut(squash(value), limit) if value else None


def _items(values: list[str] | tuple[str, ...], limit: int, chars: int = ITEM_CHARS) -> tuple[str, ...]:
    return tuple(cut(v, chars) or v for v in unique(values, limit))


def icp_completeness(icp: Icp) -> int:
    """How much we know about an ICP: a point per filled field, up to three per list that the manifest uses."""
    scalars = (icp.role, icp.company_size, icp.stage, icp.sophistication)
    psycho = (icp.psychographics.beliefs, icp.psychographics.fears, icp.psychographics.values)
    lists = (icp.pain_points, icp.goals, icp.triggers, icp.hangouts, icp.objections)
    return (
        sum(value is not None for value in scalars)
        + sum(bool(values) for values in psycho)
        + sum(min(len(values), ICP_LIST_ITEMS) for values in lists)
    )


def foundation(context: BusinessContext, draft: Draft) -> Draft:
    profile = context.company_profile
    positioning = context.intelligence.positioning
    return replace(
        draft,
        foundation=Foundation(
            company=_text(profile.name, NAME_CHARS),
            industry=_text(profile.industry, NAME_CHARS),
            stage=_text(profile.stage, NAME_CHARS),
            mission=_text(profile.description, MISSION_CHARS),
            value_prop=_text(positioning.uvp, VALUE_PROP_CHARS),
            category=_text(positioning.category, NAME_CHARS),
            category_path=positioning.category_path,
        ),
    )


def icps(context: BusinessContext, draft: Draft) -> Draft:
    intel = context.intelligence
    ranked = sorted(
        enumerate(intel.icps),
        key=lambda pair: (pair[1].name != intel.primary_icp, -icp_completeness(pair[1]), pair[0]),
    )
    cards = tuple(
        IcpCard(
            name=_text(icp.name, NAME_CHARS) or icp.name,
            role=_text(icp.role, NAME_CHARS),
            pains=_items(icp.pain_points, ICP_LIST_ITEMS),
            goals=_items(icp.goals, ICP_LIST_ITEMS),
            channels=_items(icp.hangouts, ICP_LIST_ITEMS, NAME_CHARS),
            triggers=_items(icp.triggers, ICP_LIST_ITEMS),
            sophistication=icp.sophistication,
        )
        for _, icp in ranked[:MAX_ICPS]
    )
    return replace(draft, icps=cards)


def competitive(context: BusinessContext, draft: Draft) -> Draft:
    positioning = context.intelligence.positioning
    ranked = [
        alt
        for _, alt in sorted(
            enumerate(positioning.competitors),
            key=lambda pair: (ALTERNATIVE_KIND_RANK.get(pair[1].kind or "", _UNRANKED), pair[0]),
        )
    ]
    names = unique((alt.name for alt in ranked), MAX_ALTERNATIVES)
    kinds = {}
    for alt in reversed(ranked):  # the first occurrence of a name wins
        kinds[squash(alt.name).casefold()] = alt.kind
    alternatives = tuple(Alternative(name=cut(n, NAME_CHARS) or n, kind=kinds[n.casefold()]) for n in names)
    differentiation = positioning.differentiators or [
        cap.name
        for _, cap in sorted(
            enumerate(positioning.capabilities),
            key=lambda pair: (CAPABILITY_RANK.get(pair[1].rating or "", _UNRANKED), not pair[1].verified, pair[0]),
        )
        if cap.rating in CAPABILITY_RANK
    ]
    leverage = [alt.our_leverage for alt in ranked if alt.our_leverage]
    return replace(
        draft,
        competitive=Competitive(
            category=draft.foundation.category,
            alternatives=alternatives,
            differentiation=_items(differentiation, MAX_DIFFERENTIATION),
            leverage=_items(leverage, MAX_LEVERAGE),
        ),
    )


def messaging(context: BusinessContext, draft: Draft) -> Draft:
    msg = context.intelligence.messaging
    ranked_bites = sorted(enumerate(msg.soundbites), key=lambda pair: (pair[1].status != "approved", pair[0]))
    approved = {squash(b.text).casefold(): b.status == "approved" for _, b in reversed(ranked_bites)}
    bites = unique((b.text for _, b in ranked_bites), MAX_SOUNDBITES)
    return replace(
        draft,
        messaging=Messaging(
            one_liner=_text(msg.one_liner, ITEM_CHARS),
            positioning=_text(context.intelligence.positioning.statement, POSITIONING_CHARS),
            tone=_items(msg.tone, MAX_TONE, NAME_CHARS),
            guardrails=Guardrails(dos=_items(msg.dos, GUARDRAILS_EACH), donts=_items(msg.donts, GUARDRAILS_EACH)),
            soundbites=tuple(Soundbite(text=t, approved=approved[t.casefold()]) for t in bites),
            hierarchy=Hierarchy(headline=_text(msg.headline, ITEM_CHARS), subheads=_items(msg.subheads, MAX_SUBHEADS)),
        ),
    )


def channels(context: BusinessContext, draft: Draft) -> Draft:
    ranked = [
        ch
        for _, ch in sorted(
            enumerate(context.intelligence.channels),
            key=lambda pair: (CHANNEL_TIER_RANK.get(pair[1].tier or "", _UNRANKED), pair[0]),
        )
    ]
    tiers = {squash(ch.name).casefold(): ch.tier for ch in reversed(ranked)}
    names = unique((ch.name for ch in ranked), MAX_CHANNELS)
    cards = tuple(ChannelCard(name=cut(n, NAME_CHARS) or n, priority=tiers[n.casefold()]) for n in names)
    return replace(draft, channels=cards)


def _number(value: float | None) -> str | None:
    """A number as people write it: 1500.0 -> "1500", 2.5 -> "2.5"."""
    if value is None:
        return None
    return f"{value:.0f}" if float(value).is_integer() else repr(value)


def _size(size: MarketSize | None, currency: str | None) -> str | None:
    """The founder's display text, else the number with its currency."""
    if size is None:
        return None
    if size.display:
        return _text(size.display, NAME_CHARS)
    number = _number(size.value)
    return f"{currency} {number}" if currency and number else number


def market(context: BusinessContext, draft: Draft) -> Draft:
    m = context.intelligence.market
    if m is None:
        return replace(draft, market=MarketCard())
    return replace(
        draft,
        market=MarketCard(tam=_size(m.tam, m.currency), sam=_size(m.sam, m.currency), som=_size(m.som, m.currency)),
    )


def goals(context: BusinessContext, draft: Draft) -> Draft:
    g = context.intelligence.goals
    kpis = []
    seen: set[str] = set()
    for kpi in g.kpis:
        key = squash(kpi.name).casefold()
        if key in seen:
            continue
        seen.add(key)
        amount = " ".join(part for part in (_number(kpi.target), kpi.unit) if part)
        target = ", ".join(part for part in (amount, kpi.cadence) if part)
        kpis.append(KpiCard(name=_text(kpi.name, NAME_CHARS) or kpi.name, target=_text(target, NAME_CHARS)))
        if len(kpis) == MAX_KPIS:
            break
    return replace(draft, goals=GoalsCard(kpis=tuple(kpis), short_term=_items(g.short_term, MAX_SHORT_TERM_GOALS)))


def counts(context: BusinessContext, draft: Draft) -> Draft:
    intel = context.intelligence
    return replace(
        draft,
        counts=(
            ("alternatives", len(intel.positioning.competitors)),
            ("channels", len(intel.channels)),
            ("evidence", context.evidence.count),
            ("facts", len(intel.facts)),
            ("icps", len(intel.icps)),
            ("kpis", len(intel.goals.kpis)),
            ("open_tasks", len(intel.open_validation_tasks)),
            ("soundbites", len(intel.messaging.soundbites)),
        ),
    )


# Order matters only where an extractor reads an earlier section (competitive reads foundation.category).
EXTRACTORS: tuple[Extractor, ...] = (foundation, icps, competitive, messaging, channels, market, goals, counts)


def extract(context: BusinessContext, extractors: tuple[Extractor, ...] = EXTRACTORS) -> Draft:
    """The uncompressed draft: every extractor applied in turn to an empty draft."""
    draft = Draft()
    for extractor in extractors:
        draft = extractor(context, draft)
    return draft
