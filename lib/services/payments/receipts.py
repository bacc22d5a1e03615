"""Receipts: a workspace's receipt as a PDF behind a short-lived signed URL.

The receipt is numbered and stored as a row when its order is granted
(``grants.grant``); the PDF is a function of that row (and of the refunds made
since, listed for the record), rendered when asked for and kept in Cloud
Storage under ``receipts/<fy>/<seq>.pdf``.  Rendering on demand keeps the
bucket a cache: an object lost or expired is made again, byte for byte.
"""

from __future__ import annotations

from typing import Any

from lib.domain.receipts import RefundEntry, is_receipt_number, storage_name, to_receipt
from lib.domain.refunds import RefundState
from lib.errors import FieldError, NotFound, ServiceUnavailable, Unprocessable
from lib.services.payments.deps import PaymentDeps

# How long a receipt link works: long enough to open it, short enough not to be shared.
RECEIPT_URL_TTL_S = 900
PDF = "application/pdf"


def receipt_link(workspace_id: str, number: str, *, deps: PaymentDeps) -> dict[str, Any]:
    """GET /billing/receipt: the receipt's signed URL; 404 for another workspace's or no receipt."""
    if not is_receipt_number(number):
        raise Unprocessable(
            "Not a receipt number.",
            code="invalid_receipt_number",
            errors=[FieldError("number", "must be of the form R/2026-27/000123")],
        )
    with deps.unit() as uow:
        issued = uow.receipts.get_receipt(number)
        if issued is None or issued.issue.workspace_id != workspace_id:
            raise NotFound(f"No receipt {number} in this workspace.", code="receipt_not_found")
        refunds = uow.refunds.order_refunds(issued.issue.merchant_order_id)
    files = deps.receipt_files
    if files is None:
        raise ServiceUnavailable("Receipts cannot be drawn here.", code="receipts_unavailable")
    blobs = files.blobs()
    entries = tuple(
        RefundEntry(r.amount_paise, r.completed_at, r.merchant_refund_id)
        for r in refunds
        if r.state == RefundState.COMPLETED and r.completed_at is not None
    )
    name = storage_name(number)
    blobs.put(files.bucket, name, files.render(to_receipt(issued, refunds=entries)), content_type=PDF)
    if issued.storage_path != name:
        with deps.unit() as uow:
            uow.receipts.set_receipt_path(number, name)
            uow.commit()
    url = blobs.signed_url(
        files.bucket,
        name,
        expires_s=RECEIPT_URL_TTL_S,
        download_name=f"receipt-{number.replace('/', '-')}.pdf",
        response_type=PDF,
    )
    return {"number": number, "url": url, "expires_in_s": RECEIPT_URL_TTL_S}
