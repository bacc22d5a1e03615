"""Semantic versions of a workspace's manifests: what kind of change a new manifest is.

- major: the manifest schema changed, or the identity did (company name, category, primary ICP);
- minor: the set of ICP, alternative, channel or KPI names changed, or the value proposition did;
- patch: any other content change; none: the same checksum (no new version).

Identity and names are compared normalised (Unicode NFKC, case-folded,
whitespace squashed): "Acme  Inc" -> "ACME Inc" is a cosmetic edit, a patch.
The value proposition is compared as text (after squashing whitespace): any
rewording is a minor change.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lib.domain.bcm.checksum import manifest_checksum

Change = Literal["initial", "major", "minor", "patch"]
INITIAL_VERSION = "1.0.0"
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


@dataclass(frozen=True)
class VersionChange:
    version: str
    change: Change


def _norm(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split()) or None


def _section(manifest: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = manifest.get(name)
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _names(items: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    return frozenset(name for name in (_norm(item.get("name")) for item in items) if name)


def _identity(manifest: Mapping[str, Any]) -> tuple[str | None, ...]:
    foundation = _section(manifest, "foundation")
    icps = _items(manifest.get("icps"))
    return (
        _section(manifest, "meta").get("schema_version"),
        _norm(foundation.get("company")),
        _norm(foundation.get("category")),
        _norm(icps[0].get("name")) if icps else None,  # the reducer puts the primary ICP first
    )


def _inventory(manifest: Mapping[str, Any]) -> tuple[Any, ...]:
    value_prop = _section(manifest, "foundation").get("value_prop")
    return (
        _names(_items(manifest.get("icps"))),
        _names(_items(_section(manifest, "competitive").get("alternatives"))),
        _names(_items(manifest.get("channels"))),
        _names(_items(_section(manifest, "goals").get("kpis"))),
        " ".join(value_prop.split()) if isinstance(value_prop, str) else None,
    )


def classify_change(previous: Mapping[str, Any], new: Mapping[str, Any]) -> Change | None:
    """What kind of change ``new`` is relative to ``previous``; None when their checksums are equal."""
    if manifest_checksum(previous) == manifest_checksum(new):
        return None
    if _identity(previous) != _identity(new):
        return "major"
    if _inventory(previous) != _inventory(new):
        return "minor"
    return "patch"


def bump(version: str, change: Change) -> str:
    """The version after ``change`` (``initial`` restarts at 1.0.0)."""
    if change == "initial":
        return INITIAL_VERSION
    match = _SEMVER.match(version)
    if match is None:
        raise ValueError(f"not a major.minor.patch version: {version!r}")
    major, minor, patch = (int(part) for part in match.groups())
    if change == "major":
        return f"{major + 1}.0.0"
    if change == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def next_version(
    previous: Mapping[str, Any] | None, previous_version: str | None, new: Mapping[str, Any]
) -> VersionChange | None:
    """The version for ``new`` given the workspace's current manifest and version; None when nothing changed."""
    if previous is None and previous_version is None:
        return VersionChange(INITIAL_VERSION, "initial")
    if previous is None or previous_version is None:
        raise ValueError("previous manifest and previous version go together: give both or neither")
    change = classify_change(previous, new)
    if change is None:
        return None
    return VersionChange(bump(previous_version, change), change)
