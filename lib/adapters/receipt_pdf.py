"""A payment receipt as an A4 PDF, drawn with fpdf2 from a ``lib.domain.receipts.Receipt``.

Every figure and word comes from the receipt record; this module only lays it out.
The text is set in Source Sans Pro, embedded (subset) from the pinned
``font-source-sans-pro`` wheel: the core PDF fonts have no rupee sign, and a system font
would make the output depend on the machine.  The PDF's dates are the receipt's
``issued_at``, so the same receipt always renders to the same bytes (a re-sent receipt
is the identical document).  fpdf2 and its imaging dependencies are imported on the
first render, not when a function imports this module: most requests of the functions
that ship it never draw a receipt, and cold starts are paid per instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from lib.domain.numbers import format_rupees
from lib.domain.receipts import Receipt, india_date

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_PACKAGE = "font_source_sans_pro"
FONT_FILES = {"": "SourceSansPro-Regular.ttf", "B": "SourceSansPro-Bold.ttf"}
FAMILY = "SourceSans"

# A4 in millimetres.
MARGIN = 18.0
PAGE_WIDTH = 210.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
AMOUNT_WIDTH = 42.0
TOTALS_LABEL_WIDTH = 70.0

INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)

FOOTER = "This receipt was generated electronically and needs no signature."


def render_receipt_pdf(receipt: Receipt) -> bytes:
    """The receipt as PDF bytes: issuer, number and date, billed-to, the lines, any credit,
    the GST inside the amount (when the issuer has a GSTIN), the total paid, the payment
    reference, any refunds, and a footer line.  Deterministic for a given receipt."""
    with _font_paths() as fonts:
        pdf = _new_document(receipt, fonts)
        _header(pdf, receipt)
        _billed_to(pdf, receipt)
        _lines(pdf, receipt)
        _totals(pdf, receipt)
        _payment(pdf, receipt)
        return bytes(pdf.output())


@contextmanager
def _font_paths() -> Iterator[dict[str, Path]]:
    """Paths of the embedded fonts, as files on disk for fpdf2 (extracted if the package is zipped)."""
    with ExitStack() as stack:
        root = resources.files(FONT_PACKAGE).joinpath("files")
        yield {style: stack.enter_context(resources.as_file(root.joinpath(name))) for style, name in FONT_FILES.items()}


def _new_document(receipt: Receipt, fonts: dict[str, Path]) -> FPDF:
    from fpdf import FPDF

    issuer = receipt.issuer.legal_name

    class _ReceiptPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-14)
            self.set_font(FAMILY, "", 8)
            self.set_text_color(*MUTED)
            self.cell(CONTENT_WIDTH * 0.8, 5, f"{issuer} \u00b7 {FOOTER}")
            self.cell(CONTENT_WIDTH * 0.2, 5, f"Page {self.page_no()} of {{nb}}", align="R")

    pdf = _ReceiptPDF(orientation="portrait", unit="mm", format="A4")
    for style, path in fonts.items():
        pdf.add_font(FAMILY, style, path)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.set_creation_date(receipt.issued_at)
    pdf.set_title(f"Receipt {receipt.number}")
    pdf.set_author(issuer)
    pdf.set_subject(f"Payment receipt {receipt.number}, {india_date(receipt.issued_at)}")
    pdf.set_creator(issuer)
    pdf.set_lang("en-IN")
    pdf.add_page()
    pdf.set_text_color(*INK)
    return pdf


def _text(pdf: FPDF, size: float, style: str = "", color: tuple[int, int, int] = INK) -> None:
    pdf.set_font(FAMILY, style, size)
    pdf.set_text_color(*color)


def _rule(pdf: FPDF, gap: float = 3.0, x: float = MARGIN, width: float = CONTENT_WIDTH) -> None:
    pdf.ln(gap)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.3)
    pdf.line(x, pdf.get_y(), x + width, pdf.get_y())
    pdf.ln(gap)


def _label(pdf: FPDF, text: str, width: float = 0, align: str = "L") -> None:
    _text(pdf, 8, "B", MUTED)
    pdf.cell(width, 5, text.upper(), align=align, new_x="LMARGIN", new_y="NEXT")


def _header(pdf: FPDF, receipt: Receipt) -> None:
    """The issuer on the left; "Receipt", its number and date on the right."""
    top = pdf.get_y()
    left_width = CONTENT_WIDTH * 0.6
    issuer = receipt.issuer
    _text(pdf, 14, "B")
    pdf.multi_cell(left_width, 7, issuer.legal_name, align="L", new_x="LMARGIN", new_y="NEXT")
    _text(pdf, 9, "", MUTED)
    for line in issuer.address_lines:
        pdf.multi_cell(left_width, 4.6, line, align="L", new_x="LMARGIN", new_y="NEXT")
    if issuer.gstin is not None:
        _text(pdf, 9, "")
        pdf.cell(left_width, 4.6, f"GSTIN: {issuer.gstin}", new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()

    right_x = MARGIN + left_width
    right_width = CONTENT_WIDTH - left_width
    pdf.set_xy(right_x, top)
    _text(pdf, 22, "B")
    pdf.cell(right_width, 10, "Receipt", align="R", new_x="LEFT", new_y="NEXT")
    _text(pdf, 10, "")
    pdf.cell(right_width, 5.5, receipt.number, align="R", new_x="LEFT", new_y="NEXT")
    _text(pdf, 10, "", MUTED)
    pdf.cell(right_width, 5.5, f"Date: {india_date(receipt.issued_at)}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_bottom, pdf.get_y()))
    _rule(pdf, 4)


def _billed_to(pdf: FPDF, receipt: Receipt) -> None:
    """The customer on the left; the place of supply on the right when GST is shown."""
    top = pdf.get_y()
    left_width = CONTENT_WIDTH * 0.6
    _label(pdf, "Billed to")
    if receipt.customer.name.strip():
        _text(pdf, 11, "B")
        pdf.multi_cell(left_width, 5.5, receipt.customer.name, align="L", new_x="LMARGIN", new_y="NEXT")
    _text(pdf, 10, "")
    pdf.multi_cell(left_width, 5, receipt.customer.email, align="L", new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()
    if receipt.gst is not None:
        right_width = CONTENT_WIDTH - left_width
        pdf.set_xy(MARGIN + left_width, top)
        _text(pdf, 8, "B", MUTED)
        pdf.cell(right_width, 5, "PLACE OF SUPPLY", align="R", new_x="LEFT", new_y="NEXT")
        _text(pdf, 10, "")
        pdf.multi_cell(
            right_width,
            5,
            f"{receipt.gst.place_of_supply_name} ({receipt.gst.place_of_supply})",
            align="R",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.set_y(max(left_bottom, pdf.get_y()))
    pdf.ln(6)


def _keep_together(pdf: FPDF, height: float) -> bool:
    """Start a new page unless ``height`` more millimetres fit on this one; True if it did."""
    if pdf.will_page_break(height):
        pdf.add_page()
        return True
    return False


def _lines_heading(pdf: FPDF) -> None:
    _text(pdf, 8, "B", MUTED)
    pdf.cell(CONTENT_WIDTH - AMOUNT_WIDTH, 5, "DESCRIPTION")
    pdf.cell(AMOUNT_WIDTH, 5, "AMOUNT", align="R", new_x="LMARGIN", new_y="NEXT")
    _rule(pdf, 1.5)


def _lines(pdf: FPDF, receipt: Receipt) -> None:
    """One row per line; a row never splits across pages, and a new page repeats the heading."""
    description_width = CONTENT_WIDTH - AMOUNT_WIDTH
    _keep_together(pdf, 20)
    _lines_heading(pdf)
    for line in receipt.lines:
        _text(pdf, 10, "")
        height = pdf.multi_cell(description_width - 4, 5.5, line.description, align="L", dry_run=True, output="HEIGHT")
        assert isinstance(height, (int, float))
        if _keep_together(pdf, height + 1.5):
            _lines_heading(pdf)
            _text(pdf, 10, "")
        top = pdf.get_y()
        pdf.multi_cell(description_width - 4, 5.5, line.description, align="L", new_x="LMARGIN", new_y="NEXT")
        bottom = pdf.get_y()
        pdf.set_xy(MARGIN + description_width, top)
        pdf.cell(AMOUNT_WIDTH, 5.5, format_rupees(line.amount_paise), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(max(bottom, pdf.get_y()) + 1.5)
    _rule(pdf, 1.5)


def _total_row(pdf: FPDF, label: str, amount: str, *, size: float = 10, style: str = "", muted: bool = False) -> None:
    color = MUTED if muted else INK
    _text(pdf, size, style, color)
    pdf.set_x(MARGIN + CONTENT_WIDTH - AMOUNT_WIDTH - TOTALS_LABEL_WIDTH)
    height = size * 0.55
    pdf.cell(TOTALS_LABEL_WIDTH, height, label, align="R")
    pdf.cell(AMOUNT_WIDTH, height, amount, align="R", new_x="LMARGIN", new_y="NEXT")


def _totals(pdf: FPDF, receipt: Receipt) -> None:
    """Subtotal and credit (when there is credit), the total paid, then the GST inside it."""
    gst_rows = 0 if receipt.gst is None else 2 + len(receipt.gst.tax_lines)
    _keep_together(pdf, 16 + (14 if receipt.credit_paise else 0) + 5 * gst_rows)
    if receipt.credit_paise:
        _total_row(pdf, "Subtotal", format_rupees(receipt.lines_total_paise))
        _total_row(pdf, "Credit from your previous plan", format_rupees(-receipt.credit_paise))
        pdf.ln(1)
        _rule(
            pdf,
            1,
            x=MARGIN + CONTENT_WIDTH - AMOUNT_WIDTH - TOTALS_LABEL_WIDTH,
            width=AMOUNT_WIDTH + TOTALS_LABEL_WIDTH,
        )
    _total_row(pdf, "Total paid", format_rupees(receipt.amount_paid_paise), size=12, style="B")
    gst = receipt.gst
    if gst is not None:
        pdf.ln(2)
        _total_row(pdf, "Includes GST:", "", size=9, muted=True)
        _total_row(pdf, "Taxable value", format_rupees(gst.taxable_paise), size=9, muted=True)
        for tax in gst.tax_lines:
            _total_row(pdf, f"{tax.name} @ {tax.rate_percent}%", format_rupees(tax.amount_paise), size=9, muted=True)
    pdf.ln(8)


def _payment(pdf: FPDF, receipt: Receipt) -> None:
    """How it was paid and which transaction, then any refunds."""
    _keep_together(pdf, 25 + (12 + 5.5 * len(receipt.refunds) if receipt.refunds else 0))
    _label(pdf, "Payment")
    _text(pdf, 10, "")
    pdf.cell(0, 5.5, "Paid with PhonePe", new_x="LMARGIN", new_y="NEXT")
    _text(pdf, 9, "", MUTED)
    pdf.cell(0, 5, f"Order ID: {receipt.payment.merchant_order_id}", new_x="LMARGIN", new_y="NEXT")
    if receipt.payment.phonepe_transaction_id:
        pdf.cell(
            0, 5, f"PhonePe transaction ID: {receipt.payment.phonepe_transaction_id}", new_x="LMARGIN", new_y="NEXT"
        )
    if receipt.refunds:
        pdf.ln(5)
        _label(pdf, "Refunds")
        _text(pdf, 10, "")
        for refund in receipt.refunds:
            reference = f" (refund ID: {refund.merchant_refund_id})" if refund.merchant_refund_id else ""
            pdf.cell(
                0,
                5.5,
                f"{format_rupees(refund.amount_paise)} refunded on {india_date(refund.refunded_at)}{reference}",
                new_x="LMARGIN",
                new_y="NEXT",
            )
