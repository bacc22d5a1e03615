"""The reducer: what each section keeps, in which order, and how it compresses to fit the budget."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lib.domain.bcm import BudgetExceeded, count_tokens, reduce_context
from lib.domain.bcm.compression import merge_dropped
from lib.domain.bcm.text import cut, unique
from lib.errors import Unprocessable

GOLDEN = Path(__file__).resolve().parents[4] / "tests" / "golden"
LEVEL_ORDER = ["none", "light", "medium", "heavy", "aggressive", "emergency"]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"{name}.input.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def small() -> dict[str, Any]:
    return _load("small")


@pytest.fixture(scope="module")
def typical() -> dict[str, Any]:
    return _load("typical")


def _icp(name: str, **fields: Any) -> dict[str, Any]:
    icp = {
        "name": name,
        "role": None,
        "company_size": None,
        "stage": None,
        "psychographics": {"beliefs": [], "fears": [], "values": []},
        "pain_points": [],
        "goals": [],
        "objections": [],
        "triggers": [],
        "hangouts": [],
        "sophistication": None,
    }
    icp.update(fields)
    return icp


def _alt(name: str, kind: str | None, leverage: str | None = None) -> dict[str, Any]:
    return {"name": name, "kind": kind, "their_promise": None, "their_weakness": None, "our_leverage": leverage}


# --- sections ---------------------------------------------------------------------------------


def test_foundation_cuts_mission_and_value_prop(small: dict[str, Any]) -> None:
    small["company_profile"]["description"] = "word " * 150
    small["intelligence"]["positioning"]["uvp"] = "value " * 100
    foundation = reduce_context(small, source="onboarding").manifest["foundation"]
    assert len(foundation["mission"]) <= 200
    assert len(foundation["value_prop"]) <= 300
    assert foundation["mission"].endswith("…")
    assert foundation["company"] == "Chai Point Analytics"
    assert foundation["category_path"] == "safe"


def test_icps_primary_first_then_by_completeness_then_input_order(small: dict[str, Any]) -> None:
    small["intelligence"]["icps"] = [
        _icp("Sparse A"),
        _icp("Rich", role="CFO", pain_points=["a", "b", "c"], goals=["g"]),
        _icp("Primary", role="Owner"),
    ]
    small["intelligence"]["primary_icp"] = "Primary"
    names = [icp["name"] for icp in reduce_context(small, source="onboarding").manifest["icps"]]
    assert names == ["Primary", "Rich", "Sparse A"]


def test_icp_lists_take_three_unique_items_and_channels_from_hangouts(small: dict[str, Any]) -> None:
    small["intelligence"]["icps"] = [
        _icp(
            "Owner",
            pain_points=["Late invoices", "late  invoices", "Cash", "Staff", "Rent"],
            hangouts=["WhatsApp", "Instagram", "Local meetups", "Radio"],
            triggers=["Tax notice"],
            sophistication=2,
        )
    ]
    small["intelligence"]["primary_icp"] = "Owner"
    icp = reduce_context(small, source="onboarding").manifest["icps"][0]
    assert icp["pains"] == ["Late invoices", "Cash", "Staff"]
    assert icp["channels"] == ["WhatsApp", "Instagram", "Local meetups"]
    assert icp["triggers"] == ["Tax notice"]
    assert icp["sophistication"] == 2
    assert "goals" not in icp  # empty lists are left out


def test_alternatives_direct_first_at_most_five_with_leverage(small: dict[str, Any]) -> None:
    small["intelligence"]["positioning"]["competitors"] = [
        _alt("Notebook", "status_quo", "No typing"),
        _alt("POS vendor", "indirect"),
        _alt("Rival 1", "direct", "Cheaper"),
        _alt("Rival 2", "direct"),
        _alt("Rival 1", "indirect"),  # a repeated name keeps its first (best-ranked) entry
        _alt("Rival 3", "direct"),
        _alt("Unknown", None),
    ]
    competitive = reduce_context(small, source="onboarding").manifest["competitive"]
    assert competitive["alternatives"] == [
        {"name": "Rival 1", "kind": "direct"},
        {"name": "Rival 2", "kind": "direct"},
        {"name": "Rival 3", "kind": "direct"},
        {"name": "POS vendor", "kind": "indirect"},
        {"name": "Notebook", "kind": "status_quo"},
    ]
    assert competitive["leverage"] == ["Cheaper", "No typing"]
    assert competitive["category"] == "Retail analytics for kiosks"


def test_differentiation_falls_back_to_the_strongest_capabilities(small: dict[str, Any]) -> None:
    positioning = small["intelligence"]["positioning"]
    positioning["differentiators"] = []
    positioning["capabilities"] = [
        {"name": "Reports", "rating": "table_stakes", "verified": True},
        {"name": "Fast", "rating": "better", "verified": True},
        {"name": "UPI capture", "rating": "only_you", "verified": False},
        {"name": "WhatsApp delivery", "rating": "only_you", "verified": True},
    ]
    competitive = reduce_context(small, source="onboarding").manifest["competitive"]
    assert competitive["differentiation"] == ["WhatsApp delivery", "UPI capture", "Fast"]


def test_messaging_soundbites_approved_first_and_guardrails_five_each(small: dict[str, Any]) -> None:
    messaging = small["intelligence"]["messaging"]
    messaging["soundbites"] = [
        {"label": None, "text": "Draft one", "status": "draft"},
        {"label": None, "text": "Approved one", "status": "approved"},
        {"label": None, "text": "Draft two", "status": "draft"},
        {"label": None, "text": "Approved two", "status": "approved"},
    ]
    messaging["dos"] = [f"Do {i}" for i in range(8)]
    messaging["subheads"] = ["One", "Two", "Three", "Four"]
    out = reduce_context(small, source="onboarding").manifest["messaging"]
    assert out["soundbites"] == [
        {"text": "Approved one", "approved": True},
        {"text": "Approved two", "approved": True},
        {"text": "Draft one", "approved": False},
    ]
    assert out["guardrails"] == {"dos": [f"Do {i}" for i in range(5)], "donts": ["Do not say AI"]}
    assert out["hierarchy"] == {"headline": "Know your busiest hour", "subheads": ["One", "Two", "Three"]}
    assert out["positioning"].startswith("For kiosk owners")


def test_channels_by_tier_then_input_order_at_most_six(small: dict[str, Any]) -> None:
    small["intelligence"]["channels"] = [
        {"name": n, "tier": t, "owned": None, "rationale": None}
        for n, t in [
            ("Radio", "avoid"),
            ("Blog", "secondary"),
            ("WhatsApp", "primary"),
            ("Events", "experimental"),
            ("Instagram", "primary"),
            ("SEO", "secondary"),
            ("Flyers", None),
        ]
    ]
    channels = reduce_context(small, source="onboarding").manifest["channels"]
    assert channels == [
        {"name": "WhatsApp", "priority": "primary"},
        {"name": "Instagram", "priority": "primary"},
        {"name": "Blog", "priority": "secondary"},
        {"name": "SEO", "priority": "secondary"},
        {"name": "Events", "priority": "experimental"},
        {"name": "Radio", "priority": "avoid"},
    ]


def test_market_and_goals(small: dict[str, Any]) -> None:
    small["intelligence"]["market"]["som"] = {"value": 6000000.0, "display": None, "basis": None}
    small["intelligence"]["goals"]["kpis"] = [
        {"name": f"KPI {i}", "target": 1500.5 if i == 0 else 10, "unit": "INR", "cadence": "monthly"} for i in range(7)
    ]
    small["intelligence"]["goals"]["short_term"] = ["a", "b", "c", "d"]
    manifest = reduce_context(small, source="onboarding").manifest
    assert manifest["market"] == {"tam": "INR 120 Cr", "sam": "INR 9 Cr", "som": "INR 6000000"}
    assert manifest["goals"]["kpis"][0] == {"name": "KPI 0", "target": "1500.5 INR, monthly"}
    assert [k["name"] for k in manifest["goals"]["kpis"]] == [f"KPI {i}" for i in range(5)]
    assert manifest["goals"]["short_term"] == ["a", "b", "c"]


def test_meta(typical: dict[str, Any]) -> None:
    reduced = reduce_context(typical, source="edit")
    meta = reduced.manifest["meta"]
    assert meta == {
        "source": "edit",
        "schema_version": "1.0",
        "token_budget": 1200,
        "token_count": reduced.token_count,
        "tokenizer": "cl100k_base",
        "compression": "none",
        "dropped": [],
        "counts": {
            "alternatives": 4,
            "channels": 6,
            "evidence": 7,
            "facts": 9,
            "icps": 2,
            "kpis": 5,
            "open_tasks": 2,
            "soundbites": 4,
        },
    }
    assert "generated_at" not in json.dumps(reduced.manifest)


# --- determinism ------------------------------------------------------------------------------


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reverse_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(item) for item in value]
    return value


def test_dict_key_order_of_the_input_does_not_matter(typical: dict[str, Any]) -> None:
    assert (
        reduce_context(_reverse_keys(typical), source="onboarding").canonical
        == reduce_context(typical, source="onboarding").canonical
    )


@pytest.mark.parametrize("name", ["small", "typical", "very_large"])
def test_every_source_gives_the_same_content_level_and_checksum(name: str) -> None:
    context = _load(name)
    results = {source: reduce_context(context, source=source) for source in ("onboarding", "rebuild", "edit")}
    assert len({r.checksum for r in results.values()}) == 1
    assert len({(r.compression, r.dropped) for r in results.values()}) == 1
    for source, reduced in results.items():
        assert reduced.manifest["meta"]["source"] == source
        assert reduced.token_count == count_tokens(reduced.canonical.decode())


def test_an_invalid_context_is_unprocessable(small: dict[str, Any]) -> None:
    del small["company_profile"]["name"]
    with pytest.raises(Unprocessable) as info:
        reduce_context(small, source="onboarding")
    assert [e.path for e in info.value.errors] == ["company_profile.name"]


def test_an_unknown_source_is_refused(small: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="source"):
        reduce_context(small, source="import")  # type: ignore[arg-type]


# --- the budget and compression levels --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "budget", "level"),
    [
        ("typical", 1100, "light"),
        ("typical", 1050, "medium"),
        ("typical", 1000, "heavy"),
        ("typical", 800, "aggressive"),
        ("typical", 420, "emergency"),
        ("very_large", 1900, "light"),
        ("very_large", 1600, "medium"),
        ("very_large", 600, "aggressive"),
    ],
)
def test_each_level_is_reached_and_the_result_fits(name: str, budget: int, level: str) -> None:
    reduced = reduce_context(_load(name), source="rebuild", token_budget=budget)
    assert reduced.compression == level
    assert reduced.token_count <= budget
    assert reduced.token_count == count_tokens(reduced.canonical.decode()) == reduced.manifest["meta"]["token_count"]
    assert reduced.manifest["meta"]["token_budget"] == budget


def test_levels_are_the_first_that_fit(typical: dict[str, Any]) -> None:
    """Lowering the budget never picks a gentler level, and each level's output is smaller than the last."""
    seen: list[tuple[int, int]] = []
    for budget in range(1200, 380, -20):
        reduced = reduce_context(typical, source="rebuild", token_budget=budget)
        seen.append((LEVEL_ORDER.index(reduced.compression), reduced.token_count))
    assert [lvl for lvl, _ in seen] == sorted(lvl for lvl, _ in seen)
    by_level = dict(seen)
    assert list(by_level.values()) == sorted(by_level.values(), reverse=True)


def test_medium_drops_soundbites_and_extra_alternatives(typical: dict[str, Any]) -> None:
    reduced = reduce_context(typical, source="rebuild", token_budget=1050)
    assert "soundbites" not in reduced.manifest["messaging"]
    assert len(reduced.manifest["competitive"]["alternatives"]) == 3
    assert reduced.dropped == ("competitive.alternatives[3:]", "messaging.soundbites")


def test_heavy_keeps_one_icp_and_short_lists(typical: dict[str, Any]) -> None:
    manifest = reduce_context(typical, source="rebuild", token_budget=1000).manifest
    assert len(manifest["icps"]) == 1
    assert all(len(manifest["icps"][0][key]) <= 2 for key in ("pains", "goals", "channels", "triggers"))
    assert len(manifest["messaging"]["guardrails"]["donts"]) == 2
    assert len(manifest["channels"]) <= 4
    assert len(manifest["goals"]["kpis"]) <= 3


def test_aggressive_keeps_names_only_in_lists(typical: dict[str, Any]) -> None:
    manifest = reduce_context(typical, source="rebuild", token_budget=800).manifest
    for items in (
        manifest["icps"],
        manifest["competitive"]["alternatives"],
        manifest["channels"],
        manifest["goals"]["kpis"],
    ):
        assert items
        assert all(set(item) == {"name"} for item in items)
    assert "guardrails" not in manifest["messaging"]
    assert "icps[*].pains" in manifest["meta"]["dropped"]
    assert "icps[*].pains[2:]" not in manifest["meta"]["dropped"]  # covered by the broader path


def test_emergency_keeps_foundation_and_names_only(typical: dict[str, Any]) -> None:
    manifest = reduce_context(typical, source="rebuild", token_budget=420).manifest
    assert manifest["foundation"]["company"] == "Hisaab Labs"
    assert manifest["messaging"] == {}
    assert manifest["market"] == {}
    assert {"messaging", "market"} <= set(manifest["meta"]["dropped"])
    assert "messaging.soundbites" not in manifest["meta"]["dropped"]


def test_emergency_cuts_texts_in_rounds_until_it_fits(typical: dict[str, Any]) -> None:
    loud = copy.deepcopy(typical)
    loud["company_profile"]["name"] = "会社名" * 60
    reduced = reduce_context(loud, source="rebuild", token_budget=420)
    assert reduced.compression == "emergency"
    assert len(reduced.manifest["foundation"]["company"]) < 100
    assert reduced.token_count <= 420


def test_a_budget_nothing_fits_raises(typical: dict[str, Any]) -> None:
    with pytest.raises(BudgetExceeded):
        reduce_context(typical, source="rebuild", token_budget=100)


def test_pathological_input_still_fits_the_real_budget(typical: dict[str, Any]) -> None:
    """Maximum-length strings of characters that cost several tokens each: the levels still get under 1200."""
    heavy = copy.deepcopy(typical)
    glyphs = "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522\U0001f642"  # Fraktur + emoji
    intel = heavy["intelligence"]
    heavy["company_profile"]["name"] = (glyphs * 40)[:200]
    heavy["company_profile"]["description"] = (glyphs * 200)[:1000]
    intel["positioning"]["uvp"] = (glyphs * 300)[:2000]
    intel["positioning"]["category"] = (glyphs * 40)[:200]
    for icp in intel["icps"]:
        renamed = icp["name"][0] + (glyphs * 40)[: 200 - 1]
        if intel["primary_icp"] == icp["name"]:
            intel["primary_icp"] = renamed
        icp["name"] = renamed
    for alt in intel["positioning"]["competitors"]:
        alt["name"] = alt["name"] + (glyphs * 40)[: 200 - len(alt["name"])]
    reduced = reduce_context(heavy, source="onboarding")
    assert reduced.token_count <= 1200
    assert reduced.compression in {"aggressive", "emergency"}


def test_token_count_is_honest_across_the_thousand_boundary(typical: dict[str, Any]) -> None:
    """Where the count gains a digit group (999 -> 1000+), the number written still equals the real count."""
    near = copy.deepcopy(typical)
    near["intelligence"]["messaging"]["soundbites"] = []
    near["intelligence"]["icps"][1]["triggers"] = []
    counts = []
    for length in range(60, 111, 2):
        near["company_profile"]["description"] = ("word " * 30)[:length]
        reduced = reduce_context(near, source="onboarding", token_budget=5000)
        assert reduced.token_count == count_tokens(reduced.canonical.decode()), length
        counts.append(reduced.token_count)
    assert min(counts) < 1000 < max(counts)
    assert 1000 not in counts  # 1000 is no fixed point: writing it costs the token that makes 1001


def test_a_count_over_budget_only_because_of_its_own_digits_moves_to_the_next_level(typical: dict[str, Any]) -> None:
    near = copy.deepcopy(typical)
    near["intelligence"]["messaging"]["soundbites"] = []
    near["intelligence"]["icps"][1]["triggers"] = []
    levels = {}
    for length in range(70, 95):
        near["company_profile"]["description"] = ("word " * 30)[:length]
        reduced = reduce_context(near, source="onboarding", token_budget=1000)
        assert reduced.token_count <= 1000
        levels[length] = reduced.compression
    assert set(levels.values()) == {"none", "light"}


# --- helpers ----------------------------------------------------------------------------------


def test_cut_prefers_word_breaks_and_marks_the_cut() -> None:
    assert cut("short", 10) == "short"
    assert cut("one two three four", 11) == "one two…"
    assert cut("one two three four", 12) == "one two thr…"  # a word break before 60% of the limit is too early
    assert cut("abcdefghijklmnop", 8) == "abcdefg…"
    assert cut(None, 5) is None


def test_unique_squashes_whitespace_and_ignores_case() -> None:
    assert unique([" A  b ", "a B", "", None, "c"], 5) == ("A b", "c")


def test_merge_dropped_keeps_the_broadest_paths_in_order() -> None:
    assert merge_dropped(["icps[2:]", "x.y[2:]", "icps[1:]", "x.y", "icps[*].pains[2:]", "icps[*].pains"]) == (
        "icps[1:]",
        "x.y",
        "icps[*].pains",
    )


def test_market_without_display_and_absent_market(small: dict[str, Any]) -> None:
    small["intelligence"]["market"].update(
        tam={"value": 2.5e9, "display": None, "basis": None},
        sam={"value": None, "display": None, "basis": "unknown"},
        som=None,
        currency=None,
    )
    assert reduce_context(small, source="onboarding").manifest["market"] == {"tam": "2500000000"}
    small["intelligence"]["market"] = None
    assert reduce_context(small, source="onboarding").manifest["market"] == {}
