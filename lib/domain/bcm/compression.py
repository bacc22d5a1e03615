"""Compression levels: what to give up, in order, when the manifest is over its token budget.

A level is a tuple of small steps ``(draft) -> (draft, dropped paths)``; level
N applies the steps of levels 1..N to the uncompressed draft, so each level is
a fixed, reproducible function of the content.  Dropped paths name what was
removed relative to the uncompressed manifest: ``icps[1:]`` (items from index 1
on), ``icps[*].pains[2:]`` (in every ICP), ``messaging.soundbites`` (all).
Shortened texts are not "dropped"; the level name says they were shortened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Literal

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
)
from lib.domain.bcm.text import cut, cut_all

CompressionLevel = Literal["none", "light", "medium", "heavy", "aggressive", "emergency"]
Step = Callable[[Draft], tuple[Draft, tuple[str, ...]]]

# light: long texts shortened to these many characters.
LIGHT_LONG_TEXT = 160
LIGHT_ITEM = 90
LIGHT_NAME = 60
# medium: fewer ICPs and alternatives.
MEDIUM_ICPS = 2
MEDIUM_ALTERNATIVES = 3
# heavy: one ICP and short lists, shorter texts.
HEAVY_LIST = 2
HEAVY_CHANNELS = 4
HEAVY_KPIS = 3
HEAVY_LONG_TEXT = 120
HEAVY_ITEM = 70
# emergency: foundation texts and every name cut in rounds until the manifest fits (each round shorter).
EMERGENCY_TEXT_ROUNDS = (120, 60, 30, 15)


def _limit_icps(n: int) -> Step:
    def step(draft: Draft) -> tuple[Draft, tuple[str, ...]]:
        if len(draft.icps) <= n:
            return draft, ()
        return replace(draft, icps=draft.icps[:n]), (f"icps[{n}:]",)

    return step


def _limit_alternatives(n: int) -> Step:
    def step(draft: Draft) -> tuple[Draft, tuple[str, ...]]:
        comp = draft.competitive
        if len(comp.alternatives) <= n:
            return draft, ()
        return replace(draft, competitive=replace(comp, alternatives=comp.alternatives[:n])), (
            f"competitive.alternatives[{n}:]",
        )

    return step


def _drop_soundbites(draft: Draft) -> tuple[Draft, tuple[str, ...]]:
    if not draft.messaging.soundbites:
        return draft, ()
    return replace(draft, messaging=replace(draft.messaging, soundbites=())), ("messaging.soundbites",)


def _shorten_texts(long_text: int, item: int, name: int) -> Step:
    """Cut every text (not names used as identifiers in versions) to the given lengths."""

    def step(draft: Draft) -> tuple[Draft, tuple[str, ...]]:
        f, m = draft.foundation, draft.messaging
        return (
            replace(
                draft,
                foundation=replace(f, mission=cut(f.mission, long_text), value_prop=cut(f.value_prop, long_text)),
                icps=tuple(
                    replace(
                        icp,
                        role=cut(icp.role, name),
                        pains=cut_all(icp.pains, item),
                        goals=cut_all(icp.goals, item),
                        channels=cut_all(icp.channels, name),
                        triggers=cut_all(icp.triggers, item),
                    )
                    for icp in draft.icps
                ),
                competitive=replace(
                    draft.competitive,
                    differentiation=cut_all(draft.competitive.differentiation, item),
                    leverage=cut_all(draft.competitive.leverage, item),
                ),
                messaging=replace(
                    m,
                    one_liner=cut(m.one_liner, item),
                    positioning=cut(m.positioning, long_text),
                    guardrails=Guardrails(dos=cut_all(m.guardrails.dos, item), donts=cut_all(m.guardrails.donts, item)),
                    soundbites=tuple(replace(b, text=cut(b.text, item) or b.text) for b in m.soundbites),
                    hierarchy=Hierarchy(cut(m.hierarchy.headline, item), cut_all(m.hierarchy.subheads, item)),
                ),
                goals=replace(draft.goals, short_term=cut_all(draft.goals.short_term, item)),
            ),
            (),
        )

    return step


def _short_lists(n: int) -> Step:
    """Every list of texts to at most ``n`` items; channels and KPIs to their heavy limits."""

    def step(draft: Draft) -> tuple[Draft, tuple[str, ...]]:
        dropped: list[str] = []

        def short(values: tuple[str, ...], path: str) -> tuple[str, ...]:
            if len(values) > n:
                if path not in dropped:
                    dropped.append(path)
                return values[:n]
            return values

        icps = tuple(
            replace(
                icp,
                pains=short(icp.pains, f"icps[*].pains[{n}:]"),
                goals=short(icp.goals, f"icps[*].goals[{n}:]"),
                channels=short(icp.channels, f"icps[*].channels[{n}:]"),
                triggers=short(icp.triggers, f"icps[*].triggers[{n}:]"),
            )
            for icp in draft.icps
        )
        comp = draft.competitive
        competitive = replace(
            comp,
            differentiation=short(comp.differentiation, f"competitive.differentiation[{n}:]"),
            leverage=short(comp.leverage, f"competitive.leverage[{n}:]"),
        )
        m = draft.messaging
        messaging = replace(
            m,
            tone=short(m.tone, f"messaging.tone[{n}:]"),
            guardrails=Guardrails(
                dos=short(m.guardrails.dos, f"messaging.guardrails.dos[{n}:]"),
                donts=short(m.guardrails.donts, f"messaging.guardrails.donts[{n}:]"),
            ),
            hierarchy=replace(m.hierarchy, subheads=short(m.hierarchy.subheads, f"messaging.hierarchy.subheads[{n}:]")),
        )
        goals = replace(draft.goals, short_term=short(draft.goals.short_term, f"goals.short_term[{n}:]"))
        channels = draft.channels
        if len(channels) > HEAVY_CHANNELS:
            channels = channels[:HEAVY_CHANNELS]
            dropped.append(f"channels[{HEAVY_CHANNELS}:]")
        if len(goals.kpis) > HEAVY_KPIS:
            goals = replace(goals, kpis=goals.kpis[:HEAVY_KPIS])
            dropped.append(f"goals.kpis[{HEAVY_KPIS}:]")
        return (
            replace(draft, icps=icps, competitive=competitive, messaging=messaging, goals=goals, channels=channels),
            tuple(dropped),
        )

    return step


def _names_only(draft: Draft) -> tuple[Draft, tuple[str, ...]]:
    """Lists keep their items' names and nothing else; lists of sentences go."""
    dropped: list[str] = []

    def gone(present: bool, path: str) -> None:
        if present:
            dropped.append(path)

    for attr in ("role", "pains", "goals", "channels", "triggers", "sophistication"):
        gone(any(getattr(icp, attr) not in (None, ()) for icp in draft.icps), f"icps[*].{attr}")
    comp, m = draft.competitive, draft.messaging
    gone(any(a.kind for a in comp.alternatives), "competitive.alternatives[*].kind")
    gone(bool(comp.differentiation), "competitive.differentiation")
    gone(bool(comp.leverage), "competitive.leverage")
    gone(bool(m.tone), "messaging.tone")
    gone(bool(m.guardrails.dos or m.guardrails.donts), "messaging.guardrails")
    gone(bool(m.hierarchy.subheads), "messaging.hierarchy.subheads")
    gone(any(c.priority for c in draft.channels), "channels[*].priority")
    gone(any(k.target for k in draft.goals.kpis), "goals.kpis[*].target")
    gone(bool(draft.goals.short_term), "goals.short_term")
    return (
        replace(
            draft,
            icps=tuple(IcpCard(name=icp.name) for icp in draft.icps),
            competitive=Competitive(
                category=comp.category, alternatives=tuple(Alternative(a.name) for a in comp.alternatives)
            ),
            messaging=Messaging(
                one_liner=m.one_liner, positioning=m.positioning, hierarchy=Hierarchy(m.hierarchy.headline)
            ),
            channels=tuple(ChannelCard(c.name) for c in draft.channels),
            goals=GoalsCard(kpis=tuple(KpiCard(k.name) for k in draft.goals.kpis)),
        ),
        tuple(dropped),
    )


def _foundation_and_names(draft: Draft) -> tuple[Draft, tuple[str, ...]]:
    """Only the foundation and the names of ICPs, alternatives, channels and KPIs remain."""
    m, mk = draft.messaging, draft.market
    dropped: list[str] = []
    if m.one_liner or m.positioning or m.hierarchy.headline:
        dropped.append("messaging")
    if mk.tam or mk.sam or mk.som:
        dropped.append("market")
    return replace(draft, messaging=Messaging(), market=MarketCard()), tuple(dropped)


def cut_names_and_foundation(draft: Draft, limit: int) -> Draft:
    """Every remaining string to ``limit`` characters: the emergency's last resort, in rounds."""
    f = draft.foundation
    comp = draft.competitive
    return replace(
        draft,
        foundation=Foundation(
            company=cut(f.company, limit),
            industry=cut(f.industry, limit),
            stage=cut(f.stage, limit),
            mission=cut(f.mission, limit),
            value_prop=cut(f.value_prop, limit),
            category=cut(f.category, limit),
            category_path=f.category_path,
        ),
        icps=tuple(IcpCard(name=cut(i.name, limit) or i.name) for i in draft.icps),
        competitive=Competitive(
            category=cut(comp.category, limit),
            alternatives=tuple(Alternative(cut(a.name, limit) or a.name) for a in comp.alternatives),
        ),
        channels=tuple(ChannelCard(cut(c.name, limit) or c.name) for c in draft.channels),
        goals=GoalsCard(kpis=tuple(KpiCard(cut(k.name, limit) or k.name) for k in draft.goals.kpis)),
    )


LEVELS: tuple[tuple[CompressionLevel, tuple[Step, ...]], ...] = (
    ("none", ()),
    ("light", (_shorten_texts(LIGHT_LONG_TEXT, LIGHT_ITEM, LIGHT_NAME),)),
    ("medium", (_limit_icps(MEDIUM_ICPS), _limit_alternatives(MEDIUM_ALTERNATIVES), _drop_soundbites)),
    ("heavy", (_limit_icps(1), _short_lists(HEAVY_LIST), _shorten_texts(HEAVY_LONG_TEXT, HEAVY_ITEM, LIGHT_NAME))),
    ("aggressive", (_names_only,)),
    ("emergency", (_foundation_and_names,)),
)


def _covers(broad: str, narrow: str) -> bool:
    """Whether dropping ``broad`` already says ``narrow`` was dropped.

    ``x`` covers ``x.y`` and ``x[2:]``; ``x[1:]`` covers ``x[2:]``.
    """
    if broad == narrow or narrow.startswith((broad + ".", broad + "[")):
        return True
    if broad.endswith(":]") and narrow.endswith(":]"):
        b_base, _, b_start = broad[:-2].rpartition("[")
        n_base, _, n_start = narrow[:-2].rpartition("[")
        return b_base == n_base and b_start.isdigit() and n_start.isdigit() and int(b_start) <= int(n_start)
    return False


def merge_dropped(paths: list[str]) -> tuple[str, ...]:
    """Paths in first-dropped order, without those a broader dropped path already covers."""
    kept: list[str] = []
    for path in paths:
        if any(_covers(other, path) for other in paths if other != path):
            continue
        if path not in kept:
            kept.append(path)
    return tuple(kept)


def compress(draft: Draft, upto: int) -> tuple[Draft, tuple[str, ...]]:
    """The draft with levels 1..``upto`` applied (0 is "none"), and the paths dropped."""
    dropped: list[str] = []
    for _, steps in LEVELS[1 : upto + 1]:
        for step in steps:
            draft, gone = step(draft)
            dropped.extend(gone)
    return draft, merge_dropped(dropped)
