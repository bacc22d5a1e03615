"""Command line: ``python -m devtools {dev,check-env,migrate}``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    # Cheap: probes import their SDKs only when they run; the names must come from the one registry.
    from devtools.checkenv import PROBES, run_check

    services = list(PROBES)
    parser = argparse.ArgumentParser(prog="python -m devtools")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run the whole system locally (the local emulator suite)")
    chk = sub.add_parser("check-env", help="validate settings and probe every service")
    chk.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="check the environment in this dotenv file (tools/deployed_env.py writes it) "
        "INSTEAD of the process environment: the file's values win and unset ones take their defaults",
    )
    chk.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=services,
        metavar="SERVICE",
        help=f"leave a probe out (repeatable), e.g. redis from outside the VPC; one of: {', '.join(services)}",
    )
    mig = sub.add_parser("migrate", help="apply supabase/migrations to DATABASE_URL")
    mig.add_argument("--no-shim", action="store_true", help="the database is Supabase: skip the local auth shim")
    args = parser.parse_args(argv)

    if args.command == "dev":
        from devtools.local.devserver import run

        return run()
    if args.command == "check-env":
        return run_check(env_file=args.env_file, skip=args.skip)
    if args.command == "migrate":
        from devtools.db.migrate import migrate
        from lib.config import get_settings

        applied = migrate(get_settings().database_url.get_secret_value(), local_shim=not args.no_shim)
        print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none'}")
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
