"""What a move, a campaign or an analytics view should use, drawn from the manifest.

Pure: the manifest in, a recommendation out, always with the version and
checksum it came from (so an AI feature can cite its context and notice when
it moved on).  Every purpose gets the ICP to target (the primary, which the
reducer ranks first), the channels in priority order (``avoid`` ones listed
separately) and the messaging to use; each purpose then adds what it needs:

- move: the short-term goals a move should advance, and the ICP's triggers;
- campaign: the headline, subheads, approved soundbites and don'ts;
- analytics: the KPIs to measure against and the market sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from lib.domain.bcm.records import StoredManifest

Purpose = Literal["move", "campaign", "analytics"]
PURPOSES: tuple[str, ...] = get_args(Purpose)
# Channel priorities best first; anything unknown sorts after these, "avoid" is never recommended.
PRIORITY_ORDER = ("primary", "secondary", "experimental")


def _section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _channels(manifest: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    channels = [c for c in _list(manifest.get("channels")) if isinstance(c, Mapping) and c.get("name")]
    avoid = [str(c["name"]) for c in channels if c.get("priority") == "avoid"]
    use = [c for c in channels if c.get("priority") != "avoid"]
    rank = {p: i for i, p in enumerate(PRIORITY_ORDER)}
    use.sort(key=lambda c: rank.get(str(c.get("priority")), len(rank)))  # stable: the manifest's order within a rank
    return [{"name": c["name"], "priority": c.get("priority")} for c in use], avoid


def recommend(stored: StoredManifest, purpose: Purpose) -> dict[str, Any]:
    manifest = stored.manifest
    icps = [i for i in _list(manifest.get("icps")) if isinstance(i, Mapping)]
    primary = icps[0] if icps else {}
    messaging = _section(manifest, "messaging")
    foundation = _section(manifest, "foundation")
    channels, avoid = _channels(manifest)
    out: dict[str, Any] = {
        "for": purpose,
        "manifest_version": stored.version,
        "checksum": stored.checksum,
        "icp": {
            "name": primary.get("name"),
            "role": primary.get("role"),
            "pains": _list(primary.get("pains")),
            "goals": _list(primary.get("goals")),
        },
        "channels": channels,
        "avoid_channels": avoid,
        "messaging": {
            "one_liner": messaging.get("one_liner"),
            "value_prop": foundation.get("value_prop"),
            "positioning": messaging.get("positioning"),
            "tone": messaging.get("tone"),
            "dos": _list(_section(messaging, "guardrails").get("dos")),
        },
    }
    if purpose == "move":
        out["focus"] = {
            "short_term_goals": _list(_section(manifest, "goals").get("short_term")),
            "triggers": _list(primary.get("triggers")),
        }
    elif purpose == "campaign":
        hierarchy = _section(messaging, "hierarchy")
        soundbites = [s for s in _list(messaging.get("soundbites")) if isinstance(s, Mapping)]
        out["creative"] = {
            "headline": hierarchy.get("headline"),
            "subheads": _list(hierarchy.get("subheads")),
            "soundbites": [s.get("text") for s in soundbites if s.get("approved") is not False and s.get("text")],
            "donts": _list(_section(messaging, "guardrails").get("donts")),
        }
    else:
        out["measure"] = {
            "kpis": _list(_section(manifest, "goals").get("kpis")),
            "market": dict(_section(manifest, "market")),
        }
    return out
