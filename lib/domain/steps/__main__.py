"""``python -m lib.domain.steps --write-schemas`` regenerates ``schemas/steps/``; ``--check`` verifies it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lib.domain.steps.catalogue import SCHEMA_DIR, schema_files, write_schemas


def stale_schemas(directory: Path) -> list[str]:
    """Names of schema files that are missing, different, or no longer generated."""
    expected = schema_files()
    present = {path.name for path in directory.glob("*.schema.json")} if directory.is_dir() else set()
    stale = list(present - expected.keys())
    stale += [
        name
        for name, content in expected.items()
        if name not in present or (directory / name).read_text(encoding="utf-8") != content
    ]
    return sorted(stale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.domain.steps")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write-schemas", action="store_true", help="regenerate the published step schemas")
    action.add_argument("--check", action="store_true", help="exit 1 when the published schemas are stale")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help=f"schema folder (default {SCHEMA_DIR})")
    args = parser.parse_args(argv)
    if args.write_schemas:
        written = write_schemas(args.dir)
        print(f"wrote {len(written)} step schemas to {args.dir}")
        return 0
    stale = stale_schemas(args.dir)
    for name in stale:
        print(f"stale: {name}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
