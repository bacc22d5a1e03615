"""`.env.example` lists every Settings variable, each with a comment, and no real secret."""

from __future__ import annotations

import re
from pathlib import Path

from lib.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*?)\s*(#.*)?$")


def _entries() -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for raw in ENV_EXAMPLE.read_text().splitlines():
        if m := LINE.match(raw.strip()):
            out[m.group(1)] = (m.group(2), m.group(3))
    return out


def test_every_setting_is_listed_with_a_comment() -> None:
    entries = _entries()
    expected = {name.upper() for name in Settings.model_fields}
    missing = sorted(expected - entries.keys())
    assert not missing, f".env.example lacks {missing}"
    uncommented = sorted(k for k in expected if not entries[k][1])
    assert not uncommented, f"no comment for {uncommented}"


def test_no_unknown_variables() -> None:
    unknown = sorted(_entries().keys() - {name.upper() for name in Settings.model_fields})
    assert not unknown, f".env.example names variables Settings does not read: {unknown}"


def test_secrets_are_left_empty() -> None:
    entries = _entries()
    secret_fields = [n.upper() for n, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)]
    assert secret_fields, "Settings declares secrets"
    for name in secret_fields:
        if name in ("DATABASE_URL", "REDIS_URL"):
            continue  # local defaults without credentials
        assert entries[name][0] == "", f"{name} must have no value in .env.example"
