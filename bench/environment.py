"""The services a benchmark run talks to: the real local ones, or those the environment names.

``devtools.local.services.start_all`` starts PostgreSQL, Valkey and the emulators
in a temporary folder, except for each one whose variable (``DATABASE_URL``,
``REDIS_URL``, ``FIRESTORE_EMULATOR_HOST``, ``STORAGE_EMULATOR_HOST``) is
already set, which it uses as is.  The variables are exported so SDKs and the
cold-start child processes find the same services.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.harness import BenchContext

BUCKETS = ["bcm-exports-bench", "bcm-evidence-bench"]


@contextmanager
def local_services(*, quick: bool, migrate: bool = True) -> Iterator[BenchContext]:
    from devtools.local.services import start_all

    root = Path(tempfile.mkdtemp(prefix="bcm-bench-"))
    svc = start_all(root, persistent=False, buckets=BUCKETS)
    try:
        os.environ.update(svc.env)
        ctx = BenchContext(env=dict(svc.env), missing=dict(svc.missing), quick=quick)
        if migrate and "DATABASE_URL" in svc.env:
            _migrate(svc.env["DATABASE_URL"], ctx)
        yield ctx
    finally:
        svc.stop()
        shutil.rmtree(root, ignore_errors=True)


def _migrate(url: str, ctx: BenchContext) -> None:
    """Apply the schema so scenarios over real tables work; baselines do not need it."""
    try:
        from devtools.db.migrate import migrate
    except ImportError as exc:  # the DB layer not written yet
        ctx.missing["schema"] = f"devtools.db.migrate unavailable: {exc}"
        return
    try:
        migrate(url, local_shim=True)
    except Exception as exc:  # report, and let the raw baselines still run
        ctx.missing["schema"] = f"migrations failed: {type(exc).__name__}: {exc}"
