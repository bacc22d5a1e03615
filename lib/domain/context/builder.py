"""Building business_context v2.0 from the 23 steps' data (what finalize does).

Pure: step data in (keyed by slug, field names as in the step table of docs/domain.md),
a JSON-ready dict out.  The builder copies and reshapes; it does not judge:
whatever is wrong is reported by ``validate_business_context`` with a path.
It tolerates absent steps and fields (they become ``null`` / ``[]``), trims
strings, and maps empty strings to ``null``.

Facts merge steps 3 and 5: rejected extractions are dropped; a truth-sheet
entry that points at a fact (``source_fact_id``) replaces its value, and one
that points at nothing is a fact of its own.  The founder's truth sheet wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lib.domain.context.models import BUSINESS_CONTEXT_VERSION, MAX_EVIDENCE_SUMMARY

# Truth-sheet entries the founder confirmed or edited are certain.
CONFIRMED_CONFIDENCE = 1.0
# A truth-sheet entry still under review, with no extracted fact behind it: as likely as not.
NEEDS_REVIEW_CONFIDENCE = 0.5
# Extracted facts the founder verified or edited are certain too; pending ones keep the model's confidence.
REVIEWED_FACT_STATUSES = frozenset({"verified", "edited"})
EVIDENCE_KINDS = ("url", "file", "note")

Json = dict[str, Any]


def _text(value: Any) -> str | None:
    """A trimmed string, or None for missing/blank; numbers become their plain text."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _texts(value: Any, *keys: str) -> list[str]:
    """A list of trimmed non-blank strings; dict items give the first of ``keys`` present; a lone string is a list."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence):
        return []
    out: list[str] = []
    for item in value:
        text = _text(next((item[k] for k in keys if _text(item.get(k))), None) if isinstance(item, Mapping) else item)
        if text is not None:
            out.append(text)
    return out


def _records(value: Any) -> list[Mapping[str, Any]]:
    """The mapping items of a list (anything else is not a record and is skipped)."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _step(steps: Mapping[str, Mapping[str, Any]], slug: str) -> Mapping[str, Any]:
    data = steps.get(slug)
    return data if isinstance(data, Mapping) else {}


def _company_profile(step: Mapping[str, Any]) -> Json:
    return {key: _text(step.get(key)) for key in ("name", "website", "industry", "stage", "description")}


def _evidence(step: Mapping[str, Any]) -> Json:
    items = _records(step.get("items"))
    kinds = Counter(str(item.get("kind")) for item in items)
    tags = Counter(tag.casefold() for item in items for tag in _texts(item.get("tags")))
    top_tags = sorted(tags.items(), key=lambda pair: (-pair[1], pair[0]))[:MAX_EVIDENCE_SUMMARY]
    titles = [t for t in (_text(item.get("title")) for item in items) if t][:MAX_EVIDENCE_SUMMARY]
    return {
        "count": len(items),
        "summary": {
            "by_kind": {kind: kinds.get(kind, 0) for kind in EVIDENCE_KINDS},
            "titles": titles,
            "tags": [tag for tag, _ in top_tags],
        },
    }


def _extracted_fact(fact: Mapping[str, Any]) -> Json:
    confidence = _number(fact.get("confidence"))
    if fact.get("status") in REVIEWED_FACT_STATUSES:
        confidence = CONFIRMED_CONFIDENCE
    return {
        "id": _text(fact.get("id")),
        "category": _text(fact.get("category")),
        "label": _text(fact.get("label")),
        "value": _text(fact.get("value")),
        "confidence": confidence,
        "source": "extraction",
    }


def _facts(extraction: Mapping[str, Any], truth_sheet: Mapping[str, Any]) -> list[Json]:
    facts = [_extracted_fact(f) for f in _records(extraction.get("facts")) if f.get("status") != "rejected"]
    by_id = {fact["id"]: fact for fact in facts if fact["id"] is not None}
    for entry in _records(truth_sheet.get("entries")):
        status = entry.get("status")
        value = _text(entry.get("value"))
        if status == "unknown" or value is None:
            continue  # the truth sheet has no value to give: the extraction (if any) stands
        certain = status in ("confirmed", "edited")
        target = by_id.get(_text(entry.get("source_fact_id")))
        if target is not None:
            target["value"] = value
            target["label"] = _text(entry.get("label")) or target["label"]
            target["category"] = _text(entry.get("category")) or target["category"]
            target["source"] = "truth_sheet"
            if certain:
                target["confidence"] = CONFIRMED_CONFIDENCE
            continue
        fact = {
            "id": _text(entry.get("id")),
            "category": _text(entry.get("category")),
            "label": _text(entry.get("label")),
            "value": value,
            "confidence": CONFIRMED_CONFIDENCE if certain else NEEDS_REVIEW_CONFIDENCE,
            "source": "truth_sheet",
        }
        facts.append(fact)
        if fact["id"] is not None:
            by_id[fact["id"]] = fact
    return facts


def _icp(profile: Mapping[str, Any]) -> Json:
    psycho = profile.get("psychographics")
    psycho = psycho if isinstance(psycho, Mapping) else {}
    sophistication = profile.get("sophistication")
    return {
        "name": _text(profile.get("name")),
        "role": _text(profile.get("role")),
        "company_size": _text(profile.get("company_size")),
        "stage": _text(profile.get("stage")),
        "psychographics": {key: _texts(psycho.get(key)) for key in ("beliefs", "fears", "values")},
        "pain_points": _texts(profile.get("pain_points"), "text", "pain"),
        "goals": _texts(profile.get("goals"), "text", "goal"),
        "objections": _texts(profile.get("objections"), "text", "objection"),
        "triggers": _texts(profile.get("triggers"), "text", "trigger"),
        "hangouts": _texts(profile.get("hangouts"), "name", "text"),
        "sophistication": sophistication if isinstance(sophistication, int) else None,
    }


def _primary_icp(step: Mapping[str, Any], icps: list[Json]) -> str | None:
    """The primary ICP's name: ``primary`` may be a name, an index, or a flag on one profile."""
    names: list[str | None] = [icp["name"] for icp in icps]
    primary = step.get("primary")
    if isinstance(primary, str) and primary.strip() in names:
        return primary.strip()
    if isinstance(primary, int) and not isinstance(primary, bool) and 0 <= primary < len(names):
        return names[primary]
    flagged = [name for name, p in zip(names, _records(step.get("profiles")), strict=False) if p.get("primary")]
    if flagged:
        return flagged[0]
    return _text(primary) or (names[0] if len(names) == 1 else None)


def _category(path_step: Mapping[str, Any], statement_step: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(category, category_path): the selected path's category name, else the positioning step's category."""
    options = path_step.get("options")
    options = options if isinstance(options, Mapping) else {}
    selected = _text(path_step.get("selected"))
    if selected in options and isinstance(options[selected], Mapping):
        return _text(options[selected].get("category_name")), selected
    for key in ("safe", "clever", "bold"):
        option = options.get(key)
        if isinstance(option, Mapping) and selected and _text(option.get("category_name")) == selected:
            return selected, key
    return _text(statement_step.get("category")), None


def _axis(value: Any) -> Json | None:
    """An axis is {label, low, high}; a bare string is its label."""
    if isinstance(value, str):
        value = {"label": value}
    if not isinstance(value, Mapping):
        return None
    return {key: _text(value.get(key)) for key in ("label", "low", "high")}


def _perceptual_map(step: Mapping[str, Any]) -> Json | None:
    ours = step.get("our_position")
    if not step or not isinstance(ours, Mapping):
        return None
    return {
        "x_axis": _axis(step.get("x_axis")),
        "y_axis": _axis(step.get("y_axis")),
        "our_position": {"x": _number(ours.get("x")), "y": _number(ours.get("y"))},
        "competitors": [
            {"name": _text(c.get("name")), "x": _number(c.get("x")), "y": _number(c.get("y"))}
            for c in _records(step.get("competitors"))
        ],
        "narrative": _text(step.get("narrative")),
    }


def _positioning(steps: Mapping[str, Mapping[str, Any]]) -> Json:
    statement = _step(steps, "positioning_statement")
    category, category_path = _category(_step(steps, "category_path"), statement)
    focus_items = _records(_step(steps, "focus_sacrifice").get("items"))
    return {
        "category": category,
        "category_path": category_path,
        "uvp": _text(statement.get("uvp")),
        "statement": _text(statement.get("statement")),
        "for_whom": _text(statement.get("for_whom")),
        "problem": _text(statement.get("problem")),
        "differentiators": _texts(statement.get("differentiators"), "text", "name"),
        "competitors": [
            {key: _text(alt.get(key)) for key in ("name", "kind", "their_promise", "their_weakness", "our_leverage")}
            for alt in _records(_step(steps, "competitive_alternatives").get("alternatives"))
        ],
        "perceptual_map": _perceptual_map(_step(steps, "perceptual_map")),
        "capabilities": [
            {
                "name": _text(cap.get("name")),
                "rating": _text(cap.get("rating")),
                "verified": cap.get("verified") is True,
            }
            for cap in _records(_step(steps, "capability_rating").get("capabilities"))
        ],
        "focus": _texts([i for i in focus_items if i.get("decision") == "focus"], "item"),
        "sacrifice": _texts([i for i in focus_items if i.get("decision") == "sacrifice"], "item"),
    }


def _messaging(steps: Mapping[str, Mapping[str, Any]]) -> Json:
    hierarchy = _step(steps, "message_hierarchy")
    guardrails = _step(steps, "messaging_guardrails")
    voice = hierarchy.get("brand_voice")
    voice = voice if isinstance(voice, Mapping) else {}
    return {
        "one_liner": _text(hierarchy.get("one_liner")),
        "headline": _text(hierarchy.get("headline")),
        "subheads": _texts(hierarchy.get("subheads"), "text"),
        "proof_points": _texts(hierarchy.get("proof_points"), "text"),
        "tone": _texts(voice.get("tone")),
        "dos": _texts(guardrails.get("dos"), "text"),
        "donts": _texts(guardrails.get("donts"), "text"),
        "soundbites": [
            {"label": _text(s.get("label")), "text": _text(s.get("text")), "status": _text(s.get("status"))}
            for s in _records(_step(steps, "soundbites").get("soundbites"))
        ],
    }


def _channels(step: Mapping[str, Any]) -> list[Json]:
    return [
        {
            "name": _text(c.get("name")),
            "tier": _text(c.get("tier")),
            "owned": c.get("owned") if isinstance(c.get("owned"), bool) else None,
            "rationale": _text(c.get("rationale")),
        }
        for c in _records(step.get("channels"))
    ]


def _market_size(value: Any) -> Json | None:
    if not isinstance(value, Mapping):
        return None
    return {
        "value": _number(value.get("value")),
        "display": _text(value.get("display")),
        "basis": _text(value.get("basis")),
    }


def _market(step: Mapping[str, Any]) -> Json | None:
    if not step:
        return None
    return {
        "tam": _market_size(step.get("tam")),
        "sam": _market_size(step.get("sam")),
        "som": _market_size(step.get("som")),
        "currency": _text(step.get("currency")),
        "verticals": _texts(step.get("verticals"), "name"),
        "geo": _texts(step.get("geo"), "name"),
    }


def _offer(step: Mapping[str, Any]) -> Json | None:
    if not step:
        return None
    return {
        "pricing_model": _text(step.get("pricing_model")),
        "core_deliverable": _text(step.get("core_deliverable")),
        "promised_outcome": _text(step.get("promised_outcome")),
        "time_to_value": _text(step.get("time_to_value")),
        "tiers": [
            {
                "name": _text(t.get("name")),
                "price": _number(t.get("price")),
                "currency": _text(t.get("currency")),
                "billing_period": _text(t.get("billing_period")),
                "description": _text(t.get("description")),
                "features": _texts(t.get("features"), "text", "name"),
            }
            for t in _records(step.get("tiers"))
        ],
    }


def _goals(step: Mapping[str, Any]) -> Json:
    return {
        "short_term": _texts(step.get("short_term_goals"), "text", "goal"),
        "long_term": _texts(step.get("long_term_goals"), "text", "goal"),
        "kpis": [
            {
                "name": _text(k.get("name")),
                "target": _number(k.get("target")),
                "unit": _text(k.get("unit")),
                "cadence": _text(k.get("cadence")),
            }
            for k in _records(step.get("kpis"))
        ],
    }


def _buying_process(step: Mapping[str, Any]) -> Json | None:
    if not step:
        return None
    stage = step.get("awareness_stage")
    return {
        "awareness_stage": stage if isinstance(stage, int) and not isinstance(stage, bool) else None,
        "stages": [
            {
                "name": _text(s.get("name")),
                "questions": _texts(s.get("questions"), "text"),
                "content": _texts(s.get("content"), "text", "title"),
            }
            for s in _records(step.get("stages"))
        ],
        "decision_makers": _texts(step.get("decision_makers"), "name", "role"),
    }


def _market_insights(step: Mapping[str, Any]) -> Json:
    return {
        "insights": [
            {
                "kind": _text(i.get("kind")),
                "quote": _text(i.get("quote")),
                "source": _text(i.get("source")),
                "sentiment": _number(i.get("sentiment")),
            }
            for i in _records(step.get("insights"))
        ],
        "detected_competitors": _texts(step.get("detected_competitors"), "name"),
    }


def _open_tasks(step: Mapping[str, Any]) -> list[str]:
    return _texts([t for t in _records(step.get("tasks")) if t.get("done") is not True], "text")


def build_business_context(
    steps: Mapping[str, Mapping[str, Any]],
    *,
    session_id: str,
    workspace_id: str,
    generated_at: datetime,
) -> dict[str, Any]:
    """The business_context v2.0 document for one finished session (validate it before storing)."""
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    profiles = _step(steps, "icp_profiles")
    icps = [_icp(p) for p in _records(profiles.get("profiles"))]
    return {
        "version": BUSINESS_CONTEXT_VERSION,
        "generated_at": generated_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "session_id": session_id,
        "workspace_id": workspace_id,
        "company_profile": _company_profile(_step(steps, "company_profile")),
        "evidence": _evidence(_step(steps, "evidence_vault")),
        "intelligence": {
            "facts": _facts(_step(steps, "auto_extraction"), _step(steps, "truth_sheet")),
            "icps": icps,
            "primary_icp": _primary_icp(profiles, icps),
            "positioning": _positioning(steps),
            "messaging": _messaging(steps),
            "channels": _channels(_step(steps, "channel_mapping")),
            "market": _market(_step(steps, "market_size")),
            "offer": _offer(_step(steps, "offer_pricing")),
            "goals": _goals(_step(steps, "goals_kpis")),
            "buying_process": _buying_process(_step(steps, "buying_process")),
            "market_insights": _market_insights(_step(steps, "market_intelligence")),
            "open_validation_tasks": _open_tasks(_step(steps, "validation_todos")),
        },
    }
