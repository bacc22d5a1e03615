"""Receipts in PostgreSQL: the gap-free number and the row, in the granting transaction.

``issue_receipt`` takes the next number of the issuer's series for the financial
year from ``receipt_counters`` (an upsert that row-locks the counter until the
transaction ends) and writes the receipt in the same transaction: a grant that
rolls back gives its number back, so the series has no gaps.  Data access only.
"""

from __future__ import annotations

from typing import Any

from lib.domain.receipts import (
    GstBreakup,
    IssuedReceipt,
    NewReceipt,
    financial_year,
    gst_breakup,
    receipt_number,
)
from lib.ports import Database

_COLS = (
    "number, merchant_order_id, workspace_id, issued_at, issuer, issuer_name, issuer_address, customer_name,"
    " customer_email, description, amount_paise, credit_paise, gstin, place_of_supply, storage_path"
)
ADDRESS_SEPARATOR = "\n"


def _gst(row: dict[str, Any]) -> GstBreakup | None:
    if row["gstin"] is None:
        return None
    gst = gst_breakup(int(row["amount_paise"]), supplier_gstin=row["gstin"], customer_state_code=row["place_of_supply"])
    assert gst is not None
    return gst


def _receipt(row: dict[str, Any]) -> IssuedReceipt:
    issue = NewReceipt(
        merchant_order_id=row["merchant_order_id"],
        workspace_id=str(row["workspace_id"]),
        issued_at=row["issued_at"],
        issuer_name=row["issuer_name"],
        issuer_address=tuple(row["issuer_address"].split(ADDRESS_SEPARATOR)) if row["issuer_address"] else (),
        customer_name=row["customer_name"],
        customer_email=row["customer_email"],
        description=row["description"],
        amount_paise=int(row["amount_paise"]),
        credit_paise=int(row["credit_paise"]),
        gst=_gst(row),
        series=row["issuer"],
    )
    return IssuedReceipt(row["number"], issue, row["storage_path"])


class PostgresReceipts:
    """``ReceiptsRepo`` on a ``lib.ports.Database`` (inside a ``PostgresPaymentsUnit``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def issue_receipt(self, receipt: NewReceipt) -> IssuedReceipt:
        fy = financial_year(receipt.issued_at)
        gst = receipt.gst
        with self._db.connection() as conn:
            counter = conn.execute(
                "insert into public.receipt_counters (issuer, financial_year, last_seq) values (%s, %s, 1)"
                " on conflict (issuer, financial_year) do update set last_seq = receipt_counters.last_seq + 1"
                " returning last_seq",
                (receipt.series, fy),
            ).fetchone()
            assert counter is not None
            seq = int(counter["last_seq"])
            row = conn.execute(
                "insert into public.receipts (number, issuer, financial_year, seq, merchant_order_id, workspace_id,"
                " issued_at, issuer_name, issuer_address, customer_name, customer_email, description, amount_paise,"
                " credit_paise, gstin, place_of_supply, taxable_paise, tax_paise)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                f" returning {_COLS}",
                (
                    receipt_number(fy, seq),
                    receipt.series,
                    fy,
                    seq,
                    receipt.merchant_order_id,
                    receipt.workspace_id,
                    receipt.issued_at,
                    receipt.issuer_name,
                    ADDRESS_SEPARATOR.join(receipt.issuer_address),
                    receipt.customer_name,
                    receipt.customer_email,
                    receipt.description,
                    receipt.amount_paise,
                    receipt.credit_paise,
                    gst.supplier_gstin if gst else None,
                    gst.place_of_supply if gst else None,
                    gst.taxable_paise if gst else None,
                    gst.tax_paise if gst else None,
                ),
            ).fetchone()
        assert row is not None
        return _receipt(row)

    def get_receipt(self, number: str) -> IssuedReceipt | None:
        with self._db.connection() as conn:
            row = conn.execute(f"select {_COLS} from public.receipts where number = %s", (number,)).fetchone()
        return None if row is None else _receipt(row)

    def order_receipts(self, merchant_order_ids: list[str]) -> dict[str, str]:
        """Order id -> receipt number, for the orders that have one."""
        if not merchant_order_ids:
            return {}
        with self._db.connection() as conn:
            rows = conn.execute(
                "select merchant_order_id, number from public.receipts where merchant_order_id = any(%s)",
                (merchant_order_ids,),
            ).fetchall()
        return {r["merchant_order_id"]: r["number"] for r in rows}

    def set_receipt_path(self, number: str, path: str) -> None:
        with self._db.connection() as conn:
            conn.execute("update public.receipts set storage_path = %s where number = %s", (path, number))


__all__ = ["PostgresReceipts"]
