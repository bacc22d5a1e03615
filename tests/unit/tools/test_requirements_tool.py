"""tools/requirements.py: the closure, the rendering, and that the committed files are current."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import requirements as req

FAKE_METADATA: dict[str, list[str]] = {
    "app": ["lib-a>=1", 'lib-b[fast]; python_version >= "3.12"', 'old-backport; python_version < "3.12"'],
    "lib-a": ['winonly; sys_platform == "win32"', 'lib-c; extra == "c"'],
    "lib-b": ['Speed_Up; extra == "fast"', 'never; extra == "slow"'],
    "speed-up": [],
    "lib-c": [],
    "old-backport": [],
    "winonly": [],
    "never": [],
}


def fake_requires(name: str) -> list[str]:
    if name not in FAKE_METADATA:
        raise LookupError(name)
    return FAKE_METADATA[name]


def test_closure_follows_requirements_extras_and_markers_for_the_cloud_runtime() -> None:
    assert req.closure(["app"], fake_requires) == {"app", "lib-a", "lib-b", "speed-up"}


def test_closure_expands_extras_requested_later_for_an_already_seen_package() -> None:
    assert req.closure(["lib-a", "lib-a[c]"], fake_requires) == {"lib-a", "lib-c"}


def test_markers_are_evaluated_for_the_given_environment() -> None:
    py311 = {**req.TARGET_ENV, "python_version": "3.11", "python_full_version": "3.11.7"}
    assert "old-backport" in req.closure(["app"], fake_requires, py311)
    assert "lib-b" not in req.closure(["app"], fake_requires, py311)


def test_a_needed_package_that_is_not_installed_is_an_error() -> None:
    with pytest.raises(req.RequirementsError, match="missing-dist"):
        req.closure(["missing-dist"], fake_requires)


def test_read_lock_keeps_the_locks_spelling_and_ignores_comments(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("Flask==3.1.3\n    # via functions-framework\npsycopg[binary]==3.3.9\n\n")
    pins = req.read_lock(lock)
    assert pins == {"flask": req.Pin("Flask", "3.1.3"), "psycopg": req.Pin("psycopg", "3.3.9")}


def test_render_sorts_pins_with_a_generated_header_and_refuses_unlocked_names() -> None:
    lock = {"b": req.Pin("B", "2"), "a": req.Pin("a", "1")}
    text = req.render("fn", ["b"], {"b", "a"}, lock)
    lines = text.splitlines()
    assert lines[0] == req.HEADER
    assert lines[-2:] == ["a==1", "B==2"]
    with pytest.raises(req.RequirementsError, match=r"not in requirements\.lock: c"):
        req.render("fn", ["c"], {"c"}, lock)


def test_generate_writes_one_file_per_function_and_stale_detects_edits(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.bcm]\ncommon = ["lib-a"]\n[tool.bcm.functions]\none = ["app"]\ntwo = []\n')
    lock = tmp_path / "requirements.lock"
    lock.write_text("app==1\nlib-a==2\nlib-b==3\nspeed-up==4\n")
    expected = req.generate(pyproject=pyproject, lock_path=lock, functions_dir=tmp_path, requires_of=fake_requires)
    assert set(expected) == {tmp_path / "one" / "requirements.txt", tmp_path / "two" / "requirements.txt"}
    assert expected[tmp_path / "two" / "requirements.txt"].endswith("\nlib-a==2\n")
    assert sorted(req.stale(expected)) == sorted(expected)
    for path, text in expected.items():
        path.parent.mkdir(parents=True)
        path.write_text(text)
    assert req.stale(expected) == []
    (tmp_path / "one" / "requirements.txt").write_text("app==0\n")
    assert req.stale(expected) == [tmp_path / "one" / "requirements.txt"]


# --- the real repository -------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path, text in req.generate().items():
        names = {line.split("==")[0] for line in text.splitlines() if line and not line.startswith("#")}
        out[path.parent.name] = names
    return out


def test_every_function_has_an_up_to_date_requirements_file() -> None:
    expected = req.generate()
    assert len(expected) == 11
    assert req.stale(expected) == [], "run `make requirements`"
    assert req.main(["--check"]) == 0


def test_payments_functions_pull_neither_firestore_nor_genai(generated: dict[str, set[str]]) -> None:
    for fn in ("initiate_payment", "payment_status", "payment_webhook", "payment_reconcile"):
        assert "google-cloud-firestore" not in generated[fn], fn
        assert "google-genai" not in generated[fn], fn


def test_only_onboarding_ai_pulls_genai_and_every_function_has_the_runtime_basics(
    generated: dict[str, set[str]],
) -> None:
    assert {fn for fn, names in generated.items() if "google-genai" in names} == {"onboarding_ai"}
    basics = {"functions-framework", "pydantic", "pydantic-settings", "psycopg", "psycopg-binary", "psycopg-pool"}
    for fn, names in generated.items():
        assert basics <= names, fn
        assert not {"pytest", "pgserver"} & names, fn
