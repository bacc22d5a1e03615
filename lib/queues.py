"""The Cloud Tasks queues: one description, read by the code AND by Terraform.

``lib/queues.json`` is the single place a queue's name, target function,
retry config and rate limits live.  ``infra/terraform/locals.tf`` reads it
with ``jsondecode(file(...))`` to create the real queues; the local
dispatcher, the AI worker (which must know which attempt is the last) and the
rebuild worker read it here.  Code and infrastructure therefore cannot
disagree; ``tests/unit/tools/test_terraform.py`` checks that Terraform still reads
this file and nothing else for queue settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

SOURCE = Path(__file__).with_name("queues.json")


@dataclass(frozen=True)
class RetryConfig:
    """A queue's retry config, as Cloud Tasks' ``RetryConfig``."""

    max_attempts: int  # total attempts including the first; -1 = unlimited
    min_backoff_s: float
    max_backoff_s: float
    max_doublings: int = 16  # Cloud Tasks' default

    def backoff_s(self, retries_done: int) -> float:
        """The wait before retry number ``retries_done + 1`` (0-based index):
        doubles ``max_doublings`` times, then grows by the last doubled
        interval each time, capped at ``max_backoff_s``."""
        n = max(0, retries_done)
        if n <= self.max_doublings:
            interval = self.min_backoff_s * 2**n
        else:
            interval = self.min_backoff_s * 2**self.max_doublings * (n - self.max_doublings + 1)
        return float(min(interval, self.max_backoff_s))

    def gives_up_after(self, attempts: int) -> bool:
        return self.max_attempts != -1 and attempts >= self.max_attempts


@dataclass(frozen=True)
class QueueSpec:
    """One queue: its base name (Terraform appends ``-<env>``), the function it delivers to, its limits."""

    key: str
    name: str
    target: str
    retry: RetryConfig
    max_dispatches_per_second: float
    max_concurrent_dispatches: int
    why: str


def load(path: Path = SOURCE) -> Mapping[str, QueueSpec]:
    raw = json.loads(path.read_text())
    return MappingProxyType(
        {
            key: QueueSpec(
                key=key,
                name=q["name"],
                target=q["target"],
                retry=RetryConfig(
                    max_attempts=int(q["max_attempts"]),
                    min_backoff_s=float(q["min_backoff_s"]),
                    max_backoff_s=float(q["max_backoff_s"]),
                    max_doublings=int(q["max_doublings"]),
                ),
                max_dispatches_per_second=float(q["max_dispatches_per_second"]),
                max_concurrent_dispatches=int(q["max_concurrent_dispatches"]),
                why=q["why"],
            )
            for key, q in raw.items()
        }
    )


QUEUES = load()
AI = QUEUES["onboarding_ai"]
BCM = QUEUES["bcm_rebuild"]
PAYMENTS = QUEUES["payment_reconcile"]
OUTBOX = QUEUES["outbox_relay"]
