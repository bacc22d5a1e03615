"""Payment emails: HTML and plain text from an outbox row's payload.

Everything that can come from a user (their name, the workspace name) is
escaped with ``html.escape`` in the HTML part; the text part is plain.
Amounts are stored in paise and shown in rupees (99900 -> ₹999.00).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lib.domain.numbers import format_rupees
from lib.domain.payment_records import EmailFacts, NewEmail, OutboxEmail
from lib.services.payments.ports import EmailMessage

CONFIRMED_KIND = "payment-confirmed"
FAILED_KIND = "payment-failed"


def rupees(paise: int) -> str:
    """99900 -> '₹999.00', grouped the Indian way as on receipts (₹1,00,000.00)."""
    return format_rupees(int(paise))


# PhonePe's failure codes in plain words: its ``errorCode`` values and the UPI ``detailedErrorCode``
# values customers meet most (NPCI's codes, which PhonePe passes on).  An unknown code gets no reason line.
FAILURE_REASONS: Mapping[str, str] = {
    # errorCode
    "INSUFFICIENT_BALANCE": "there was not enough balance in the account",
    "BANK_TECHNICAL_ISSUE": "your bank had a technical problem",
    "INVALID_MPIN": "the UPI PIN entered was incorrect",
    "PAYMENT_ERROR": "PhonePe could not process the payment",
    "PAYMENT_DECLINED": "the payment was declined by your bank or payment app",
    "AUTHORIZATION_FAILED": "the payment could not be authorised",
    "TXN_AUTO_FAILED": "the payment was not completed in time",
    "TXN_NOT_COMPLETED": "the payment was not completed",
    "TIMED_OUT": "the payment timed out",
    "TXN_TIMED_OUT": "the payment timed out",
    "USER_CANCELLED": "the payment was cancelled",
    "INTERNAL_SERVER_ERROR": "PhonePe could not process the payment",
    # UPI detailedErrorCode
    "ZM": "the UPI PIN entered was incorrect",
    "Z9": "there was not enough balance in the account",
    "Z8": "the amount is above your bank's limit for one payment",
    "Z7": "your bank's limit on the number of payments was reached",
    "ZA": "the payment was declined in your UPI app",
    "U30": "your bank could not debit the account",
    "U69": "the payment request expired before it was approved",
}
# Where a failed payment is retried (the frontend's billing page).
BILLING_PATH = "/billing"


def confirmed_subject(plan_name: str) -> str:
    return f"Payment confirmed: {plan_name} plan"


def failed_subject(plan_name: str) -> str:
    return f"Payment failed: {plan_name} plan"


def failure_reason(error_code: str | None, detailed_error_code: str | None = None) -> str | None:
    """PhonePe's failure in plain words (the detailed code first: it says more), or None when unknown."""
    for code in (detailed_error_code, error_code):
        reason = FAILURE_REASONS.get((code or "").strip().upper())
        if reason is not None:
            return reason
    return None


def failed_email_extra(error_code: str | None, frontend_url: str) -> dict[str, Any]:
    """What a payment-failed outbox row adds to the shared facts: the code, its plain words, the retry link."""
    return {
        "error_code": error_code,
        "reason": failure_reason(error_code),
        "retry_url": f"{frontend_url.rstrip('/')}{BILLING_PATH}",
    }


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def _field(payload: Mapping[str, Any], key: str, default: str = "") -> str:
    value = payload.get(key)
    return default if value is None else str(value)


def render_confirmed(subject: str, payload: Mapping[str, Any]) -> Rendered:
    plan = _field(payload, "plan_name", _field(payload, "plan_id"))
    period = _field(payload, "billing_period")
    amount = rupees(int(payload.get("amount_paise") or 0))
    order_id = _field(payload, "merchant_order_id")
    next_date = _field(payload, "next_billing_date", "-")
    workspace = _field(payload, "workspace_name")
    name = _field(payload, "full_name") or "there"
    number, receipt_url = _field(payload, "receipt_number"), _field(payload, "receipt_url")
    receipt_text = f"Receipt: {number} (download it from {receipt_url})\n" if number else ""
    text = (
        f"Hi {name},\n\n"
        f"Your payment for the {plan} plan ({period}) of {workspace} is confirmed.\n\n"
        f"Amount: {amount}\nOrder: {order_id}\nNext billing date: {next_date}\n{receipt_text}\n"
        "Thank you.\n"
    )
    e = html.escape
    body = (
        "<!doctype html><html><body>"
        f"<p>Hi {e(name)},</p>"
        f"<p>Your payment for the <strong>{e(plan)}</strong> plan ({e(period)}) of "
        f"<strong>{e(workspace)}</strong> is confirmed.</p>"
        "<table>"
        f"<tr><td>Amount</td><td>{e(amount)}</td></tr>"
        f"<tr><td>Order</td><td>{e(order_id)}</td></tr>"
        f"<tr><td>Next billing date</td><td>{e(next_date)}</td></tr>"
        + (f'<tr><td>Receipt</td><td><a href="{e(receipt_url)}">{e(number)}</a></td></tr>' if number else "")
        + "</table><p>Thank you.</p></body></html>"
    )
    return Rendered(subject, body, text)


def render_failed(subject: str, payload: Mapping[str, Any]) -> Rendered:
    plan = _field(payload, "plan_name", _field(payload, "plan_id"))
    amount = rupees(int(payload.get("amount_paise") or 0))
    order_id = _field(payload, "merchant_order_id")
    workspace = _field(payload, "workspace_name")
    name = _field(payload, "full_name") or "there"
    reason = _field(payload, "reason")
    retry_url = _field(payload, "retry_url")
    because = f": {reason}" if reason else ""
    retry = f"You can try again from the billing page: {retry_url}" if retry_url else "You can try again any time."
    text = (
        f"Hi {name},\n\n"
        f"Your payment for the {plan} plan of {workspace} did not go through{because}.\n"
        "Your plan was not activated.\n\n"
        f"Amount: {amount}\nOrder: {order_id}\n\n{retry}\n"
    )
    e = html.escape
    link = (
        f'<p>You can try again from the <a href="{e(retry_url)}">billing page</a>.</p>'
        if retry_url
        else "<p>You can try again any time.</p>"
    )
    body = (
        "<!doctype html><html><body>"
        f"<p>Hi {e(name)},</p>"
        f"<p>Your payment for the <strong>{e(plan)}</strong> plan of <strong>{e(workspace)}</strong>"
        f" did not go through{e(because)}. Your plan was not activated.</p>"
        "<table>"
        f"<tr><td>Amount</td><td>{e(amount)}</td></tr>"
        f"<tr><td>Order</td><td>{e(order_id)}</td></tr>"
        f"</table>{link}</body></html>"
    )
    return Rendered(subject, body, text)


def billing_notice(
    kind: str,
    facts: EmailFacts,
    subject: str,
    paragraphs: list[str],
    key: str,
    *,
    frontend_url: str,
    extra: Mapping[str, Any] | None = None,
) -> NewEmail | None:
    """The outbox row of a notice to the workspace's owner (rendered by ``render_notice``): its
    paragraphs and a link to the billing page, plus ``extra`` facts kept with it; None when the
    owner has no address."""
    if not facts.to_email:
        return None
    payload = {
        **(extra or {}),
        "full_name": facts.full_name,
        "paragraphs": paragraphs,
        "action_url": f"{frontend_url}{BILLING_PATH}",
        "action_label": "Open billing",
    }
    return NewEmail(str(uuid.uuid4()), kind, facts.to_email, subject, payload, key)


def render_notice(subject: str, payload: Mapping[str, Any]) -> Rendered:
    """A subscription notice (reminder, expiry, cancellation): ``paragraphs`` and an optional
    ``action_url`` / ``action_label`` from the payload, all escaped."""
    name = _field(payload, "full_name") or "there"
    paragraphs = [str(p) for p in payload.get("paragraphs") or []]
    url, label = _field(payload, "action_url"), _field(payload, "action_label", "Open billing")
    text = f"Hi {name},\n\n" + "\n\n".join(paragraphs) + (f"\n\n{label}: {url}\n" if url else "\n")
    e = html.escape
    link = f'<p><a href="{e(url)}">{e(label)}</a></p>' if url else ""
    body = (
        "<!doctype html><html><body>"
        f"<p>Hi {e(name)},</p>" + "".join(f"<p>{e(p)}</p>" for p in paragraphs) + f"{link}</body></html>"
    )
    return Rendered(subject, body, text)


def message_for(row: OutboxEmail) -> EmailMessage:
    """The email an outbox row stands for, with its provider idempotency key."""
    renderers = {FAILED_KIND: render_failed, CONFIRMED_KIND: render_confirmed}
    out = renderers.get(row.kind, render_notice)(row.subject, row.payload)
    return EmailMessage(
        to=row.to_email, subject=out.subject, html=out.html, text=out.text, idempotency_key=row.idempotency_key
    )


__all__ = [
    "CONFIRMED_KIND",
    "FAILED_KIND",
    "FAILURE_REASONS",
    "billing_notice",
    "confirmed_subject",
    "failed_email_extra",
    "failed_subject",
    "failure_reason",
    "message_for",
    "render_confirmed",
    "render_failed",
    "render_notice",
    "rupees",
]
