"""Developer commands for the BCM's derived files (the only file I/O in lib.domain.bcm).

    python -m lib.domain.bcm --write-schema     # schemas/business_context.v2.schema.json from the pydantic model
    python -m lib.domain.bcm --update-golden    # tests/golden/*.manifest.json from tests/golden/*.input.json

Regenerate goldens only for an intended change of the reducer's output, and
read the diff: the golden tests exist to catch unintended ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lib.domain.bcm.reducer import Source, reduce_context
from lib.domain.context.schema import SCHEMA_PATH, business_context_json_schema

REPO_ROOT = Path(__file__).resolve().parents[3]
GOLDEN_DIR = REPO_ROOT / "tests" / "golden"
INPUT_SUFFIX = ".input.json"
MANIFEST_SUFFIX = ".manifest.json"
# Goldens are built as a first onboarding would build them.
GOLDEN_SOURCE: Source = "onboarding"


def schema_text() -> str:
    """The published schema file's exact text."""
    return json.dumps(business_context_json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")
    return path


def golden_manifest(input_path: Path) -> bytes:
    """The canonical manifest bytes the reducer makes from one golden input."""
    context = json.loads(input_path.read_text(encoding="utf-8"))
    return reduce_context(context, source=GOLDEN_SOURCE).canonical


def update_golden(directory: Path = GOLDEN_DIR) -> list[Path]:
    written = []
    for input_path in sorted(directory.glob(f"*{INPUT_SUFFIX}")):
        target = input_path.with_name(input_path.name.removesuffix(INPUT_SUFFIX) + MANIFEST_SUFFIX)
        target.write_bytes(golden_manifest(input_path))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.domain.bcm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-schema", action="store_true", help="regenerate the business_context JSON Schema file")
    parser.add_argument("--update-golden", action="store_true", help="regenerate the golden manifests")
    parser.add_argument("--golden-dir", type=Path, default=GOLDEN_DIR, help="where the golden files live")
    args = parser.parse_args(argv)
    if not (args.write_schema or args.update_golden):
        parser.error("nothing to do: give --write-schema and/or --update-golden")
    if args.write_schema:
        print(f"wrote {write_schema()}")
    if args.update_golden:
        for path in update_golden(args.golden_dir):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
