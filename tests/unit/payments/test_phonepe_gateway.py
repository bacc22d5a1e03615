"""PhonePeGateway's lenient translation of a PhonePe client's answers (a hand-written client)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lib.adapters.phonepe_gateway import PhonePeGateway
from lib.errors import Missing


class DictClient:
    """Answers like PhonePe's raw JSON; ``pay`` takes the names a client would."""

    def __init__(self) -> None:
        self.paid: dict[str, Any] = {}

    def pay(
        self, merchant_order_id: str, amount: int, redirect_url: str, expire_after: int, meta_info: dict[str, str]
    ) -> dict[str, Any]:
        self.paid = {"id": merchant_order_id, "amount": amount, "expire_after": expire_after, "meta": meta_info}
        return {"orderId": "OMO1", "state": "PENDING", "expireAt": 1_735_689_600_000, "redirectUrl": "http://pay"}

    def order_status(self, merchant_order_id: str) -> dict[str, Any]:
        if merchant_order_id == "missing":
            raise Missing("MERCHANT_ORDER_MAPPING_NOT_FOUND", "phonepe")
        if merchant_order_id == "coded":
            return {"code": "MERCHANT_ORDER_MAPPING_NOT_FOUND"}
        return {
            "state": "SOMETHING_NEW",
            "amount": "99900",
            "metaInfo": {"udf1": "ws"},
            "extra": [1],
            "paymentDetails": [{"paymentMode": "UPI_QR"}],
        }


def test_pay_maps_arguments_and_result() -> None:
    client = DictClient()
    result = PhonePeGateway(client).pay(
        merchant_order_id="ord_1",
        amount_paise=99900,
        redirect_url="http://r",
        expire_after_s=1200,
        meta_info={"udf1": "ws"},
    )
    assert client.paid == {"id": "ord_1", "amount": 99900, "expire_after": 1200, "meta": {"udf1": "ws"}}
    assert result.phonepe_order_id == "OMO1"
    assert result.redirect_url == "http://pay"
    assert result.expire_at == datetime(2025, 1, 1, tzinfo=UTC)


def test_status_is_lenient_and_unknown_orders_are_not_found() -> None:
    gateway = PhonePeGateway(DictClient())
    status = gateway.order_status("ord_1")
    assert status.found
    assert status.state == "SOMETHING_NEW"
    assert status.amount_paise == 99900
    assert status.meta_info == {"udf1": "ws"}
    assert not gateway.order_status("missing").found
    assert not gateway.order_status("coded").found
