"""A clock the local suite can move forward, like Stripe's test clocks (never deployed).

``make dev`` gives the container a ``TravelClock``: the real time plus an
offset kept in ``.local/clock.json``.  ``/_dev/clock``:

- ``GET /_dev/clock``: ``{now, offset_s}``;
- ``POST /_dev/clock/advance`` ``{"days": 30, "hours": 0, "minutes": 0}``: moves
  forward, stopping at every moment something is due (a reminder, a period or
  grace end, an AutoPay notice or debit) to run the subscription sweep and the
  AutoPay job there, then relays the outbox, so a person watches a renewal
  reminder, an AutoPay debit, a lapse and their emails in order;
- ``POST /_dev/clock/reset``: back to the real time (rows written in the
  future stay as they are).

Time only moves forward through ``advance``: a subscription never sees its
clock go back.  Production reads ``lib.clock.SystemClock`` only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from lib.domain.numbers import parse_int
from lib.errors import Unprocessable

if TYPE_CHECKING:
    from devtools.local.devserver import DevSuite
    from lib.services.payments.deps import PaymentDeps

# One advance may move at most this far (ten years) and stop at most this often.
MAX_ADVANCE_DAYS = 3660
MAX_STOPS = 20_000


class TravelClock:
    """``lib.ports.Clock``: the real time plus an offset that only ``advance`` grows."""

    def __init__(self, state_path: Path | None = None) -> None:
        self._path = state_path
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        if state_path is not None and state_path.exists():
            self._offset = timedelta(seconds=float(json.loads(state_path.read_text())["offset_s"]))

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def advance_to(self, at: datetime) -> None:
        """Move to ``at`` (ignored when it is not later than now)."""
        with self._lock:
            gap = at - (datetime.now(UTC) + self._offset)
            if gap > timedelta(0):
                self._offset += gap
            self._save()

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)
            self._save()

    def _save(self) -> None:
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._path.write_text(json.dumps({"offset_s": self._offset.total_seconds()}))


def _amount(body: dict[str, Any], field: str) -> int:
    raw = body.get(field, 0)
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"{field} must be a whole number >= 0")
    try:
        return parse_int(str(raw), name=field, default=0, minimum=0, maximum=MAX_ADVANCE_DAYS * 24 * 60)
    except Unprocessable as exc:
        raise ValueError(f"{field} must be a whole number from 0 to {MAX_ADVANCE_DAYS * 24 * 60}") from exc


def advance(suite: DevSuite, clock: TravelClock, by: timedelta) -> dict[str, Any]:
    """Move ``clock`` forward by ``by``, stopping at each moment something is due on the way (a
    subscription to sweep, an AutoPay renewal to notify or to debit) to run that job there."""
    from lib.services.payments.autopay import run_autopay
    from lib.services.payments.reconcile import ReconcileCommand, reconcile_order, relay_outbox
    from lib.services.payments.subscriptions import sweep_subscriptions

    deps = suite.container.payment_deps
    target = clock.now() + by
    swept = emails = stops = notified = redeemed = 0
    while stops < MAX_STOPS:
        moment = _next_moment(deps, clock.now(), target)
        if moment is None:
            break
        clock.advance_to(moment)
        result = sweep_subscriptions(deps=deps)
        run = run_autopay(deps=deps)
        for mid in run.debited:
            # Settle each debit at this moment, as the ladder's first check would seconds later: the
            # simulator's callback runs on its own thread and could land after the clock moved on.
            reconcile_order(ReconcileCommand(mid, chain="travel"), deps=deps)
        swept, emails, stops = swept + result.moved, emails + result.emails, stops + 1
        notified, redeemed = notified + run.notified, redeemed + run.redeemed
    clock.advance_to(target)
    relayed = relay_outbox(deps=deps)
    return {
        "now": clock.now().isoformat(),
        "moved": swept,
        "notices": emails,
        "autopay": {"notified": notified, "redeemed": redeemed},
        "stops": stops,
        "outbox": relayed,
    }


def _next_moment(deps: PaymentDeps, now: datetime, target: datetime) -> datetime | None:
    """The first moment up to ``target`` a job has work: the sweep's earliest ``next_sweep_at``
    (now, when one is overdue), an AutoPay notice (48 h before an end) or debit (at the end, and
    24 h after its notice) still ahead.  AutoPay moments already passed were run at their stop."""
    from lib.domain.autopay import NOTIFY_BEFORE, PRE_DEBIT_NOTICE

    moments: list[datetime] = []
    due = deps.repo.due_subscriptions(target, 1)
    if due and due[0].next_sweep_at is not None:
        moments.append(max(due[0].next_sweep_at, now))
    with deps.unit() as uow:
        ends = [s.current_period_end for _, s in uow.mandates.renewals_to_notify(target + NOTIFY_BEFORE, 100)]
        moments += [end - NOTIFY_BEFORE for end in ends if end is not None and end - NOTIFY_BEFORE > now]
        debits = uow.mandates.redemptions_to_redeem(target, 100)
        moments += [
            at
            for r in debits
            if r.notified_at is not None and (at := max(r.due_at, r.notified_at + PRE_DEBIT_NOTICE)) > now
        ]
    return min((m for m in moments if m <= target), default=None)


def create_app(suite: DevSuite) -> Any:
    """The ``DEV_MOUNTS`` factory (``/_dev/clock``); a no-op answer when the suite's clock is real."""
    clock = suite.container.clock

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path.rstrip("/")
        if not isinstance(clock, TravelClock):
            response = Response(json.dumps({"error": "this suite runs on the real clock"}), 409)
        elif request.method == "GET" and path in ("", "/"):
            body = {"now": clock.now().isoformat(), "offset_s": clock.offset.total_seconds()}
            response = Response(json.dumps(body), 200)
        elif request.method == "POST" and path == "/advance":
            try:
                body = request.get_json(silent=True) or {}
                if not isinstance(body, dict):
                    raise ValueError("send a JSON object")
                days, hours, minutes = (_amount(body, f) for f in ("days", "hours", "minutes"))
                by = timedelta(days=days, hours=hours, minutes=minutes)
                if by > timedelta(days=MAX_ADVANCE_DAYS):
                    raise ValueError(f"advance at most {MAX_ADVANCE_DAYS} days at once")
            except ValueError as exc:
                response = Response(json.dumps({"error": str(exc)}), 422)
            else:
                response = Response(json.dumps(advance(suite, clock, by), default=str), 200)
        elif request.method == "POST" and path == "/reset":
            clock.reset()
            response = Response(json.dumps({"now": clock.now().isoformat(), "offset_s": 0}), 200)
        else:
            response = Response(json.dumps({"error": "GET /, POST /advance or POST /reset"}), 404)
        response.mimetype = "application/json"
        return response(environ, start_response)

    return app
