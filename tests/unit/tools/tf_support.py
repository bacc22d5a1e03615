"""Copies of infra/terraform broken on purpose, for the tests of the Terraform checks."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TF_DIR = REPO / "infra" / "terraform"


def edited_copy(tmp_path: Path, edits: dict[str, tuple[str, str]], extra: str = "") -> Path:
    """infra/terraform copied under ``tmp_path``; each file's ``old`` (present exactly once) made ``new``.

    ``extra``, when given, is written as one more file of the configuration.
    """
    copy = shutil.copytree(TF_DIR, tmp_path / "terraform", ignore=shutil.ignore_patterns(".terraform*", "examples"))
    for file, (old, new) in edits.items():
        text = (copy / file).read_text()
        assert text.count(old) == 1, f"{old!r} must occur exactly once in {file}"
        (copy / file).write_text(text.replace(old, new))
    if extra:
        (copy / "extra.tf").write_text(extra)
    return copy
