"""UPI AutoPay (PhonePe Subscriptions v2): when a renewal is notified and charged, and for how much.

A workspace opts in at checkout: the first period is paid by the mandate's setup order, which
also asks the customer to approve the mandate.  Each renewal is then two steps, RBI's rule for
e-mandates: a pre-debit notification at least 24 hours before the debit, then the redemption on
the due date (the period end).  We notify ``NOTIFY_BEFORE`` ahead of the end (room for a slow
notification and the scheduler's hour) and redeem once both the due date and the 24 hours have
passed.  A failed redemption leaves the period to run out (past due, the grace, the manual
renewal email); a cancelled, revoked or paused mandate is simply not charged.

The mandate is VARIABLE with a maximum of the dearest purchasable plan for its billing period:
an upgrade or a downgrade changes what the next redemption asks, never the mandate (so no new
approval for a plan change within our price list).  A renewal priced above the maximum (a price
rise) is not charged: AutoPay turns off and the customer renews by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lib.domain.payment_records import Subscription
from lib.domain.payments import BillingPeriod, Plan, parse_period
from lib.domain.subscriptions import OPEN, status_at
from lib.errors import Conflict

# RBI: the customer is told at least 24 hours before an e-mandate debit.
PRE_DEBIT_NOTICE = timedelta(hours=24)
# When a renewal is notified: this long before the period end.
NOTIFY_BEFORE = timedelta(hours=48)
# PhonePe's frequency for each of our billing periods.
FREQUENCY = {BillingPeriod.MONTHLY: "MONTHLY", BillingPeriod.ANNUAL: "YEARLY"}
# Mandate states in which it may still charge (PAUSED comes back when the customer unpauses).
LIVE_STATES = frozenset({"CREATED", "PENDING", "ACTIVE", "PAUSED"})
PRE_DEBIT_EMAIL = "autopay-pre-debit"
REDEMPTION_FAILED_EMAIL = "autopay-redemption-failed"
AUTOPAY_OFF_EMAIL = "autopay-off"


@dataclass(frozen=True)
class Mandate:
    id: str
    merchant_subscription_id: str
    workspace_id: str
    user_id: str
    plan_id: str
    billing_period: str
    state: str
    max_amount_paise: int
    setup_merchant_order_id: str
    phonepe_subscription_id: str | None = None
    autopay_off_at: datetime | None = None

    @property
    def charges(self) -> bool:
        """Whether a renewal may be charged through it now."""
        return self.state == "ACTIVE" and self.autopay_off_at is None

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES and self.autopay_off_at is None

    def as_json(self) -> dict[str, Any]:
        return {
            "merchant_subscription_id": self.merchant_subscription_id,
            "state": self.state,
            "on": self.live,
            "max_amount_paise": self.max_amount_paise,
            "billing_period": self.billing_period,
        }


@dataclass(frozen=True)
class Redemption:
    merchant_order_id: str
    mandate_id: str
    renews_from: datetime
    due_at: datetime
    notified_at: datetime | None = None
    redeem_requested_at: datetime | None = None


class AutoPayNotAvailable(Conflict):
    code, title = "autopay_not_available", "AutoPay not available"


def frequency(period: BillingPeriod | str) -> str:
    return FREQUENCY[parse_period(str(period))]


def mandate_max(plans: Iterable[Plan], period: BillingPeriod | str) -> int:
    """The mandate's maximum: the dearest purchasable plan's list price for the period."""
    billing = parse_period(str(period))
    prices = [p.price(billing) for p in plans if p.purchasable]
    return max((p for p in prices if p), default=0)


def notify_due(sub: Subscription, now: datetime, grace: timedelta) -> bool:
    """A renewal to notify now: a running paid period, not cancelled, ending within ``NOTIFY_BEFORE``."""
    end = sub.current_period_end
    return (
        end is not None
        and not sub.cancel_at_period_end
        and status_at(sub, now, grace) in OPEN
        and end - now <= NOTIFY_BEFORE
        and now < end + grace
    )


def redeem_allowed(redemption: Redemption, now: datetime) -> bool:
    """The due date has come and the customer was told at least 24 hours ago."""
    return (
        redemption.notified_at is not None
        and redemption.redeem_requested_at is None
        and now >= redemption.due_at
        and now >= redemption.notified_at + PRE_DEBIT_NOTICE
    )


def renewal_plan(sub: Subscription) -> tuple[str, str]:
    """What the renewal buys: the change scheduled for the period end, or the plan it has."""
    if sub.scheduled_plan_id and sub.scheduled_billing_period:
        return sub.scheduled_plan_id, sub.scheduled_billing_period
    return sub.plan_id, sub.billing_period
