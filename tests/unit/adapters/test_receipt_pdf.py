"""The receipt PDF: read back with pypdf, it says what the receipt says (number, amounts in
rupees, GSTIN and the GST lines, or none of them without a GSTIN); it embeds the packaged
font; the same receipt renders to the same bytes; and importing the renderer does not
import fpdf2."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

from lib.adapters.receipt_pdf import render_receipt_pdf
from lib.domain.receipts import (
    Customer,
    Issuer,
    PaymentReference,
    Receipt,
    ReceiptLine,
    RefundEntry,
    gst_breakup,
    gstin_check_char,
    plan_line_description,
)

REPO = Path(__file__).resolve().parents[3]
GSTIN = "29AAGCB7383J1Z" + gstin_check_char("29AAGCB7383J1Z")
ISSUED = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)
ISSUER = Issuer("Example Labs Private Limited", ("4th Floor, 12 MG Road", "Bengaluru, Karnataka 560001"), GSTIN)


def make_receipt(
    *,
    gst: bool = True,
    credit: int = 0,
    customer_state: str | None = None,
    lines: tuple[ReceiptLine, ...] | None = None,
    refunds: tuple[RefundEntry, ...] = (),
    name: str = "Asha Rao",
) -> Receipt:
    if lines is None:
        description = plan_line_description("Growth", "monthly", ISSUED, ISSUED + timedelta(days=31))
        lines = (ReceiptLine(description, 1_234_567),)
    paid = sum(line.amount_paise for line in lines) - credit
    issuer = ISSUER if gst else replace(ISSUER, gstin=None)
    return Receipt(
        number="R/2026-27/000123",
        issued_at=ISSUED,
        issuer=issuer,
        customer=Customer(name, "asha@example.in"),
        lines=lines,
        amount_paid_paise=paid,
        payment=PaymentReference("ord_20270105093000_ab12cd34ef56", "T2701051500123456789"),
        gst=gst_breakup(paid, supplier_gstin=issuer.gstin, customer_state_code=customer_state),
        credit_paise=credit,
        refunds=refunds,
    )


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_renders_a_pdf() -> None:
    pdf = render_receipt_pdf(make_receipt())
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_the_pdf_says_what_the_receipt_says() -> None:
    text = text_of(render_receipt_pdf(make_receipt(credit=50_000)))
    for expected in (
        "Example Labs Private Limited",
        "Bengaluru, Karnataka 560001",
        f"GSTIN: {GSTIN}",
        "Receipt",
        "R/2026-27/000123",
        "5 Jan 2027",
        "Asha Rao",
        "asha@example.in",
        "Growth plan, monthly, 5 Jan 2027 \u2013 5 Feb 2027",
        "₹12,345.67",  # the line
        "-₹500.00",  # the credit
        "Total paid ₹11,845.67",
        "Taxable value ₹10,038.70",  # 1 184 567 x 100 / 118 = 1 003 870.3 -> 1 003 870
        "CGST @ 9% ₹903.48",
        "SGST @ 9% ₹903.49",  # the odd paisa goes to the state
        "Karnataka (29)",
        "ord_20270105093000_ab12cd34ef56",
        "T2701051500123456789",
        "needs no signature",
    ):
        assert expected in text, expected
    assert "IGST" not in text


def test_another_state_shows_igst_only() -> None:
    text = text_of(render_receipt_pdf(make_receipt(customer_state="07")))
    assert "IGST @ 18% ₹1,883.24" in text
    assert "Delhi (07)" in text
    assert "CGST" not in text
    assert "SGST" not in text


def test_no_gstin_no_tax_lines() -> None:
    text = text_of(render_receipt_pdf(make_receipt(gst=False)))
    assert "Total paid ₹12,345.67" in text
    for absent in ("GSTIN", "GST", "Taxable", "CGST", "SGST", "IGST", "Place of supply", "PLACE OF SUPPLY"):
        assert absent not in text, absent
    assert "Credit" not in text  # no credit, no credit line
    assert "Subtotal" not in text


def test_refunds_are_listed() -> None:
    refund = RefundEntry(20_000, datetime(2027, 1, 9, 6, 0, tzinfo=UTC), "rfd_20270109060000_aa")
    text = text_of(render_receipt_pdf(make_receipt(refunds=(refund,))))
    assert "₹200.00 refunded on 9 Jan 2027 (refund ID: rfd_20270109060000_aa)" in text


def test_the_same_receipt_renders_the_same_bytes() -> None:
    first = render_receipt_pdf(make_receipt(credit=50_000))
    second = render_receipt_pdf(make_receipt(credit=50_000))
    assert first == second
    assert render_receipt_pdf(make_receipt(credit=50_001)) != first


def test_the_document_is_dated_and_titled_from_the_receipt() -> None:
    reader = PdfReader(io.BytesIO(render_receipt_pdf(make_receipt())))
    meta = reader.metadata
    assert meta is not None
    assert meta.creation_date == ISSUED
    assert meta.title == "Receipt R/2026-27/000123"
    assert meta.author == "Example Labs Private Limited"


def test_the_packaged_font_is_embedded_not_a_system_or_core_font() -> None:
    reader = PdfReader(io.BytesIO(render_receipt_pdf(make_receipt())))
    resources = cast(DictionaryObject, reader.pages[0]["/Resources"])
    fonts = cast(DictionaryObject, resources["/Font"])
    names = set()
    for ref in fonts.values():
        font = cast(DictionaryObject, ref.get_object())
        names.add(str(font["/BaseFont"]).split("+", 1)[-1])
        descendant = cast(DictionaryObject, cast(ArrayObject, font["/DescendantFonts"])[0].get_object())
        descriptor = cast(DictionaryObject, descendant["/FontDescriptor"].get_object())
        assert "/FontFile2" in descriptor  # the TrueType program travels inside the PDF
    assert names == {"SourceSansPro", "SourceSansProBold"}


def test_many_lines_flow_onto_more_pages_without_losing_one() -> None:
    lines = tuple(
        ReceiptLine(f"Item {i}: " + "a description long enough to wrap onto a second line " * (i % 3), 10_000 + i)
        for i in range(60)
    )
    reader = PdfReader(io.BytesIO(render_receipt_pdf(make_receipt(lines=lines))))
    pages = len(reader.pages)
    assert pages > 1
    text = "\n".join(page.extract_text() for page in reader.pages)
    for i in range(60):
        assert f"Item {i}:" in text
        assert f"₹100.{i:02d}" in text
    for n in range(1, pages + 1):
        assert f"Page {n} of {pages}" in text


def test_characters_the_font_lacks_do_not_stop_the_receipt() -> None:
    text = text_of(render_receipt_pdf(make_receipt(name="राहुल Kumar")))
    assert "Kumar" in text
    assert "R/2026-27/000123" in text


def test_importing_the_renderer_does_not_import_the_pdf_library() -> None:
    """fpdf2 (with Pillow and fontTools) loads on the first render, not on a cold start."""
    probe = "import sys, lib.adapters.receipt_pdf; print(sorted({'fpdf', 'PIL', 'fontTools'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
