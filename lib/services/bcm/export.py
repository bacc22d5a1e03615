"""Rendering a manifest for export: JSON (the canonical bytes, pretty-printed) or Markdown.

The JSON export is the manifest plus a small header (workspace, version,
checksum) so a downloaded file says what it is; the Markdown export is a
readable brief of the same sections, for people.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

from lib.domain.bcm.records import StoredManifest

ExportFormat = Literal["json", "markdown"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)
CONTENT_TYPES: Mapping[str, str] = {
    "json": "application/json; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
}
EXTENSIONS: Mapping[str, str] = {"json": "json", "markdown": "md"}
_SLUG = re.compile(r"[^a-z0-9]+")


def filename(stored: StoredManifest, fmt: ExportFormat) -> str:
    """``bcm-<company>-v<version>.<ext>`` (ASCII, safe in a Content-Disposition header)."""
    company = _section(stored.manifest, "foundation").get("company")
    slug = _SLUG.sub("-", str(company or "workspace").casefold()).strip("-")[:40] or "workspace"
    return f"bcm-{slug}-v{stored.version}.{EXTENSIONS[fmt]}"


def object_name(stored: StoredManifest, fmt: ExportFormat) -> str:
    """Where the export lives in the exports bucket: one object per workspace, version, content and format."""
    return f"exports/{stored.workspace_id}/{stored.version}-{stored.checksum[:12]}/{filename(stored, fmt)}"


def render(stored: StoredManifest, fmt: ExportFormat) -> bytes:
    if fmt == "json":
        doc = {
            "workspace_id": stored.workspace_id,
            "version": stored.version,
            "checksum": stored.checksum,
            "token_count": stored.token_count,
            "created_at": stored.created_at.isoformat(),
            "manifest": stored.manifest,
        }
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    return _markdown(stored).encode("utf-8")


def _section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _bullets(values: list[Any]) -> list[str]:
    return [f"- {v}" for v in values if v not in (None, "")]


def _markdown(stored: StoredManifest) -> str:
    m = stored.manifest
    f = _section(m, "foundation")
    lines = [
        f"# {f.get('company') or 'Business'} — Business Context Manifest v{stored.version}",
        "",
        f"Checksum `{stored.checksum}` · {stored.token_count} cl100k tokens · {stored.created_at.date().isoformat()}",
        "",
        "## Foundation",
    ]
    for label, key in (
        ("Industry", "industry"),
        ("Stage", "stage"),
        ("Category", "category"),
        ("Mission", "mission"),
        ("Value proposition", "value_prop"),
    ):
        if f.get(key):
            lines.append(f"- **{label}:** {f[key]}")
    lines += ["", "## Ideal customers"]
    for icp in _items(m.get("icps")):
        if not isinstance(icp, Mapping):
            continue
        lines += ["", f"### {icp.get('name')}" + (f" ({icp['role']})" if icp.get("role") else "")]
        for label, key in (("Pains", "pains"), ("Goals", "goals"), ("Triggers", "triggers"), ("Channels", "channels")):
            values = _items(icp.get(key))
            if values:
                lines.append(f"- **{label}:** " + "; ".join(str(v) for v in values))
    competitive = _section(m, "competitive")
    lines += ["", "## Competition"]
    for alt in _items(competitive.get("alternatives")):
        if isinstance(alt, Mapping):
            lines.append(f"- {alt.get('name')}" + (f" ({alt['kind']})" if alt.get("kind") else ""))
    messaging = _section(m, "messaging")
    guardrails = _section(messaging, "guardrails")
    lines += ["", "## Messaging"]
    if messaging.get("one_liner"):
        lines.append(f"> {messaging['one_liner']}")
    if messaging.get("positioning"):
        lines += ["", str(messaging["positioning"])]
    if guardrails:
        lines += ["", "**Do**", *_bullets(_items(guardrails.get("dos"))), "", "**Don't**"]
        lines += _bullets(_items(guardrails.get("donts")))
    lines += ["", "## Channels"]
    lines += [f"- {c.get('name')} — {c.get('priority')}" for c in _items(m.get("channels")) if isinstance(c, Mapping)]
    goals = _section(m, "goals")
    lines += ["", "## Goals"]
    lines += _bullets(_items(goals.get("short_term")))
    for kpi in _items(goals.get("kpis")):
        if isinstance(kpi, Mapping):
            lines.append(f"- KPI: {kpi.get('name')}" + (f" — {kpi['target']}" if kpi.get("target") else ""))
    return "\n".join(lines) + "\n"
