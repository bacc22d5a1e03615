"""The one real clock.  Services take a ``lib.ports.Clock``; production passes ``SystemClock``.

Tests pass ``lib.testing.fakes.FixedClock`` or ``ManualClock`` instead.
"""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """The real clock (``lib.ports.Clock``): timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
