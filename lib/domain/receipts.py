"""Payment receipts as pure rules: the Indian financial year, receipt numbers, GSTIN checks,
the GST inside a price, and the one record a receipt is rendered from.

Prices are quoted to customers with 18 % GST included, in integer paise.  A receipt
splits the amount paid into the taxable value and the tax, names the tax by the place
of supply (CGST + SGST, or CGST + UTGST, within the supplier's state or union territory;
IGST across states) and is numbered per financial year.  Everything here is a
function of its arguments, so the services, the PDF renderer and the tests share one
definition; allocating the next number is the database's job (gap-free per issuer and
financial year), not this module's.  The choices are recorded in docs/decisions.md
("Receipts").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from lib.domain.payments import BillingPeriod

INDIA_TZ = "Asia/Kolkata"
FY_START_MONTH = 4  # April


@functools.cache
def india() -> ZoneInfo:
    """India time, in which the financial year, the receipt date and the service period are
    judged.  Loaded on first use: a runtime without the time zone database fails on its first
    receipt, not on importing every module that imports this one."""
    return ZoneInfo(INDIA_TZ)


# --- the financial year ---------------------------------------------------------------------

_FY_RE = re.compile(r"([0-9]{4})-([0-9]{2})")


def financial_year(at: datetime) -> str:
    """The Indian financial year (April to March, India time) holding ``at``: ``"2026-27"``.

    31 Mar 2027 18:29:59 UTC is still ``2026-27``; 18:30 UTC is midnight in India and
    ``2027-28``.  The end year is written with two digits (``"2099-00"``)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    local = at.astimezone(india())
    start = local.year if local.month >= FY_START_MONTH else local.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def parse_financial_year(label: str) -> int:
    """The start year of a label such as ``"2026-27"``; ValueError unless it is one."""
    match = _FY_RE.fullmatch(label)
    if match is None:
        raise ValueError(f"financial year {label!r} is not of the form 2026-27")
    start, end = int(match.group(1)), int(match.group(2))
    if end != (start + 1) % 100:
        raise ValueError(f"financial year {label!r} does not span two consecutive years")
    return start


# --- receipt numbers --------------------------------------------------------------------------

RECEIPT_PREFIX = "R"
RECEIPT_SEQ_DIGITS = 6
_RECEIPT_RE = re.compile(r"R/([0-9]{4}-[0-9]{2})/([0-9]{6,})")


@dataclass(frozen=True)
class ReceiptNumber:
    """A receipt number's parts; ``str()`` is the printed form ``R/2026-27/000123``."""

    fy: str
    seq: int

    def __str__(self) -> str:
        return receipt_number(self.fy, self.seq)


def receipt_number(fy: str, seq: int) -> str:
    """``R/<fy>/<seq>``, the sequence zero-padded to six digits (wider from 1 000 000 on).

    Up to 999 999 receipts a year the number stays within the 16 characters GST allows
    for a document's serial number."""
    parse_financial_year(fy)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"receipt sequence must be a whole number >= 1, not {seq!r}")
    return f"{RECEIPT_PREFIX}/{fy}/{seq:0{RECEIPT_SEQ_DIGITS}d}"


def parse_receipt_number(text: str) -> ReceiptNumber:
    """The parts of a printed receipt number; ValueError unless ``text`` is exactly the form
    ``receipt_number`` prints (so each receipt has one spelling: no ``0000123``, no spaces)."""
    match = _RECEIPT_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"receipt number {text!r} is not of the form R/2026-27/000123")
    number = ReceiptNumber(match.group(1), int(match.group(2)))
    try:
        canonical = receipt_number(number.fy, number.seq)
    except ValueError as exc:
        raise ValueError(f"receipt number {text!r}: {exc}") from None
    if canonical != text:
        raise ValueError(f"receipt number {text!r} is not written the canonical way ({number})")
    return number


def is_receipt_number(text: str) -> bool:
    try:
        parse_receipt_number(text)
    except ValueError:
        return False
    return True


# --- states and GSTINs ----------------------------------------------------------------------

# GST state codes (the first two digits of a GSTIN, and the place of supply).  25 and 28 are
# the pre-merger Daman and Diu and the pre-2014 Andhra Pradesh codes, still met on old records.
STATE_NAMES: Mapping[str, str] = {
    "01": "Jammu and Kashmir",
    "02": "Himachal Pradesh",
    "03": "Punjab",
    "04": "Chandigarh",
    "05": "Uttarakhand",
    "06": "Haryana",
    "07": "Delhi",
    "08": "Rajasthan",
    "09": "Uttar Pradesh",
    "10": "Bihar",
    "11": "Sikkim",
    "12": "Arunachal Pradesh",
    "13": "Nagaland",
    "14": "Manipur",
    "15": "Mizoram",
    "16": "Tripura",
    "17": "Meghalaya",
    "18": "Assam",
    "19": "West Bengal",
    "20": "Jharkhand",
    "21": "Odisha",
    "22": "Chhattisgarh",
    "23": "Madhya Pradesh",
    "24": "Gujarat",
    "25": "Daman and Diu",
    "26": "Dadra and Nagar Haveli and Daman and Diu",
    "27": "Maharashtra",
    "28": "Andhra Pradesh (old)",
    "29": "Karnataka",
    "30": "Goa",
    "31": "Lakshadweep",
    "32": "Kerala",
    "33": "Tamil Nadu",
    "34": "Puducherry",
    "35": "Andaman and Nicobar Islands",
    "36": "Telangana",
    "37": "Andhra Pradesh",
    "38": "Ladakh",
    "97": "Other Territory",
}
# Union territories without a legislature (and "other territory"): within them the state half
# of the tax is UTGST, not SGST.  Delhi, Puducherry and Jammu and Kashmir levy SGST.
UTGST_STATES = frozenset({"04", "25", "26", "31", "35", "38", "97"})

GSTIN_LENGTH = 15
_GSTIN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PAN_RE = re.compile(r"[A-Z]{5}[0-9]{4}[A-Z]")
_ENTITY_RE = re.compile(r"[1-9A-Z]")


def gstin_check_char(first14: str) -> str:
    """The GSTIN checksum character of the first 14 characters (the GSTN's mod-36 scheme):
    each character's value (0-9, then A-Z as 10-35) is multiplied by 1 and 2 alternately
    from the left, each product contributes its quotient and remainder by 36, and the check
    character is the value that brings the sum to a multiple of 36."""
    if len(first14) != GSTIN_LENGTH - 1 or any(c not in _GSTIN_CHARS for c in first14):
        raise ValueError("the checksum needs 14 characters of 0-9 and A-Z")
    total = 0
    for i, char in enumerate(first14):
        product = _GSTIN_CHARS.index(char) * (2 if i % 2 else 1)
        total += product // 36 + product % 36
    return _GSTIN_CHARS[(36 - total % 36) % 36]


@functools.lru_cache(maxsize=64)  # the same few GSTINs (ours) are checked on every breakup
def validate_gstin(gstin: str) -> str:
    """``gstin`` if it is a well-formed GSTIN, else ValueError naming the first problem:
    length, state code, PAN, entity number, the fixed ``Z``, or the checksum.  Letters must
    be upper case (the GSTN issues them so and the checksum is defined on them)."""
    if len(gstin) != GSTIN_LENGTH:
        raise ValueError(f"GSTIN must be {GSTIN_LENGTH} characters, not {len(gstin)}")
    if gstin[:2] not in STATE_NAMES:
        raise ValueError(f"GSTIN state code {gstin[:2]!r} is not a GST state code")
    if not _PAN_RE.fullmatch(gstin[2:12]):
        raise ValueError(f"GSTIN characters 3-12 {gstin[2:12]!r} are not a PAN (five letters, four digits, a letter)")
    if not _ENTITY_RE.fullmatch(gstin[12]):
        raise ValueError(f"GSTIN character 13 {gstin[12]!r} must be 1-9 or A-Z (the registration number)")
    if gstin[13] != "Z":
        raise ValueError(f"GSTIN character 14 must be 'Z', not {gstin[13]!r}")
    expected = gstin_check_char(gstin[:14])
    if gstin[14] != expected:
        raise ValueError(f"GSTIN checksum character is {gstin[14]!r}, expected {expected!r}")
    return gstin


def is_valid_gstin(gstin: str) -> bool:
    try:
        validate_gstin(gstin)
    except ValueError:
        return False
    return True


def validate_state_code(code: str) -> str:
    if code not in STATE_NAMES:
        raise ValueError(f"{code!r} is not a GST state code (two digits, 01-38 or 97)")
    return code


# --- GST inside a price ----------------------------------------------------------------------

GST_RATE_PERCENT = 18  # even: CGST and SGST are 9 % each


class SupplyKind(StrEnum):
    INTRA_STATE = "intra_state"  # CGST + SGST (or UTGST), half the rate each
    INTER_STATE = "inter_state"  # IGST at the full rate


@dataclass(frozen=True)
class TaxLine:
    """One printed tax line: ``CGST 9% ₹75.00``."""

    name: str  # "CGST", "SGST", "UTGST" or "IGST"
    rate_percent: int
    amount_paise: int


@dataclass(frozen=True)
class GstBreakup:
    """The GST inside ``gross_paise``: ``taxable_paise + tax_paise == gross_paise`` always.

    ``state_tax_paise`` is SGST, or UTGST when the place of supply is a union territory
    without a legislature (``state_tax_name`` says which)."""

    gross_paise: int
    taxable_paise: int
    supplier_gstin: str
    place_of_supply: str  # a GST state code
    kind: SupplyKind
    cgst_paise: int = 0
    state_tax_paise: int = 0
    igst_paise: int = 0

    def __post_init__(self) -> None:
        parts = (self.taxable_paise, self.cgst_paise, self.state_tax_paise, self.igst_paise)
        if min(parts) < 0 or sum(parts) != self.gross_paise:
            raise ValueError("taxable value and taxes must be non-negative and add up to the gross amount")
        validate_gstin(self.supplier_gstin)
        validate_state_code(self.place_of_supply)
        intra = self.kind is SupplyKind.INTRA_STATE
        if intra != (self.place_of_supply == self.supplier_state_code):
            raise ValueError("intra-state supply is exactly a place of supply in the supplier's state")
        stray = self.igst_paise if intra else self.cgst_paise + self.state_tax_paise
        if stray:
            raise ValueError("intra-state supply has no IGST; inter-state supply has no CGST/SGST")

    @property
    def supplier_state_code(self) -> str:
        return self.supplier_gstin[:2]

    @property
    def tax_paise(self) -> int:
        return self.gross_paise - self.taxable_paise

    @property
    def state_tax_name(self) -> str:
        return "UTGST" if self.place_of_supply in UTGST_STATES else "SGST"

    @property
    def place_of_supply_name(self) -> str:
        return STATE_NAMES[self.place_of_supply]

    @property
    def tax_lines(self) -> tuple[TaxLine, ...]:
        """The lines a receipt prints, in the order it prints them."""
        if self.kind is SupplyKind.INTER_STATE:
            return (TaxLine("IGST", GST_RATE_PERCENT, self.igst_paise),)
        half = GST_RATE_PERCENT // 2
        return (
            TaxLine("CGST", half, self.cgst_paise),
            TaxLine(self.state_tax_name, half, self.state_tax_paise),
        )


def taxable_value(gross_paise: int) -> int:
    """The value before GST of a GST-inclusive price: ``gross * 100 / 118`` rounded half-up to
    the paisa, in integers.  (An exact half never arises: it would need ``100 * gross`` to be
    59 more than a multiple of 118, an odd number.)"""
    if gross_paise < 0:
        raise ValueError("amount must not be negative")
    hundred = 100
    denominator = hundred + GST_RATE_PERCENT
    return (2 * hundred * gross_paise + denominator) // (2 * denominator)


def gst_breakup(gross_paise: int, *, supplier_gstin: str | None, customer_state_code: str | None) -> GstBreakup | None:
    """The GST inside a GST-inclusive amount, or None when the supplier has no GSTIN (then a
    receipt shows no tax lines).

    The place of supply is the customer's state when known, else the supplier's (a service
    to an unregistered customer with no address on record is supplied where the supplier
    is).  Same state: CGST is half the tax rounded down and SGST/UTGST the rest, so an odd
    paisa goes to the state; different states: all IGST.  ValueError for a malformed GSTIN
    or an unknown state code."""
    if supplier_gstin is None:
        return None
    validate_gstin(supplier_gstin)
    supplier_state = supplier_gstin[:2]
    place = supplier_state if customer_state_code is None else validate_state_code(customer_state_code)
    taxable = taxable_value(gross_paise)
    tax = gross_paise - taxable
    if place == supplier_state:
        cgst = tax // 2
        return GstBreakup(
            gross_paise,
            taxable,
            supplier_gstin,
            place,
            SupplyKind.INTRA_STATE,
            cgst_paise=cgst,
            state_tax_paise=tax - cgst,
        )
    return GstBreakup(gross_paise, taxable, supplier_gstin, place, SupplyKind.INTER_STATE, igst_paise=tax)


# --- dates as printed ----------------------------------------------------------------------------

EN_DASH = "\u2013"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def india_date(at: datetime) -> str:
    """``5 Jan 2027``: the calendar date in India (month names fixed, whatever the locale)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    local = at.astimezone(india())
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def plan_line_description(plan_name: str, period: BillingPeriod | str, start: datetime, end: datetime) -> str:
    """``Growth plan, monthly, 5 Jan 2027 - 5 Feb 2027`` (an en dash between the dates): what a
    plan purchase's line says."""
    billing = BillingPeriod(period)
    return f"{plan_name} plan, {billing.value}, {india_date(start)} {EN_DASH} {india_date(end)}"


# --- the receipt ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issuer:
    """Who issues the receipt (our company); ``gstin`` None when not registered for GST."""

    legal_name: str
    address_lines: tuple[str, ...]
    gstin: str | None = None

    def __post_init__(self) -> None:
        if not self.legal_name.strip():
            raise ValueError("issuer legal name must not be blank")
        if self.gstin is not None:
            validate_gstin(self.gstin)


@dataclass(frozen=True)
class Customer:
    name: str
    email: str


@dataclass(frozen=True)
class ReceiptLine:
    description: str
    amount_paise: int

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise ValueError("a line needs a description")
        if self.amount_paise < 0:
            raise ValueError("a line amount must not be negative (credit is its own field)")


@dataclass(frozen=True)
class PaymentReference:
    """What ties the receipt to the money: our order id and PhonePe's transaction id."""

    merchant_order_id: str
    phonepe_transaction_id: str | None = None


@dataclass(frozen=True)
class RefundEntry:
    """A refund of (part of) the payment, listed on the receipt for the record."""

    amount_paise: int
    refunded_at: datetime
    merchant_refund_id: str | None = None

    def __post_init__(self) -> None:
        if self.amount_paise <= 0:
            raise ValueError("a refund amount must be positive")
        if self.refunded_at.tzinfo is None:
            raise ValueError("refunded_at must be timezone-aware")


@dataclass(frozen=True)
class Receipt:
    """Everything a receipt shows.  It cannot exist with amounts that do not add up: the lines
    less the credit are the amount paid, the GST (when the issuer has a GSTIN) splits exactly
    the amount paid, refunds never exceed it, and the number belongs to the financial year
    of ``issued_at``."""

    number: str
    issued_at: datetime
    issuer: Issuer
    customer: Customer
    lines: tuple[ReceiptLine, ...]
    amount_paid_paise: int
    payment: PaymentReference
    gst: GstBreakup | None = None
    credit_paise: int = 0  # the unused part of an earlier plan, taken off (upgrades)
    refunds: tuple[RefundEntry, ...] = ()

    def __post_init__(self) -> None:
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")
        fy = parse_receipt_number(self.number).fy
        if fy != financial_year(self.issued_at):
            raise ValueError(f"receipt {self.number} is not in the financial year of {self.issued_at.isoformat()}")
        if not self.lines:
            raise ValueError("a receipt needs at least one line")
        if self.credit_paise < 0 or self.amount_paid_paise < 0:
            raise ValueError("credit and amount paid must not be negative")
        if self.lines_total_paise - self.credit_paise != self.amount_paid_paise:
            raise ValueError(
                f"lines {self.lines_total_paise} - credit {self.credit_paise} != paid {self.amount_paid_paise} (paise)"
            )
        if (self.gst is None) != (self.issuer.gstin is None):
            raise ValueError("a receipt shows GST exactly when its issuer has a GSTIN")
        if self.gst is not None and (
            self.gst.gross_paise != self.amount_paid_paise or self.gst.supplier_gstin != self.issuer.gstin
        ):
            raise ValueError("the GST breakup must split the amount paid, under the issuer's GSTIN")
        if self.refunded_paise > self.amount_paid_paise:
            raise ValueError("refunds exceed the amount paid")

    @property
    def lines_total_paise(self) -> int:
        return sum(line.amount_paise for line in self.lines)

    @property
    def refunded_paise(self) -> int:
        return sum(r.amount_paise for r in self.refunds)

    @property
    def fy(self) -> str:
        return parse_receipt_number(self.number).fy


def amounts_add_up(receipt: Receipt) -> bool:
    """The receipt's arithmetic, checked again (a ``Receipt`` cannot be built without it; this
    is for callers holding one built elsewhere, and for the tests)."""
    gst_ok = receipt.gst is None or (
        receipt.gst.taxable_paise + receipt.gst.cgst_paise + receipt.gst.state_tax_paise + receipt.gst.igst_paise
        == receipt.amount_paid_paise
    )
    return receipt.lines_total_paise - receipt.credit_paise == receipt.amount_paid_paise and gst_ok


__all__ = [
    "GST_RATE_PERCENT",
    "INDIA_TZ",
    "STATE_NAMES",
    "UTGST_STATES",
    "Customer",
    "GstBreakup",
    "Issuer",
    "PaymentReference",
    "Receipt",
    "ReceiptLine",
    "ReceiptNumber",
    "RefundEntry",
    "SupplyKind",
    "TaxLine",
    "amounts_add_up",
    "financial_year",
    "gst_breakup",
    "gstin_check_char",
    "india",
    "india_date",
    "is_receipt_number",
    "is_valid_gstin",
    "parse_financial_year",
    "parse_receipt_number",
    "plan_line_description",
    "receipt_number",
    "taxable_value",
    "validate_gstin",
    "validate_state_code",
]


# --- the stored receipt --------------------------------------------------------------------------

# The counter every receipt is numbered from: one issuing company.  A second company (a new GSTIN
# in another state) would be a second issuer with its own series.
ISSUER_SERIES = "main"


@dataclass(frozen=True)
class NewReceipt:
    """What a granted order's receipt says, as issued (the ``receipts`` row without its number)."""

    merchant_order_id: str
    workspace_id: str
    issued_at: datetime
    issuer_name: str
    issuer_address: tuple[str, ...]
    customer_name: str
    customer_email: str
    description: str
    amount_paise: int
    credit_paise: int = 0
    gst: GstBreakup | None = None
    series: str = ISSUER_SERIES


@dataclass(frozen=True)
class IssuedReceipt:
    """A ``receipts`` row: the issue and the number taken for it."""

    number: str
    issue: NewReceipt
    storage_path: str | None = None


def new_receipt(
    *,
    merchant_order_id: str,
    workspace_id: str,
    issued_at: datetime,
    issuer: Issuer,
    customer: Customer,
    description: str,
    amount_paise: int,
    credit_paise: int,
) -> NewReceipt:
    """A receipt for a paid order: one line at the list price, the credit off it, GST inside the amount
    paid when the issuer has a GSTIN (place of supply: the supplier's, no customer address on record)."""
    gst = gst_breakup(amount_paise, supplier_gstin=issuer.gstin, customer_state_code=None)
    return NewReceipt(
        merchant_order_id,
        workspace_id,
        issued_at,
        issuer.legal_name,
        issuer.address_lines,
        customer.name,
        customer.email,
        description,
        amount_paise,
        credit_paise,
        gst,
    )


def to_receipt(issued: IssuedReceipt, *, refunds: tuple[RefundEntry, ...] = ()) -> Receipt:
    """The ``Receipt`` a stored row renders as (refunds listed for the record)."""
    issue = issued.issue
    gstin = issue.gst.supplier_gstin if issue.gst else None
    return Receipt(
        number=issued.number,
        issued_at=issue.issued_at,
        issuer=Issuer(issue.issuer_name, issue.issuer_address, gstin),
        customer=Customer(issue.customer_name, issue.customer_email),
        lines=(ReceiptLine(issue.description, issue.amount_paise + issue.credit_paise),),
        amount_paid_paise=issue.amount_paise,
        payment=PaymentReference(issue.merchant_order_id),
        gst=issue.gst,
        credit_paise=issue.credit_paise,
        refunds=refunds,
    )


def storage_name(number: str) -> str:
    """Where a receipt's PDF is kept in the bucket: ``receipts/2026-27/000123.pdf``."""
    parsed = parse_receipt_number(number)
    return f"receipts/{parsed.fy}/{parsed.seq:0{RECEIPT_SEQ_DIGITS}d}.pdf"
