"""Command line: ``python -m lib {dev,check-env,migrate}``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run the whole system locally (the local emulator suite)")
    sub.add_parser("check-env", help="validate settings and probe every service")
    mig = sub.add_parser("migrate", help="apply supabase/migrations to DATABASE_URL")
    mig.add_argument("--no-shim", action="store_true", help="the database is Supabase: skip the local auth shim")
    args = parser.parse_args(argv)

    if args.command == "dev":
        from lib.local.devserver import run

        return run()
    if args.command == "check-env":
        from lib.checkenv import run_check

        return run_check()
    if args.command == "migrate":
        from lib.config import get_settings
        from lib.db.migrate import migrate

        applied = migrate(get_settings().database_url.get_secret_value(), local_shim=not args.no_shim)
        print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none'}")
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
