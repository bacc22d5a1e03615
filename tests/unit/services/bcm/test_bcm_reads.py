"""The context API's reads over fakes: manifest view, history, export, guardrails, recommendations."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from lib.errors import NotFound, Unprocessable
from lib.services.bcm import reads
from lib.services.bcm.finalize import finalize_session
from lib.services.bcm.guardrails import compile_rule, violations
from lib.services.bcm.reads import STALE_AFTER_S
from tests.unit.services.bcm.bcm_support import EXPORTS, BcmRig


@pytest.fixture
def rig() -> BcmRig:
    r = BcmRig()
    finalize_session(r.completed_session(), r.mine, deps=r.deps)
    return r


def test_manifest_view_shape_and_freshness(rig: BcmRig) -> None:
    rig.clock.advance(90)
    view = reads.manifest_view(rig.workspace, deps=rig.deps)
    assert view["version"] == "1.0.0"
    assert view["workspace_id"] == rig.workspace
    assert view["served_from"] == "tier0"  # finalize filled this instance's memory
    assert view["freshness"] == {"age_seconds": 90, "stale": False}
    assert view["rebuild"] is None
    assert view["manifest"]["foundation"]["company"]
    rig.clock.advance(STALE_AFTER_S)
    assert reads.manifest_view(rig.workspace, deps=rig.deps)["freshness"]["stale"] is True


def test_no_manifest_is_404() -> None:
    rig = BcmRig()
    with pytest.raises(NotFound):
        reads.manifest_view(rig.workspace, deps=rig.deps)


def test_history_newest_first_with_limit(rig: BcmRig) -> None:
    out = reads.version_history(rig.workspace, 20, deps=rig.deps)
    assert [(v["version"], v["change"], v["source"]) for v in out["versions"]] == [("1.0.0", "initial", "onboarding")]
    with pytest.raises(Unprocessable):
        reads.parse_limit("0")
    with pytest.raises(Unprocessable):
        reads.parse_limit("abc")
    assert reads.parse_limit(None) == reads.HISTORY_DEFAULT_LIMIT


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_export_link_points_at_the_stored_document(rig: BcmRig, fmt: str) -> None:
    out = reads.export_link(rig.workspace, reads.parse_format(fmt), deps=rig.deps)
    body = rig.blobs.get_signed(out["url"])
    if fmt == "json":
        doc = json.loads(body)
        assert doc["version"] == "1.0.0"
        assert doc["manifest"]["foundation"]["company"]
    else:
        assert body.decode().startswith("# ")
        assert "## Messaging" in body.decode()
    assert out["filename"].endswith(".json" if fmt == "json" else ".md")
    current = rig.repo.current(rig.workspace)
    assert current is not None
    name = f"exports/{rig.workspace}/1.0.0-{current.checksum[:12]}/{out['filename']}"
    assert rig.blobs.stored(EXPORTS, name) is not None


@pytest.mark.parametrize(("fmt", "ext"), [("json", "json"), ("markdown", "md")])
def test_export_is_stored_as_utf8_and_downloads_under_the_api_filename(rig: BcmRig, fmt: str, ext: str) -> None:
    """The object carries its charset, and the signed URL the file name and type the browser saves it with."""
    out = reads.export_link(rig.workspace, reads.parse_format(fmt), deps=rig.deps)
    current = rig.repo.current(rig.workspace)
    assert current is not None
    stored = rig.blobs.stored(EXPORTS, f"exports/{rig.workspace}/1.0.0-{current.checksum[:12]}/{out['filename']}")
    assert stored is not None
    assert stored.content_type.endswith("; charset=utf-8")
    assert out["filename"].startswith("bcm-")
    assert out["filename"].endswith(f"-v1.0.0.{ext}")
    query = parse_qs(urlsplit(out["url"]).query)
    assert query["download"] == [out["filename"]]
    assert query["type"] == [stored.content_type]


def test_unknown_export_format_is_422() -> None:
    with pytest.raises(Unprocessable):
        reads.parse_format("pdf")


def test_guardrails_flag_the_manifest_donts(rig: BcmRig) -> None:
    ok = reads.check_text(rig.workspace, "We reconcile GSTR-2B every month.", deps=rig.deps)
    assert ok["ok"] is True
    assert ok["violations"] == []
    bad = reads.check_text(
        rig.workspace, "Setup is completely HASSLE-FREE. We promise 100% ITC recovery!", deps=rig.deps
    )
    assert bad["ok"] is False
    rules = {v["rule"] for v in bad["violations"]}
    assert "Do not use the word 'hassle-free'" in rules
    assert "Never promise 100% ITC recovery" in rules
    assert all(v["excerpt"] for v in bad["violations"])
    with pytest.raises(Unprocessable):
        reads.check_text(rig.workspace, "  ", deps=rig.deps)


@pytest.mark.parametrize(
    ("dont", "text", "hit"),
    [
        ("Never promise 100% ITC recovery", "Get 100% of your ITC recovery guaranteed", True),
        ("Never promise 100% ITC recovery", "ITC recovery every month", False),
        ("Never call CA firms slow or outdated", "CA firms are slow and outdated", True),
        ("Don't call it 'cheap'", "Our plan is cheap.", True),
        ("Don't call it 'cheap'", "Our plan is cheaper than hiring.", False),
        ("Avoid jargon like 'synergy'", "Real Synergy for finance teams", True),
    ],
)
def test_guardrail_rule_cases(dont: str, text: str, hit: bool) -> None:
    assert bool(violations(text, [dont])) is hit, compile_rule(dont)


@pytest.mark.parametrize("purpose", ["move", "campaign", "analytics"])
def test_recommendations_come_from_the_manifest(rig: BcmRig, purpose: str) -> None:
    out = reads.recommendations(rig.workspace, reads.parse_purpose(purpose), deps=rig.deps)
    current = rig.repo.current(rig.workspace)
    assert current is not None
    assert out["manifest_version"] == "1.0.0"
    assert out["checksum"] == current.checksum
    assert out["icp"]["name"] == current.manifest["icps"][0]["name"]
    priorities = [c["priority"] for c in out["channels"]]
    order = ["primary", "secondary", "experimental"]
    assert priorities == sorted(priorities, key=order.index)
    assert "avoid" not in priorities
    extra = {"move": "focus", "campaign": "creative", "analytics": "measure"}[purpose]
    assert out[extra]


def test_unknown_purpose_is_422() -> None:
    with pytest.raises(Unprocessable):
        reads.parse_purpose("party")
