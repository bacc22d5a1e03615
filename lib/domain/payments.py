"""Payments as pure rules: order states and their forward-only transitions,
plan prices, merchant order ids, subscription periods, the webhook header and
the reconciliation ladder.

Everything here is a function of its arguments (time and randomness are passed
in), so the services, the Postgres trigger's mirror in the fakes and the
PhonePe simulator can all agree on one definition, and the rules are tested
without I/O.  Described in docs/domain.md ("Payments") and docs/phonepe.md.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lib.errors import FieldError, Unprocessable

# --- order states ---------------------------------------------------------------------


class PaymentState(StrEnum):
    """A ``payment_transactions.state`` (the database's check constraint lists the same)."""

    CREATED = "CREATED"
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    REFUNDED = "REFUNDED"
    NEEDS_REVIEW = "NEEDS_REVIEW"


OPEN_STATES = frozenset({PaymentState.CREATED, PaymentState.PENDING})
FINAL_STATES = frozenset(set(PaymentState) - OPEN_STATES)

# The edges the database trigger allows (schema: payment_transactions); anything else is refused.
ALLOWED_TRANSITIONS: Mapping[PaymentState, frozenset[PaymentState]] = {
    PaymentState.CREATED: frozenset(
        {PaymentState.PENDING, PaymentState.FAILED, PaymentState.EXPIRED, PaymentState.COMPLETED}
    ),
    PaymentState.PENDING: frozenset({PaymentState.COMPLETED, PaymentState.FAILED, PaymentState.EXPIRED}),
    PaymentState.COMPLETED: frozenset({PaymentState.REFUNDED}),
    PaymentState.FAILED: frozenset({PaymentState.NEEDS_REVIEW}),
    PaymentState.EXPIRED: frozenset({PaymentState.NEEDS_REVIEW}),
    PaymentState.REFUNDED: frozenset(),
    PaymentState.NEEDS_REVIEW: frozenset(),
}


class TransitionKind(StrEnum):
    MOVE = "move"  # a forward step: write the new state
    REVIEW = "review"  # money arrived after we gave up: flag for a person (never dropped)
    NOOP = "noop"  # the state we already hold (duplicate webhook, repeated poll)
    IGNORED = "ignored"  # backward, sideways between finals, or a state we do not know


@dataclass(frozen=True)
class Transition:
    """What one reported state does to an order: ``to`` is the state afterwards."""

    current: PaymentState
    reported: str
    to: PaymentState
    kind: TransitionKind
    reason: str

    @property
    def changes(self) -> bool:
        """True when the row must be written (a move or a review flag)."""
        return self.kind in (TransitionKind.MOVE, TransitionKind.REVIEW)


def parse_state(raw: str | None) -> PaymentState | None:
    """A state from PhonePe or our own rows; unknown values are None (never an exception:
    PhonePe adds enum values without notice and asks clients to parse leniently)."""
    if raw is None:
        return None
    try:
        return PaymentState(raw.strip().upper())
    except ValueError:
        return None


def next_state(current: PaymentState | str, reported: PaymentState | str | None) -> Transition:
    """Apply one reported state to an order in ``current`` (forward-only).

    A COMPLETED reported after FAILED/EXPIRED becomes NEEDS_REVIEW: the customer
    paid, so the fact must not be dropped, but nothing is granted automatically."""
    cur = PaymentState(current)
    raw = "" if reported is None else str(reported)
    rep = parse_state(raw)
    if rep is None:
        return Transition(cur, raw, cur, TransitionKind.IGNORED, f"unknown state {raw!r}: not final, nothing to do")
    if rep is cur:
        return Transition(cur, raw, cur, TransitionKind.NOOP, f"already {cur}")
    late_payment = rep in (PaymentState.COMPLETED, PaymentState.NEEDS_REVIEW)
    if late_payment and cur in (PaymentState.FAILED, PaymentState.EXPIRED):
        return Transition(
            cur, raw, PaymentState.NEEDS_REVIEW, TransitionKind.REVIEW, f"paid after the order was {cur}: needs review"
        )
    if rep in ALLOWED_TRANSITIONS[cur]:
        return Transition(cur, raw, rep, TransitionKind.MOVE, f"{cur} -> {rep}")
    if rep is PaymentState.COMPLETED and cur is PaymentState.NEEDS_REVIEW:
        return Transition(cur, raw, cur, TransitionKind.NOOP, "already flagged for review")
    return Transition(cur, raw, cur, TransitionKind.IGNORED, f"{rep} after {cur} would go backward: ignored")


# --- webhook events -----------------------------------------------------------------------


class WebhookEventName(StrEnum):
    """PhonePe's ``event`` values (docs/phonepe.md); ``type`` is not read."""

    ORDER_COMPLETED = "checkout.order.completed"
    ORDER_FAILED = "checkout.order.failed"
    REFUND_COMPLETED = "pg.refund.completed"
    REFUND_FAILED = "pg.refund.failed"
    REFUND_ACCEPTED = "pg.refund.accepted"  # older accounts still send it


ORDER_EVENTS = frozenset({WebhookEventName.ORDER_COMPLETED, WebhookEventName.ORDER_FAILED})
REFUND_EVENTS = frozenset(
    {WebhookEventName.REFUND_COMPLETED, WebhookEventName.REFUND_FAILED, WebhookEventName.REFUND_ACCEPTED}
)


def parse_event(raw: str | None) -> WebhookEventName | None:
    """The event name, or None for one we do not know (recorded, not acted on)."""
    try:
        return WebhookEventName((raw or "").strip())
    except ValueError:
        return None


# --- the webhook header ---------------------------------------------------------------------


def webhook_authorization(username: str, password: str) -> str:
    """What PhonePe sends in ``Authorization``: lowercase hex SHA-256 of ``username:password``."""
    return hashlib.sha256(f"{username}:{password}".encode()).hexdigest()


def webhook_authorization_ok(header: str | None, username: str, password: str) -> bool:
    """Constant-time check of the header.  Exact match only: a prefix, whitespace or another
    case fails (PhonePe sends lowercase; anything else did not come from it)."""
    if not header:
        return False
    expected = webhook_authorization(username, password).encode()
    return hmac.compare_digest(header.encode("utf-8", "replace"), expected)


# --- plans and prices -----------------------------------------------------------------------


class BillingPeriod(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


# Calendar months per billing period (docs/domain.md).
PERIOD_MONTHS: Mapping[BillingPeriod, int] = {BillingPeriod.MONTHLY: 1, BillingPeriod.ANNUAL: 12}
CURRENCY = "INR"
# PhonePe refuses amounts below one rupee (docs/phonepe.md: amount >= 100 paise).
MIN_PAYABLE_PAISE = 100
# Shown when someone tries to buy a plan sold only by the sales team.
SALES_CONTACT_HINT = "This plan is not sold online: contact sales for a quote."


@dataclass(frozen=True)
class Plan:
    """One ``plans`` row; the server is the only source of prices."""

    id: str
    name: str
    monthly_paise: int | None
    annual_paise: int | None
    purchasable: bool

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Plan:
        return cls(
            id=str(row["id"]),
            name=str(row.get("name") or row["id"]),
            monthly_paise=_opt_int(row.get("monthly_paise")),
            annual_paise=_opt_int(row.get("annual_paise")),
            purchasable=bool(row.get("purchasable")),
        )

    def price(self, period: BillingPeriod | str) -> int | None:
        """The price for ``period``; a plain string is parsed (an unknown one raises ValueError)."""
        return self.monthly_paise if BillingPeriod(period) is BillingPeriod.MONTHLY else self.annual_paise


@dataclass(frozen=True)
class Quote:
    """What buying ``plan_id`` for ``period`` costs; ``needs_checkout`` False means activate at once."""

    plan_id: str
    plan_name: str
    billing_period: BillingPeriod
    amount_paise: int
    currency: str = CURRENCY

    @property
    def needs_checkout(self) -> bool:
        return self.amount_paise > 0


class UnknownPlan(Unprocessable):
    code = "unknown_plan"


class UnknownBillingPeriod(Unprocessable):
    code = "unknown_billing_period"


class PlanNotPurchasable(Unprocessable):
    """Enterprise (or any plan without an online price): the caller shows the contact hint."""

    code = "plan_not_purchasable"


def plans_by_id(rows: Iterable[Mapping[str, Any] | Plan]) -> dict[str, Plan]:
    return {p.id: p for p in (r if isinstance(r, Plan) else Plan.from_row(r) for r in rows)}


def parse_period(raw: str | None) -> BillingPeriod:
    try:
        return BillingPeriod((raw or "").strip().lower())
    except ValueError:
        raise UnknownBillingPeriod(
            f"billing_period must be one of {', '.join(BillingPeriod)}",
            errors=[FieldError("billing_period", "must be monthly or annual")],
        ) from None


def quote(plans: Mapping[str, Plan], plan_id: str, period: str) -> Quote:
    """The server-side price of a plan and period; raises a 422-class error when it cannot be bought."""
    billing = parse_period(period)
    plan = plans.get(plan_id)
    if plan is None:
        raise UnknownPlan(f"unknown plan {plan_id!r}", errors=[FieldError("plan", "unknown plan")])
    amount = plan.price(billing)
    if not plan.purchasable or amount is None:
        raise PlanNotPurchasable(
            f"the {plan.name} plan cannot be bought online",
            errors=[FieldError("plan", SALES_CONTACT_HINT)],
            extra={"contact": SALES_CONTACT_HINT},
        )
    if 0 < amount < MIN_PAYABLE_PAISE:
        # A misconfigured price: PhonePe would refuse it; never round it to free.
        raise PlanNotPurchasable(
            f"the {plan.name} plan has no valid online price",
            errors=[FieldError("plan", SALES_CONTACT_HINT)],
            extra={"contact": SALES_CONTACT_HINT},
        )
    return Quote(plan.id, plan.name, billing, amount)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


# --- merchant order ids -------------------------------------------------------------------

# PhonePe's rule for merchantOrderId / merchantRefundId (and our check constraint).
MERCHANT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
MERCHANT_ID_MAX_LEN = 63
# 80 bits of randomness: collisions are not a practical concern even at one order a millisecond.
ORDER_ID_RANDOM_BYTES = 10
_RANDOM_RE = re.compile(r"^[A-Za-z0-9]+$")


def is_valid_merchant_id(value: str) -> bool:
    return bool(MERCHANT_ID_RE.fullmatch(value))


def new_merchant_order_id(now: datetime, rand: str | None = None, *, prefix: str = "ord") -> str:
    """``ord_<yyyymmddHHMMSS>_<random>``: sortable by creation time (UTC), unique by the random
    part, within PhonePe's 63 characters of ``[A-Za-z0-9_-]``.  Pass ``rand`` for a
    deterministic id (tests); by default 20 hex characters from ``secrets``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    random_part = secrets.token_hex(ORDER_ID_RANDOM_BYTES) if rand is None else rand
    if not _RANDOM_RE.fullmatch(random_part) or not re.fullmatch(r"[A-Za-z0-9]{1,8}", prefix):
        raise ValueError("prefix and random part must be letters and digits")
    head = f"{prefix}_{now.astimezone(UTC):%Y%m%d%H%M%S}_"
    return head + random_part[: MERCHANT_ID_MAX_LEN - len(head)]


def new_merchant_refund_id(now: datetime, rand: str | None = None) -> str:
    """Same shape as an order id with the ``rfd`` prefix."""
    return new_merchant_order_id(now, rand, prefix="rfd")


# --- subscription periods ---------------------------------------------------------------------


def add_months(at: datetime, months: int) -> datetime:
    """Calendar months, the day clamped to the target month's last day (Jan 31 + 1 -> Feb 28/29)."""
    total = at.month - 1 + months
    year, month = at.year + total // 12, total % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def subscription_period(
    extend_from: datetime | None, period: BillingPeriod | str, now: datetime
) -> tuple[datetime, datetime]:
    """The (start, end) a payment buys: from ``extend_from`` (the running period's end, while it is
    active or in its grace: ``lib.domain.subscriptions.running_end``), so no paid day is lost and
    none is given twice; from ``now`` when there is none (new or lapsed)."""
    months = PERIOD_MONTHS[parse_period(str(period))]
    start = extend_from if extend_from is not None else now
    return start, add_months(start, months)


# --- reconciliation ladder ----------------------------------------------------------------------

# docs/phonepe.md: the first status check 20-25 s after pay (the customer is still on the page).
FIRST_CHECK_S = 20.0
# (until this many seconds after pay, check every so many seconds): 3 s for 30 s, 6 s for 60 s,
# 10 s for 60 s, 30 s for 60 s, each phase starting where the previous one ended.
LADDER_PHASES: tuple[tuple[float, float], ...] = (
    (FIRST_CHECK_S + 30, 3.0),
    (FIRST_CHECK_S + 90, 6.0),
    (FIRST_CHECK_S + 150, 10.0),
    (FIRST_CHECK_S + 210, 30.0),
)
# After the ladder: once a minute until a final state or the order's expiry.
LADDER_TAIL_S = 60.0
# PhonePe's clock and ours may differ: an order counts as expired this long after expireAt,
# and the last check is scheduled then.
EXPIRY_GRACE_S = 60.0


def next_check_delay(elapsed_s: float, *, until_expiry_s: float | None = None) -> float | None:
    """Seconds until the next status check of an order paid ``elapsed_s`` ago whose ``expireAt``
    is ``until_expiry_s`` away (negative once passed; None when unknown).  None means stop:
    the order is past its expiry (plus grace) and the caller should settle it as expired."""
    if until_expiry_s is not None and until_expiry_s + EXPIRY_GRACE_S <= 0:
        return None
    if elapsed_s < FIRST_CHECK_S:
        delay = FIRST_CHECK_S - elapsed_s
    else:
        delay = next((step for until, step in LADDER_PHASES if elapsed_s < until), LADDER_TAIL_S)
    if until_expiry_s is not None:
        delay = min(delay, until_expiry_s + EXPIRY_GRACE_S)
    return delay


def reconciliation_delays(expire_after_s: float) -> list[float]:
    """Every delay of the ladder for an order that expires ``expire_after_s`` after pay and never
    reaches a final state (the most checks it can cost; docs and tests)."""
    delays: list[float] = []
    elapsed = 0.0
    while (delay := next_check_delay(elapsed, until_expiry_s=expire_after_s - elapsed)) is not None:
        delays.append(delay)
        elapsed += delay
    return delays


def is_expired(expire_at: datetime | None, now: datetime) -> bool:
    """Past ``expireAt`` by more than the grace (unknown expiry: never)."""
    return expire_at is not None and (now - expire_at).total_seconds() > EXPIRY_GRACE_S


__all__ = [
    "ALLOWED_TRANSITIONS",
    "FINAL_STATES",
    "OPEN_STATES",
    "SALES_CONTACT_HINT",
    "BillingPeriod",
    "PaymentState",
    "Plan",
    "PlanNotPurchasable",
    "Quote",
    "Transition",
    "TransitionKind",
    "UnknownBillingPeriod",
    "UnknownPlan",
    "WebhookEventName",
    "add_months",
    "is_expired",
    "is_valid_merchant_id",
    "new_merchant_order_id",
    "new_merchant_refund_id",
    "next_check_delay",
    "next_state",
    "parse_event",
    "parse_period",
    "parse_state",
    "plans_by_id",
    "quote",
    "reconciliation_delays",
    "subscription_period",
    "webhook_authorization",
    "webhook_authorization_ok",
]
