"""``PaymentGateway`` (what the payment services need) on top of ``lib.adapters.phonepe.PhonePeClient``.

The PhonePe client (token cache, HTTP, error translation) is owned by the
PhonePe adapter; this module only turns its answers into the services'
values (``PayResult``, ``GatewayStatus``), leniently: responses may be
PhonePe's raw JSON (camelCase dicts) or the client's parsed objects, epoch
milliseconds or datetimes, and unknown states stay strings.  An unknown order
(``Missing`` or PhonePe's ``MERCHANT_ORDER_MAPPING_NOT_FOUND``) is
``GatewayStatus(found=False)``; every other error is the client's own
``AdapterError`` (``Unavailable`` / ``Rejected``), passed through.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lib.config import Settings
from lib.errors import Missing
from lib.ports import KeyValue
from lib.services.payments.ports import GatewayStatus, PaymentGateway, PayResult

NOT_FOUND_CODE = "MERCHANT_ORDER_MAPPING_NOT_FOUND"
# Epoch values above this are milliseconds (PhonePe's unit), below it seconds.
_MS_THRESHOLD = 10**11


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def field(obj: Any, *names: str) -> Any:
    """The first of ``names`` (snake_case, also tried camelCase) found on a mapping or object."""
    for name in names:
        for key in (name, _camel(name)):
            if isinstance(obj, Mapping):
                if key in obj and obj[key] is not None:
                    return obj[key]
            elif getattr(obj, key, None) is not None:
                return getattr(obj, key)
    return None


def as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(number / 1000 if number > _MS_THRESHOLD else number, UTC)


def as_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _state(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value)).upper()


class PhonePeGateway:
    """Adapts a PhonePe client object with ``pay(...)`` and ``order_status(merchant_order_id)``."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def pay(
        self,
        *,
        merchant_order_id: str,
        amount_paise: int,
        redirect_url: str,
        expire_after_s: int,
        meta_info: Mapping[str, str],
    ) -> PayResult:
        values = {
            "merchant_order_id": merchant_order_id,
            "amount": amount_paise,
            "amount_paise": amount_paise,
            "redirect_url": redirect_url,
            "expire_after": expire_after_s,
            "expire_after_s": expire_after_s,
            "meta_info": dict(meta_info),
        }
        params = inspect.signature(self._client.pay).parameters
        kwargs = {name: values[name] for name in params if name in values}
        result = self._client.pay(**kwargs)
        return PayResult(
            phonepe_order_id=field(result, "order_id"),
            state=_state(field(result, "state")) or "PENDING",
            expire_at=as_datetime(field(result, "expire_at")),
            redirect_url=field(result, "redirect_url", "checkout_url"),
        )

    def order_status(self, merchant_order_id: str) -> GatewayStatus:
        try:
            result = self._client.order_status(merchant_order_id)
        except Missing:
            return GatewayStatus(found=False)
        if result is None or field(result, "code") == NOT_FOUND_CODE:
            return GatewayStatus(found=False)
        meta = field(result, "meta_info") or {}
        return GatewayStatus(
            found=True,
            state=_state(field(result, "state")),
            amount_paise=as_int(field(result, "amount")),
            meta_info=dict(meta) if isinstance(meta, Mapping) else {},
            error_code=field(result, "error_code"),
            expire_at=as_datetime(field(result, "expire_at")),
            payment_details=_jsonable(field(result, "payment_details")),
        )


def _jsonable(value: Any) -> Any:
    """Payment details as JSON-ready data (the client may return dataclasses)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: _jsonable(v) for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)


def build_gateway(settings: Settings, kv: KeyValue) -> PaymentGateway:
    """The production gateway: the PhonePe adapter's client from settings, token cached in ``kv``."""
    from lib.adapters.phonepe import PhonePeClient  # type: ignore[import-not-found,import-untyped,unused-ignore]

    client = PhonePeClient.from_settings(settings, kv)
    return PhonePeGateway(client)


__all__ = ["PhonePeGateway", "build_gateway", "field"]
