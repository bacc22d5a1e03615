"""Migration discovery: name order, the Supabase CLI version prefix, bad names refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.db.migrate import MIGRATIONS_DIR, discover
from devtools.db.scratch import database_url


def test_discovers_in_name_order_with_numeric_versions(tmp_path: Path) -> None:
    for name in ["010_later.sql", "002_second.sql", "001_first.sql"]:
        (tmp_path / name).write_text("select 1;")
    (tmp_path / "README.md").write_text("not a migration")
    found = discover(tmp_path)
    assert [(m.version, m.name) for m in found] == [("001", "first"), ("002", "second"), ("010", "later")]
    assert found[0].sql == "select 1;"


@pytest.mark.parametrize("bad", ["first.sql", "001-first.sql", "001_fir st.sql", "v1_first.sql"])
def test_refuses_names_the_cli_would_not_version(tmp_path: Path, bad: str) -> None:
    (tmp_path / bad).write_text("select 1;")
    with pytest.raises(ValueError, match=r"<digits>_<name>\.sql"):
        discover(tmp_path)


def test_refuses_duplicate_versions(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("select 1;")
    (tmp_path / "001_b.sql").write_text("select 1;")
    with pytest.raises(ValueError, match="duplicate migration version 001"):
        discover(tmp_path)


def test_the_repository_migrations_are_001_to_007() -> None:
    assert [m.version for m in discover(MIGRATIONS_DIR)] == ["001", "002", "003", "004", "005", "006", "007"]


def test_database_url_swaps_only_the_database() -> None:
    url = database_url("postgresql://postgres@127.0.0.1:5433/postgres?sslmode=disable", "other")
    assert "dbname=other" in url
    assert "port=5433" in url
    assert "sslmode=disable" in url
    assert "dbname=postgres" not in url
