"""The receipt rules: the Indian financial year at its midnight-IST boundary, receipt numbers,
GSTIN checksums (against an independent Luhn mod 36 and every single-character error), the
GST inside a price (exhaustively over 1..200 000 paise), rupee formatting, and a ``Receipt``
that cannot exist with amounts that do not add up."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest

from lib.domain.numbers import format_rupees, group_indian
from lib.domain.receipts import (
    STATE_NAMES,
    Customer,
    Issuer,
    PaymentReference,
    Receipt,
    ReceiptLine,
    ReceiptNumber,
    RefundEntry,
    SupplyKind,
    TaxLine,
    amounts_add_up,
    financial_year,
    gst_breakup,
    gstin_check_char,
    india_date,
    is_receipt_number,
    is_valid_gstin,
    parse_financial_year,
    parse_receipt_number,
    plan_line_description,
    receipt_number,
    taxable_value,
    validate_gstin,
    validate_state_code,
)

IST = timezone(timedelta(hours=5, minutes=30))
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# The example GSTIN the GST portal's own guides print: valid by the published checksum.
PUBLISHED_GSTIN = "27AAPFU0939F1ZV"


def luhn_mod36_valid(code: str) -> bool:
    """Luhn mod N (N = 36) as usually stated, from the right: an independent check of ``gstin_check_char``."""
    total = 0
    for i, char in enumerate(reversed(code)):
        addend = ALPHABET.index(char) * (2 if i % 2 else 1)
        total += addend // 36 + addend % 36
    return total % 36 == 0


def make_gstin(state: str, pan: str, entity: str = "1") -> str:
    head = f"{state}{pan}{entity}Z"
    return head + gstin_check_char(head)


KA_GSTIN = make_gstin("29", "AAGCB7383J")  # Karnataka
MH_GSTIN = make_gstin("27", "ABCDE1234F")  # Maharashtra
CH_GSTIN = make_gstin("04", "AAACC1234K", "2")  # Chandigarh: a union territory without a legislature


# --- financial year ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "fy"),
    [
        (datetime(2027, 3, 31, 18, 29, 59, tzinfo=UTC), "2026-27"),  # 23:59:59 IST, 31 March
        (datetime(2027, 3, 31, 18, 30, 0, tzinfo=UTC), "2027-28"),  # midnight IST, 1 April
        (datetime(2027, 3, 31, 18, 29, 59, 999999, tzinfo=UTC), "2026-27"),
        (datetime(2027, 4, 1, 0, 0, tzinfo=IST), "2027-28"),
        (datetime(2027, 3, 31, 23, 59, 59, tzinfo=IST), "2026-27"),
        (datetime(2027, 1, 1, tzinfo=UTC), "2026-27"),
        (datetime(2026, 12, 31, 20, 0, tzinfo=UTC), "2026-27"),  # already 1 Jan 2027 in India
        (datetime(2027, 3, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))), "2027-28"),  # 1 Apr 06:30 IST
        (datetime(2099, 4, 1, tzinfo=IST), "2099-00"),
        (datetime(2100, 3, 31, 18, 29, tzinfo=UTC), "2099-00"),
        (datetime(2100, 3, 31, 18, 30, tzinfo=UTC), "2100-01"),
        (datetime(1999, 6, 1, tzinfo=UTC), "1999-00"),
        (datetime(2009, 4, 1, tzinfo=IST), "2009-10"),
    ],
)
def test_financial_year_is_judged_in_india_time(at: datetime, fy: str) -> None:
    assert financial_year(at) == fy
    assert parse_financial_year(fy) == int(fy[:4])


def test_financial_year_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        financial_year(datetime(2027, 1, 1))


@pytest.mark.parametrize("label", ["2026-28", "2026-2027", "26-27", "2026/27", "2026-27 ", "२०२६-27", "2099-100", ""])
def test_malformed_financial_years_are_refused(label: str) -> None:
    with pytest.raises(ValueError, match="financial year"):
        parse_financial_year(label)


# --- receipt numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fy", "seq", "text"),
    [
        ("2026-27", 1, "R/2026-27/000001"),
        ("2026-27", 123, "R/2026-27/000123"),
        ("2026-27", 999_999, "R/2026-27/999999"),
        ("2026-27", 1_000_000, "R/2026-27/1000000"),
        ("2099-00", 42, "R/2099-00/000042"),
    ],
)
def test_receipt_numbers_print_and_parse_back(fy: str, seq: int, text: str) -> None:
    assert receipt_number(fy, seq) == text
    assert parse_receipt_number(text) == ReceiptNumber(fy, seq)
    assert str(ReceiptNumber(fy, seq)) == text
    assert is_receipt_number(text)


def test_six_digit_numbers_fit_the_sixteen_characters_gst_allows() -> None:
    assert len(receipt_number("2026-27", 999_999)) == 16


@pytest.mark.parametrize("seq", [0, -1, True, 1.0])
def test_a_sequence_starts_at_one(seq: object) -> None:
    with pytest.raises(ValueError, match="sequence"):
        receipt_number("2026-27", seq)  # type: ignore[arg-type]


def test_a_number_needs_a_real_financial_year() -> None:
    with pytest.raises(ValueError, match="financial year"):
        receipt_number("2026-28", 1)


@pytest.mark.parametrize(
    "text",
    [
        "R/2026-27/0000123",  # padded beyond six digits: not the canonical spelling
        "R/2026-27/12345",
        "R/2026-27/000000",
        "r/2026-27/000123",
        " R/2026-27/000123",
        "R/2026-27/000123\n",
        "R/2026-28/000123",
        "R-2026-27-000123",
        "R/2026-27/\u0966\u09660123",  # Devanagari zeros
        "",
    ],
)
def test_anything_else_is_not_a_receipt_number(text: str) -> None:
    assert not is_receipt_number(text)
    with pytest.raises(ValueError, match="receipt"):
        parse_receipt_number(text)


# --- GSTIN --------------------------------------------------------------------------------------


def test_the_published_example_gstin_is_valid() -> None:
    assert validate_gstin(PUBLISHED_GSTIN) == PUBLISHED_GSTIN
    assert gstin_check_char(PUBLISHED_GSTIN[:14]) == "V"
    assert luhn_mod36_valid(PUBLISHED_GSTIN)


@pytest.mark.parametrize(
    ("state", "pan", "entity"),
    [("29", "AAGCB7383J", "1"), ("07", "AAACI1681G", "1"), ("33", "ZZZZZ9999Z", "9"), ("97", "ABCPE0001K", "A")],
)
def test_computed_gstins_validate_and_agree_with_luhn_mod_36(state: str, pan: str, entity: str) -> None:
    gstin = make_gstin(state, pan, entity)
    assert is_valid_gstin(gstin)
    assert luhn_mod36_valid(gstin)


def test_the_check_character_agrees_with_luhn_mod_36_everywhere() -> None:
    for head in ("27AAPFU0939F1Z", "29AAGCB7383J1Z", "01AAAAA0000A1Z", "38ZZZZZ9999ZZZ", "10ABCDE1234FAZ"):
        gstin = head + gstin_check_char(head)
        assert luhn_mod36_valid(gstin)
        assert sum(luhn_mod36_valid(head + c) for c in ALPHABET) == 1


def test_every_single_character_error_is_caught() -> None:
    for i, char in itertools.product(range(15), ALPHABET):
        if char == PUBLISHED_GSTIN[i]:
            continue
        altered = PUBLISHED_GSTIN[:i] + char + PUBLISHED_GSTIN[i + 1 :]
        assert not is_valid_gstin(altered), altered


@pytest.mark.parametrize(
    ("gstin", "problem"),
    [
        ("27AAPFU0939F1Z", "15 characters"),
        ("27AAPFU0939F1ZVX", "15 characters"),
        ("", "15 characters"),
        ("27aapfu0939f1zv", "PAN"),
        ("00AAPFU0939F1ZV", "state code"),
        ("40AAPFU0939F1ZV", "state code"),
        ("99AAPFU0939F1ZV", "state code"),
        ("27AAPF00939F1ZV", "PAN"),
        ("27AAPFU09391FZV", "PAN"),
        ("27AAPFU0939F0ZV", "character 13"),
        ("27AAPFU0939F1YV", "character 14"),
        ("27AAPFU0939F1ZW", "checksum"),
        ("27AAPFU0939F1Z-", "checksum"),
    ],
)
def test_a_bad_gstin_names_its_problem(gstin: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        validate_gstin(gstin)
    assert not is_valid_gstin(gstin)


def test_the_check_character_needs_fourteen_valid_characters() -> None:
    with pytest.raises(ValueError, match="14 characters"):
        gstin_check_char("27AAPFU0939F1")
    with pytest.raises(ValueError, match="14 characters"):
        gstin_check_char("27aapfu0939f1z")


@pytest.mark.parametrize("code", ["7", "007", "29 ", "00", "39", "99", "KA", ""])
def test_unknown_state_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="state code"):
        validate_state_code(code)


def test_state_codes_are_two_ascii_digits() -> None:
    assert all(len(code) == 2 and code.isascii() and code.isdigit() for code in STATE_NAMES)
    assert STATE_NAMES["29"] == "Karnataka"


# --- GST inside a price ----------------------------------------------------------------------------


def test_no_gstin_means_no_breakup() -> None:
    assert gst_breakup(99900, supplier_gstin=None, customer_state_code=None) is None
    assert gst_breakup(99900, supplier_gstin=None, customer_state_code="07") is None


def test_taxable_value_is_the_nearest_paisa_for_every_amount_up_to_two_thousand_rupees() -> None:
    for gross in range(200_001):
        exact = Fraction(gross * 100, 118)
        assert taxable_value(gross) == math.floor(exact + Fraction(1, 2)), gross  # halves would go up


def test_every_amount_up_to_two_thousand_rupees_adds_up_exactly() -> None:
    for gross in range(1, 200_001):
        intra = gst_breakup(gross, supplier_gstin=KA_GSTIN, customer_state_code=None)
        inter = gst_breakup(gross, supplier_gstin=KA_GSTIN, customer_state_code="27")
        assert intra is not None
        assert inter is not None
        for g in (intra, inter):
            assert g.taxable_paise + g.tax_paise == gross
            assert g.taxable_paise + sum(t.amount_paise for t in g.tax_lines) == gross
        assert intra.cgst_paise == intra.tax_paise // 2
        assert intra.state_tax_paise - intra.cgst_paise in (0, 1)
        assert inter.igst_paise == inter.tax_paise == intra.tax_paise


def test_an_exact_half_paisa_cannot_arise() -> None:
    """100 x gross is even, an exact half needs it to be 59 more than a multiple of 118 (odd)."""
    assert all(100 * g % 118 != 59 for g in range(118))


@pytest.mark.parametrize(
    ("gross", "taxable", "tax"),
    [
        (0, 0, 0),
        (1, 1, 0),  # 0.847 -> 1
        (5, 4, 1),  # 4.237 -> 4
        (118, 100, 18),
        (11800, 10000, 1800),
        (99900, 84661, 15239),  # 84 661.02 -> 84 661
        (1_234_567, 1_046_243, 188_324),  # 1 046 243.2 -> 1 046 243
        (7, 6, 1),  # 5.932 -> 6
    ],
)
def test_taxable_value_rounds_to_the_nearest_paisa(gross: int, taxable: int, tax: int) -> None:
    g = gst_breakup(gross, supplier_gstin=KA_GSTIN, customer_state_code="29")
    assert g is not None
    assert (g.taxable_paise, g.tax_paise) == (taxable, tax)


def test_rounding_goes_up_just_past_the_half_and_down_just_before() -> None:
    below = next(g for g in range(1, 200) if 100 * g % 118 == 58)  # .4915...: down
    above = next(g for g in range(1, 200) if 100 * g % 118 == 60)  # .5084...: up
    assert taxable_value(below) == 100 * below // 118
    assert taxable_value(above) == 100 * above // 118 + 1


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        gst_breakup(-1, supplier_gstin=KA_GSTIN, customer_state_code=None)


def test_intra_state_splits_an_odd_paisa_to_the_state() -> None:
    g = gst_breakup(99900, supplier_gstin=KA_GSTIN, customer_state_code="29")
    assert g is not None
    assert g.kind is SupplyKind.INTRA_STATE
    assert (g.cgst_paise, g.state_tax_paise, g.igst_paise) == (7619, 7620, 0)
    assert g.tax_lines == (TaxLine("CGST", 9, 7619), TaxLine("SGST", 9, 7620))
    assert g.place_of_supply == "29"
    assert g.place_of_supply_name == "Karnataka"


def test_even_tax_splits_evenly() -> None:
    g = gst_breakup(11800, supplier_gstin=KA_GSTIN, customer_state_code=None)
    assert g is not None
    assert (g.cgst_paise, g.state_tax_paise) == (900, 900)


def test_without_a_customer_state_the_place_of_supply_is_the_suppliers() -> None:
    g = gst_breakup(99900, supplier_gstin=MH_GSTIN, customer_state_code=None)
    assert g is not None
    assert (g.place_of_supply, g.kind) == ("27", SupplyKind.INTRA_STATE)


def test_another_state_pays_igst() -> None:
    g = gst_breakup(99900, supplier_gstin=KA_GSTIN, customer_state_code="07")
    assert g is not None
    assert g.kind is SupplyKind.INTER_STATE
    assert (g.cgst_paise, g.state_tax_paise, g.igst_paise) == (0, 0, 15239)
    assert g.tax_lines == (TaxLine("IGST", 18, 15239),)
    assert g.place_of_supply_name == "Delhi"


def test_a_union_territory_without_a_legislature_levies_utgst() -> None:
    g = gst_breakup(99900, supplier_gstin=CH_GSTIN, customer_state_code=None)
    assert g is not None
    assert [t.name for t in g.tax_lines] == ["CGST", "UTGST"]
    delhi = gst_breakup(99900, supplier_gstin=make_gstin("07", "AAACI1681G"), customer_state_code="07")
    assert delhi is not None
    assert [t.name for t in delhi.tax_lines] == ["CGST", "SGST"]  # Delhi has a legislature
    to_chandigarh = gst_breakup(99900, supplier_gstin=KA_GSTIN, customer_state_code="04")
    assert to_chandigarh is not None
    assert [t.name for t in to_chandigarh.tax_lines] == ["IGST"]


def test_a_bad_gstin_or_state_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(ValueError, match="checksum"):
        gst_breakup(99900, supplier_gstin="27AAPFU0939F1ZW", customer_state_code=None)
    with pytest.raises(ValueError, match="state code"):
        gst_breakup(99900, supplier_gstin=KA_GSTIN, customer_state_code="KA")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"taxable_paise": 84660},  # does not add up
        {"kind": SupplyKind.INTER_STATE},  # same state is never inter-state
        {"cgst_paise": 7620, "state_tax_paise": 7619, "taxable_paise": 84661, "place_of_supply": "07"},
        {"supplier_gstin": "29AAGCB7383J1Z5"},
    ],
)
def test_a_breakup_cannot_be_built_inconsistent(kwargs: dict[str, object]) -> None:
    good = gst_breakup(99900, supplier_gstin=KA_GSTIN, customer_state_code="29")
    assert good is not None
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        replace(good, **kwargs)  # type: ignore[arg-type]


# --- money and dates as printed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paise", "text"),
    [
        (0, "₹0.00"),
        (5, "₹0.05"),
        (99900, "₹999.00"),
        (100000, "₹1,000.00"),
        (123450, "₹1,234.50"),
        (9999999, "₹99,999.99"),
        (10000000, "₹1,00,000.00"),
        (123456700, "₹12,34,567.00"),
        (1234567800, "₹1,23,45,678.00"),
        (-50000, "-₹500.00"),
        (-5, "-₹0.05"),
    ],
)
def test_rupees_use_indian_digit_grouping(paise: int, text: str) -> None:
    assert format_rupees(paise) == text


def test_the_sign_can_be_spelled_out() -> None:
    assert format_rupees(123456700, sign="Rs. ") == "Rs. 12,34,567.00"


@pytest.mark.parametrize(
    ("whole", "text"),
    [(0, "0"), (999, "999"), (1000, "1,000"), (99999, "99,999"), (100000, "1,00,000"), (-1234567, "-12,34,567")],
)
def test_indian_grouping(whole: int, text: str) -> None:
    assert group_indian(whole) == text


def test_dates_are_indian_calendar_dates() -> None:
    assert india_date(datetime(2027, 1, 4, 18, 30, tzinfo=UTC)) == "5 Jan 2027"
    assert india_date(datetime(2027, 1, 4, 18, 29, tzinfo=UTC)) == "4 Jan 2027"
    with pytest.raises(ValueError, match="timezone-aware"):
        india_date(datetime(2027, 1, 4))


def test_a_plan_line_says_plan_period_and_dates() -> None:
    start = datetime(2027, 1, 5, 4, 0, tzinfo=UTC)
    end = datetime(2027, 2, 5, 4, 0, tzinfo=UTC)
    assert (
        plan_line_description("Growth", "monthly", start, end) == "Growth plan, monthly, 5 Jan 2027 \u2013 5 Feb 2027"
    )
    with pytest.raises(ValueError):  # noqa: PT011 - the enum's own message
        plan_line_description("Growth", "weekly", start, end)


# --- the receipt ---------------------------------------------------------------------------------

ISSUED = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)


def receipt(**changes: object) -> Receipt:
    issuer = Issuer("Example Labs Private Limited", ("12 MG Road", "Bengaluru 560001"), KA_GSTIN)
    base = Receipt(
        number="R/2026-27/000123",
        issued_at=ISSUED,
        issuer=issuer,
        customer=Customer("Asha Rao", "asha@example.in"),
        lines=(ReceiptLine("Growth plan, monthly", 249900),),
        amount_paid_paise=199900,
        payment=PaymentReference("ord_20270105093000_ab12", "T2701051500123"),
        gst=gst_breakup(199900, supplier_gstin=KA_GSTIN, customer_state_code=None),
        credit_paise=50000,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_consistent_receipt_builds_and_adds_up() -> None:
    r = receipt()
    assert amounts_add_up(r)
    assert r.lines_total_paise == 249900
    assert r.fy == "2026-27"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"amount_paid_paise": 199901}, "credit"),
        ({"credit_paise": 0}, "credit"),
        ({"credit_paise": -1, "amount_paid_paise": 249901}, "negative"),
        ({"lines": ()}, "at least one line"),
        ({"number": "R/2027-28/000123"}, "financial year"),
        ({"number": "R/2026-27/123"}, "receipt number"),
        ({"issued_at": datetime(2027, 1, 5, 9, 30)}, "timezone-aware"),
        ({"gst": None}, "GSTIN"),
        ({"gst": gst_breakup(199901, supplier_gstin=KA_GSTIN, customer_state_code=None)}, "amount paid"),
        ({"gst": gst_breakup(199900, supplier_gstin=MH_GSTIN, customer_state_code=None)}, "GSTIN"),
        ({"refunds": (RefundEntry(199901, ISSUED),)}, "refunds exceed"),
    ],
)
def test_a_receipt_that_does_not_add_up_cannot_exist(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        receipt(**changes)


def test_without_a_gstin_there_is_no_gst() -> None:
    plain_issuer = Issuer("Example Labs", ("Bengaluru",))
    r = receipt(issuer=plain_issuer, gst=None)
    assert r.gst is None
    with pytest.raises(ValueError, match="GSTIN"):
        receipt(issuer=plain_issuer)


def test_the_year_boundary_decides_which_numbers_a_receipt_may_carry() -> None:
    last_second = datetime(2027, 3, 31, 18, 29, 59, tzinfo=UTC)
    r = receipt(issued_at=last_second, number="R/2026-27/000001")
    assert r.fy == "2026-27"
    with pytest.raises(ValueError, match="financial year"):
        receipt(issued_at=last_second + timedelta(seconds=1), number="R/2026-27/000001")


def test_refunds_up_to_the_amount_paid_are_listed() -> None:
    r = receipt(refunds=(RefundEntry(100000, ISSUED, "rfd_1"), RefundEntry(99900, ISSUED)))
    assert r.refunded_paise == 199900


@pytest.mark.parametrize(
    "build",
    [
        lambda: ReceiptLine("Growth", -1),
        lambda: ReceiptLine("  ", 100),
        lambda: RefundEntry(0, ISSUED),
        lambda: RefundEntry(100, datetime(2027, 1, 5)),
        lambda: Issuer(" ", ()),
        lambda: Issuer("Example Labs", (), "29AAGCB7383J1Z5"),
    ],
)
def test_the_parts_refuse_nonsense(build: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each part has its own message
        build()  # type: ignore[operator]
