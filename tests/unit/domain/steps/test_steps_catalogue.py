"""The catalogue (GET /steps), the published schema files, and progress."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from lib.domain.steps import SCHEMA_DIR, STEPS, catalogue, progress, schema_files, validate_step, write_schemas
from lib.domain.steps.__main__ import main, stale_schemas
from lib.domain.steps.rules import RULES

REPO_SCHEMAS = Path(__file__).resolve().parents[4] / "schemas" / "steps"


def test_published_schema_files_match_the_models() -> None:
    """If this fails, run `python -m lib.domain.steps --write-schemas` and commit the result."""
    assert REPO_SCHEMAS == SCHEMA_DIR
    expected = schema_files()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in REPO_SCHEMAS.glob("*.schema.json")}
    assert sorted(on_disk) == sorted(expected)
    for name, content in expected.items():
        assert json.loads(on_disk[name]) == json.loads(content), name
        assert on_disk[name] == content, name


def test_catalogue_lists_the_23_steps_with_schemas() -> None:
    entries = catalogue()
    assert [e["number"] for e in entries] == list(range(1, 24))
    assert all(set(e) == {"number", "slug", "title", "ai_task", "schema"} for e in entries)
    first = entries[0]
    assert (first["slug"], first["title"], first["ai_task"]) == ("company_profile", "Company profile", None)
    assert entries[2]["ai_task"] == "extract_facts"
    for entry in entries:
        schema = entry["schema"]
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False
        assert schema["x-step"]["slug"] == entry["slug"]
        complete_when = schema["x-complete-when"]
        assert complete_when["description"]
        assert complete_when["requires"]
        assert all(isinstance(item, str) and item for item in complete_when["requires"])


def test_catalogue_returns_a_fresh_copy() -> None:
    catalogue()[0]["schema"]["title"] = "changed"
    assert catalogue()[0]["schema"]["title"] == "Company profile"


def test_every_step_has_a_rule() -> None:
    assert set(RULES) == {step.slug for step in STEPS}
    assert all(step.completeness is RULES[step.slug] for step in STEPS)


def test_schema_publishes_limits_the_server_enforces() -> None:
    schema = STEPS[0].json_schema()
    name = schema["properties"]["name"]["anyOf"][0]
    assert name["maxLength"] == 120
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors({"name": "Acme"}))
    assert list(validator.iter_errors({"name": "Ac\x07me"}))  # control character: refused by both
    assert list(validator.iter_errors({"ceo": "Asha"}))  # unknown field: refused by both
    description = schema["properties"]["description"]["anyOf"][0]
    assert not list(jsonschema.Draft202012Validator(description).iter_errors("two\nlines\tand a tab"))
    evidence = STEPS[1].json_schema()
    assert evidence["properties"]["items"]["anyOf"][0]["maxItems"] == 50


def test_write_schemas_cli_regenerates_and_check_detects_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--dir", str(tmp_path)]) == 1  # nothing written yet
    (tmp_path / "99_gone.schema.json").write_text("{}", encoding="utf-8")
    assert main(["--write-schemas", "--dir", str(tmp_path)]) == 0
    assert "wrote 23 step schemas" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(schema_files())
    assert stale_schemas(tmp_path) == []
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "01_company_profile.schema.json").write_text("{}", encoding="utf-8")
    assert stale_schemas(tmp_path) == ["01_company_profile.schema.json"]
    assert write_schemas(tmp_path)[0].name == "01_company_profile.schema.json"
    assert stale_schemas(tmp_path) == []


def test_progress_counts_complete_steps() -> None:
    assert progress({}) == {"complete": 0, "total": 23, "percent": 0}
    assert progress({1: "complete", 2: "draft", 3: "complete", 4: "empty"}) == {
        "complete": 2,
        "total": 23,
        "percent": 8,
    }
    assert progress(["complete"] * 22 + ["draft"]) == {"complete": 22, "total": 23, "percent": 95}
    assert progress(["complete"] * 23) == {"complete": 23, "total": 23, "percent": 100}
    assert progress({0: "complete", 24: "complete", 5: "complete"})["complete"] == 1  # unknown steps ignored


def test_a_draft_that_becomes_complete_moves_progress() -> None:
    statuses = {}
    draft = validate_step(1, {"name": "Hisaab Labs"}, draft=True)
    statuses[1] = "complete" if draft.complete else "draft"
    assert progress(statuses)["complete"] == 0
    done = validate_step(
        1,
        {
            "name": "Hisaab Labs",
            "industry": "SaaS",
            "stage": "growth",
            "description": "GST reconciliation for distributors.",
        },
        draft=False,
    )
    statuses[1] = "complete" if done.complete else "draft"
    assert progress(statuses) == {"complete": 1, "total": 23, "percent": 4}
