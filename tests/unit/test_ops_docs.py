"""The operations docs cannot drift from what they describe: alerts, events, runbook commands."""

from __future__ import annotations

import re
from pathlib import Path

from lib import ops_events
from tools.tfcheck import Terraform

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _sections(text: str) -> dict[str, str]:
    """``## `name`: title`` sections by name."""
    parts = re.split(r"^## `([a-z0-9_]+)`.*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_alert_policy_has_a_section_saying_what_it_means_and_what_to_do() -> None:
    policies = Terraform.load().alert_policies
    sections = _sections((DOCS / "alerts.md").read_text())
    assert set(sections) == policies
    for name, body in sections.items():
        assert "**Means:**" in body, name
        assert "**Do:**" in body, name


def test_every_alerting_event_is_explained() -> None:
    text = (DOCS / "alerts.md").read_text()
    for event in ops_events.ALL:
        assert f"`{event}`" in text, event
