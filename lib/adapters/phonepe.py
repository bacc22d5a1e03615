"""PhonePe Standard Checkout v2 and Subscriptions v2 over httpx (not the official SDK: see docs/phonepe.md).

Four checkout calls (pay, order status, refund, refund status), the AutoPay
mandate calls (setup, notify, redeem, statuses, cancel) and the OAuth token.
The token is shared by every instance through ``KeyValue`` (Redis) and
refreshed before it expires by one caller at a time; when Redis is down the
client falls back to a token held in memory, because a cache outage must
never fail a payment.  Responses are parsed leniently: unknown states stay
strings and extra fields are kept in ``raw``.  Errors are translated into
``lib.errors`` classes named for what the caller should do; ``pay`` is never
retried (a status check decides what happened), and only idempotent reads
are retried once after a 401 with a fresh token.  Secrets, tokens and
request bodies are never logged.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from lib.clock import SystemClock
from lib.config import Settings
from lib.errors import Missing, Rejected, Unavailable
from lib.logs import get_logger
from lib.ports import Clock, KeyValue
from lib.services.payments.autopay_ports import (
    AmountType,
    AuthWorkflowType,
    AutoPayOrderStatus,
    Frequency,
    MandateSetup,
    MandateStatus,
    RedemptionNotice,
    RedemptionResult,
    RedemptionRetryStrategy,
)
from lib.services.payments.ports import GatewayRefund, GatewayStatus, PayResult

if TYPE_CHECKING:
    from lib.services.payments.autopay_ports import AutoPayGateway
    from lib.services.payments.ports import PaymentGateway

SERVICE = "phonepe"
TOKEN_KEY = "phonepe:token"  # noqa: S105 - a cache key, not a secret
TOKEN_LOCK_KEY = "phonepe:token:lock"  # noqa: S105 - a cache key
# Refresh this long before ``expires_at`` so no request carries a token that expires in flight
# and clock skew between instances and PhonePe is absorbed.
TOKEN_REFRESH_MARGIN_S = 120
# The refresher's lock lives at most this long (one token call's connect + read budget), so a
# crashed refresher never blocks the others for long.
TOKEN_LOCK_TTL_S = 15
# A caller without a usable token waits this long for the refresher before fetching one itself.
TOKEN_WAIT_S = 2.0
TOKEN_WAIT_STEP_S = 0.05
# PhonePe's code for an order (or refund) it has never heard of.
NOT_FOUND_CODE = "MERCHANT_ORDER_MAPPING_NOT_FOUND"
# ... and for a merchantSubscriptionId it has never heard of (to confirm in UAT: docs/phonepe.md).
SUBSCRIPTION_NOT_FOUND_CODE = "SUBSCRIPTION_NOT_FOUND"
NOT_FOUND_CODES = frozenset({NOT_FOUND_CODE, SUBSCRIPTION_NOT_FOUND_CODE})
PAYMENT_FLOW_TYPE = "PG_CHECKOUT"
SETUP_FLOW_TYPE, REDEMPTION_FLOW_TYPE = "SUBSCRIPTION_SETUP", "SUBSCRIPTION_REDEMPTION"

log = get_logger("lib.adapters.phonepe")


# --- errors --------------------------------------------------------------------------------


class PhonePeUnavailable(Unavailable):
    """Timeout, connection failure, 429 or 5xx: try again later (for pay: check status first)."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, SERVICE, **details)


class PhonePeRejected(Rejected):
    """A 4xx with PhonePe's ``code`` (e.g. BAD_REQUEST for a reused merchantOrderId)."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, **details: Any) -> None:
        super().__init__(message, SERVICE, code=code, status=status, **details)
        self.code = code
        self.status = status


class PhonePeOrderNotFound(Missing):
    """``MERCHANT_ORDER_MAPPING_NOT_FOUND`` (or ``SUBSCRIPTION_NOT_FOUND``): PhonePe has no such
    order, refund or subscription."""

    def __init__(self, message: str, *, code: str = NOT_FOUND_CODE, **details: Any) -> None:
        super().__init__(message, SERVICE, code=code, **details)


# --- results ---------------------------------------------------------------------------------


def _ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _order_body(
    merchant_order_id: str,
    amount_paise: int,
    flow: Mapping[str, Any],
    *,
    expire_at: datetime | None = None,
    meta_info: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The body every order-creating call shares (checkout pay, mandate setup, redemption notice):
    our order id, the amount in paise, the flow, an absolute expiry and ``metaInfo`` when given."""
    body: dict[str, Any] = {"merchantOrderId": merchant_order_id, "amount": amount_paise, "paymentFlow": dict(flow)}
    if expire_at is not None:
        body["expireAt"] = _datetime_to_ms(expire_at)
    if meta_info:
        body["metaInfo"] = dict(meta_info)
    return body


def _datetime_to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass(frozen=True)
class CheckoutOrder:
    """PhonePe's answer to a pay request, as sent (``pay`` turns it into the port's ``PayResult``)."""

    order_id: str | None
    state: str
    expire_at_ms: int | None
    redirect_url: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def expire_at(self) -> datetime | None:
        return _ms_to_datetime(self.expire_at_ms)


@dataclass(frozen=True)
class OrderStatus:
    """The order as PhonePe reports it; ``state`` is the raw string (the domain maps it)."""

    order_id: str | None
    state: str
    amount: int | None
    expire_at_ms: int | None
    error_code: str | None
    payment_details: list[dict[str, Any]]
    raw: Mapping[str, Any] = field(repr=False)
    detailed_error_code: str | None = None
    meta_info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def expire_at(self) -> datetime | None:
        return _ms_to_datetime(self.expire_at_ms)


@dataclass(frozen=True)
class RefundResult:
    refund_id: str | None
    amount: int | None
    state: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class RefundStatus:
    merchant_refund_id: str | None
    original_merchant_order_id: str | None
    refund_id: str | None
    amount: int | None
    state: str
    error_code: str | None
    timestamp_ms: int | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class _Token:
    access_token: str
    expires_at: float  # epoch seconds

    def usable(self, now: float) -> bool:
        """Still valid for a while: no refresh needed."""
        return now < self.expires_at - TOKEN_REFRESH_MARGIN_S

    def valid(self, now: float) -> bool:
        """Not expired yet (inside the refresh margin it still works)."""
        return now < self.expires_at

    def encode(self) -> bytes:
        return json.dumps({"access_token": self.access_token, "expires_at": self.expires_at}).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> _Token | None:
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return cls(str(data["access_token"]), float(data["expires_at"]))
        except (ValueError, KeyError, TypeError):
            return None


# --- lenient parsing -------------------------------------------------------------------------


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _opt_ms(data: Mapping[str, Any], key: str) -> datetime | None:
    return _ms_to_datetime(_opt_int(data, key))


def _state(data: Mapping[str, Any]) -> str | None:
    return (_opt_str(data, "state") or "").upper() or None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [dict(v) for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --- the client ------------------------------------------------------------------------------


class PhonePeClient:
    """PhonePe's v2 checkout API.  Build with ``from_settings``; ``http`` may be injected
    (tests pass an ``httpx.Client`` over ``httpx.MockTransport``), otherwise it is created
    on first use and reused by the warm instance."""

    def __init__(
        self,
        *,
        api_base: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        client_version: int = 1,
        kv: KeyValue | None = None,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api_base = api_base.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._client_version = client_version
        self._kv = kv
        self._timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._http = http
        self._clock: Clock = clock or SystemClock()
        self._sleep = sleep
        self._http_lock = threading.Lock()
        self._token_lock = threading.Lock()
        self._local_token: _Token | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, kv: KeyValue | None, *, http: httpx.Client | None = None, clock: Clock | None = None
    ) -> PhonePeClient:
        return cls(
            api_base=settings.phonepe_api_base,
            token_url=settings.phonepe_token_url,
            client_id=settings.phonepe_client_id,
            client_secret=settings.phonepe_client_secret.get_secret_value(),
            client_version=settings.phonepe_client_version,
            kv=kv,
            connect_timeout_s=settings.phonepe_connect_timeout_s,
            read_timeout_s=settings.phonepe_read_timeout_s,
            http=http,
            clock=clock,
        )

    def __repr__(self) -> str:  # never the secret
        return f"PhonePeClient(api_base={self._api_base!r}, client_id={self._client_id!r})"

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            with self._http_lock:
                if self._http is None:
                    self._http = httpx.Client(timeout=self._timeout)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # --- the four calls ------------------------------------------------------------------

    # --- the PaymentGateway port (what the payment services call) ---------------------------

    def pay(
        self,
        *,
        merchant_order_id: str,
        amount_paise: int,
        redirect_url: str,
        expire_after_s: int,
        meta_info: Mapping[str, str],
    ) -> PayResult:
        """``PaymentGateway.pay``: a checkout order; raises ``PhonePeUnavailable`` / ``PhonePeRejected``."""
        order = self.create_checkout_order(
            merchant_order_id,
            amount_paise,
            redirect_url=redirect_url,
            expire_after_s=expire_after_s,
            meta_info=meta_info,
        )
        return PayResult(
            phonepe_order_id=order.order_id,
            state=order.state,
            expire_at=order.expire_at,
            redirect_url=order.redirect_url,
        )

    def order_status(self, merchant_order_id: str) -> GatewayStatus:
        """``PaymentGateway.order_status``: ``found=False`` for an order PhonePe does not know."""
        try:
            status = self.fetch_order_status(merchant_order_id)
        except PhonePeOrderNotFound:
            return GatewayStatus(found=False)
        return GatewayStatus(
            found=True,
            state=status.state.upper() or None,
            amount_paise=status.amount,
            meta_info=dict(status.meta_info),
            error_code=status.error_code,
            expire_at=status.expire_at,
            payment_details=status.payment_details,
        )

    # --- PhonePe's calls, as PhonePe answers them -----------------------------------------

    def create_checkout_order(
        self,
        merchant_order_id: str,
        amount_paise: int,
        *,
        redirect_url: str,
        expire_after_s: int,
        meta_info: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> CheckoutOrder:
        """Create a checkout order.  Never retried here: after ``PhonePeUnavailable`` the caller
        asks ``order_status`` (the order may exist), because a second pay is a 400."""
        flow: dict[str, Any] = {"type": PAYMENT_FLOW_TYPE, "merchantUrls": {"redirectUrl": redirect_url}}
        if message:
            flow["message"] = message
        body = _order_body(merchant_order_id, amount_paise, flow, meta_info=meta_info)
        body["expireAfter"] = expire_after_s
        data = self._call("pay", "POST", "/checkout/v2/pay", json_body=body, idempotent=False)
        return CheckoutOrder(
            order_id=_opt_str(data, "orderId"),
            state=_opt_str(data, "state") or "PENDING",
            expire_at_ms=_opt_int(data, "expireAt"),
            redirect_url=_opt_str(data, "redirectUrl"),
            raw=data,
        )

    def fetch_order_status(self, merchant_order_id: str, *, details: bool = False) -> OrderStatus:
        """The order's current state; ``PhonePeOrderNotFound`` for an unknown order."""
        data = self._call(
            "status",
            "GET",
            f"/checkout/v2/order/{quote(merchant_order_id, safe='')}/status",
            params={"details": str(details).lower(), "errorContext": "false"},
            idempotent=True,
        )
        meta = data.get("metaInfo")
        return OrderStatus(
            order_id=_opt_str(data, "orderId"),
            state=_opt_str(data, "state") or "",
            amount=_opt_int(data, "amount"),
            expire_at_ms=_opt_int(data, "expireAt"),
            error_code=_opt_str(data, "errorCode"),
            payment_details=_dicts(data.get("paymentDetails")),
            raw=data,
            detailed_error_code=_opt_str(data, "detailedErrorCode"),
            meta_info=dict(meta) if isinstance(meta, Mapping) else {},
        )

    def refund(self, merchant_refund_id: str, original_merchant_order_id: str, amount: int) -> RefundResult:
        """Ask for a refund (not retried: a repeat with the same id is checked via ``refund_status``)."""
        body = {
            "merchantRefundId": merchant_refund_id,
            "originalMerchantOrderId": original_merchant_order_id,
            "amount": amount,
        }
        data = self._call("refund", "POST", "/payments/v2/refund", json_body=body, idempotent=False)
        return RefundResult(
            refund_id=_opt_str(data, "refundId"),
            amount=_opt_int(data, "amount"),
            state=_opt_str(data, "state") or "",
            raw=data,
        )

    def refund_status(self, merchant_refund_id: str) -> RefundStatus:
        data = self._call(
            "refund_status",
            "GET",
            f"/payments/v2/refund/{quote(merchant_refund_id, safe='')}/status",
            idempotent=True,
        )
        return RefundStatus(
            merchant_refund_id=_opt_str(data, "merchantRefundId") or merchant_refund_id,
            original_merchant_order_id=_opt_str(data, "originalMerchantOrderId"),
            refund_id=_opt_str(data, "refundId"),
            amount=_opt_int(data, "amount"),
            state=_opt_str(data, "state") or "",
            error_code=_opt_str(data, "errorCode"),
            timestamp_ms=_opt_int(data, "timestamp"),
            raw=data,
        )

    # --- the port's refunds (``PaymentGateway``) ----------------------------------------------

    def start_refund(self, *, merchant_refund_id: str, merchant_order_id: str, amount_paise: int) -> GatewayRefund:
        result = self.refund(merchant_refund_id, merchant_order_id, amount_paise)
        return GatewayRefund(True, result.state, result.refund_id, result.amount)

    def refund_state(self, merchant_refund_id: str) -> GatewayRefund:
        """PhonePe's refund status; ``found`` False when PhonePe has no refund with this id."""
        try:
            status = self.refund_status(merchant_refund_id)
        except PhonePeOrderNotFound:
            return GatewayRefund(found=False)
        return GatewayRefund(True, status.state, status.refund_id, status.amount, status.error_code)

    # --- the AutoPayGateway port (Subscriptions v2: UPI mandates) ----------------------------

    def setup_mandate(
        self,
        *,
        merchant_order_id: str,
        merchant_subscription_id: str,
        amount_paise: int,
        max_amount_paise: int,
        frequency: Frequency,
        amount_type: AmountType,
        auth_workflow_type: AuthWorkflowType,
        mandate_expire_at: datetime | None = None,
        order_expire_at: datetime | None = None,
        meta_info: Mapping[str, str] | None = None,
        vpa: str | None = None,
        target_app: str | None = None,
    ) -> MandateSetup:
        """Create the setup order.  Never retried (a reused merchantOrderId is a 400): after
        ``PhonePeUnavailable`` the caller reads ``mandate_status``, the mandate may exist."""
        mode: dict[str, Any] = {"type": "UPI_INTENT"}
        if vpa:
            mode = {"type": "UPI_COLLECT", "details": {"type": "VPA", "vpa": vpa}}
        elif target_app:
            mode["targetApp"] = target_app
        flow: dict[str, Any] = {
            "type": SETUP_FLOW_TYPE,
            "merchantSubscriptionId": merchant_subscription_id,
            "authWorkflowType": auth_workflow_type,
            "amountType": amount_type,
            "maxAmount": max_amount_paise,
            "frequency": frequency,
            "paymentMode": mode,
        }
        if mandate_expire_at is not None:
            flow["expireAt"] = _datetime_to_ms(mandate_expire_at)
        body = _order_body(merchant_order_id, amount_paise, flow, expire_at=order_expire_at, meta_info=meta_info)
        data = self._call("setup", "POST", "/subscriptions/v2/setup", json_body=body, idempotent=False)
        return MandateSetup(
            phonepe_order_id=_opt_str(data, "orderId"),
            state=_state(data) or "PENDING",
            expire_at=_opt_ms(data, "expireAt"),
            intent_url=_opt_str(data, "intentUrl"),
            redirect_url=_opt_str(data, "redirectUrl"),
        )

    def mandate_status(self, merchant_subscription_id: str) -> MandateStatus:
        """The mandate's state; ``found=False`` for a subscription PhonePe does not know."""
        try:
            data = self._call(
                "subscription_status",
                "GET",
                f"/subscriptions/v2/{quote(merchant_subscription_id, safe='')}/status",
                idempotent=True,
            )
        except PhonePeOrderNotFound:
            return MandateStatus(found=False)
        return MandateStatus(
            found=True,
            merchant_subscription_id=_opt_str(data, "merchantSubscriptionId") or merchant_subscription_id,
            subscription_id=_opt_str(data, "subscriptionId"),
            state=_state(data),
            auth_workflow_type=_opt_str(data, "authWorkflowType"),
            amount_type=_opt_str(data, "amountType"),
            max_amount_paise=_opt_int(data, "maxAmount"),
            frequency=_opt_str(data, "frequency"),
            expire_at=_opt_ms(data, "expireAt"),
            pause_start=_opt_ms(data, "pauseStartDate"),
            pause_end=_opt_ms(data, "pauseEndDate"),
        )

    def notify_redemption(
        self,
        *,
        merchant_order_id: str,
        merchant_subscription_id: str,
        amount_paise: int,
        expire_at: datetime | None = None,
        retry_strategy: RedemptionRetryStrategy = "STANDARD",
        auto_debit: bool = False,
        meta_info: Mapping[str, str] | None = None,
    ) -> RedemptionNotice:
        """Send the pre-debit notice (not retried here: after ``PhonePeUnavailable`` read
        ``redemption_status``, the notice may have gone out)."""
        flow = {
            "type": REDEMPTION_FLOW_TYPE,
            "merchantSubscriptionId": merchant_subscription_id,
            "redemptionRetryStrategy": retry_strategy,
            "autoDebit": auto_debit,
        }
        body = _order_body(merchant_order_id, amount_paise, flow, expire_at=expire_at, meta_info=meta_info)
        data = self._call("notify", "POST", "/subscriptions/v2/notify", json_body=body, idempotent=False)
        return RedemptionNotice(
            phonepe_order_id=_opt_str(data, "orderId"),
            state=_state(data) or "PENDING",
            expire_at=_opt_ms(data, "expireAt"),
        )

    def redeem(self, merchant_order_id: str) -> RedemptionResult:
        """Debit a notified order (not retried here: its outcome is read with ``redemption_status``)."""
        body = {"merchantOrderId": merchant_order_id}
        data = self._call("redeem", "POST", "/subscriptions/v2/redeem", json_body=body, idempotent=False)
        return RedemptionResult(transaction_id=_opt_str(data, "transactionId"), state=_state(data) or "PENDING")

    def redemption_status(self, merchant_order_id: str) -> AutoPayOrderStatus:
        """A setup or redemption order; ``found=False`` for an order PhonePe does not know."""
        try:
            data = self._call(
                "subscription_order_status",
                "GET",
                f"/subscriptions/v2/order/{quote(merchant_order_id, safe='')}/status",
                idempotent=True,
            )
        except PhonePeOrderNotFound:
            return AutoPayOrderStatus(found=False)
        flow = data.get("paymentFlow")
        flow = flow if isinstance(flow, Mapping) else {}
        meta = data.get("metaInfo")
        return AutoPayOrderStatus(
            found=True,
            merchant_order_id=_opt_str(data, "merchantOrderId") or merchant_order_id,
            phonepe_order_id=_opt_str(data, "orderId"),
            state=_state(data),
            amount_paise=_opt_int(data, "amount"),
            expire_at=_opt_ms(data, "expireAt"),
            error_code=_opt_str(data, "errorCode"),
            detailed_error_code=_opt_str(data, "detailedErrorCode"),
            payment_details=_dicts(data.get("paymentDetails")),
            meta_info=dict(meta) if isinstance(meta, Mapping) else {},
            flow_type=_opt_str(flow, "type"),
            merchant_subscription_id=_opt_str(flow, "merchantSubscriptionId"),
            subscription_id=_opt_str(flow, "subscriptionId"),
            notified_at=_opt_ms(flow, "notifiedAt"),
            valid_after=_opt_ms(flow, "validAfter"),
            valid_upto=_opt_ms(flow, "validUpto"),
        )

    def cancel_mandate(self, merchant_subscription_id: str) -> None:
        """Cancel the mandate (no body either way; PhonePe confirms with SUBSCRIPTION_CANCELLED)."""
        self._call(
            "cancel",
            "POST",
            f"/subscriptions/v2/{quote(merchant_subscription_id, safe='')}/cancel",
            idempotent=False,
        )

    # --- HTTP -------------------------------------------------------------------------------

    def _call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool,
    ) -> dict[str, Any]:
        token = self.access_token()
        response = self._send(op, method, path, token, json_body=json_body, params=params)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            if not idempotent:
                self._forget_token(token)
                raise PhonePeUnavailable(f"{op}: token rejected (refreshed for the next call)", op=op, status=401)
            token = self._refresh_after_reject(token)
            response = self._send(op, method, path, token, json_body=json_body, params=params)
        return self._result(op, response)

    def _send(
        self,
        op: str,
        method: str,
        path: str,
        token: str,
        *,
        json_body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
    ) -> httpx.Response:
        started = time.monotonic()
        try:
            response = self.http.request(
                method,
                f"{self._api_base}{path}",
                json=json_body,
                params=params,
                # Content-Type on every call, GETs included, as PhonePe's own SDK sends it.
                headers={
                    "Authorization": f"O-Bearer {token}",
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                },
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            log.warning("phonepe call timed out", extra={"op": op, "error": type(exc).__name__})
            raise PhonePeUnavailable(f"{op}: timed out", op=op, timeout=True) from exc
        except httpx.HTTPError as exc:
            log.warning("phonepe call failed", extra={"op": op, "error": type(exc).__name__})
            raise PhonePeUnavailable(f"{op}: {type(exc).__name__}", op=op) from exc
        log.info(
            "phonepe call",
            extra={"op": op, "status": response.status_code, "ms": round((time.monotonic() - started) * 1000)},
        )
        return response

    @staticmethod
    def _result(op: str, response: httpx.Response) -> dict[str, Any]:
        data = _json_object(response)
        status = response.status_code
        if status < 300:
            return data
        code = _opt_str(data, "code") or _opt_str(data, "errorCode")
        message = _opt_str(data, "message") or response.reason_phrase
        if code in NOT_FOUND_CODES:
            raise PhonePeOrderNotFound(f"{op}: {message}", code=code, op=op, status=status)
        if status == httpx.codes.TOO_MANY_REQUESTS or status >= 500:
            raise PhonePeUnavailable(f"{op}: HTTP {status} {code or ''}".strip(), op=op, status=status, code=code)
        raise PhonePeRejected(f"{op}: HTTP {status} {code or ''}: {message}", code=code, status=status, op=op)

    # --- the token --------------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def access_token(self) -> str:
        """A valid token: memory, then the shared cache, then a refresh by one caller at a time."""
        now = self._now()
        local = self._local_token
        if local is not None and local.usable(now):
            return local.access_token
        with self._token_lock:  # one refresher per process; the KeyValue lock spans instances
            return self._shared_token().access_token

    def _shared_token(self) -> _Token:
        now = self._now()
        local = self._local_token
        if local is not None and local.usable(now):
            return local
        try:
            cached = self._kv_get()
            if cached is not None and cached.usable(now):
                self._local_token = cached
                return cached
            lock_value = secrets.token_hex(8).encode()
            if self._kv is not None and self._kv.set_if_absent(TOKEN_LOCK_KEY, lock_value, ttl_s=TOKEN_LOCK_TTL_S):
                try:
                    return self._fetch_and_share()
                finally:
                    self._release_lock(lock_value)
            if self._kv is not None:
                # Someone else is refreshing: a token that still works is good enough meanwhile.
                still_valid = next((t for t in (cached, local) if t is not None and t.valid(now)), None)
                if still_valid is not None:
                    return still_valid
                waited = self._wait_for_refresher()
                if waited is not None:
                    self._local_token = waited
                    return waited
            return self._fetch_and_share()
        except Unavailable as exc:
            if exc.service == SERVICE:
                raise
            # The shared cache is down: never fail a payment for it; use or fetch a token in memory.
            log.warning("token cache unavailable; using an in-process token", extra={"error": str(exc)})
            if local is not None and local.valid(now):
                return local
            token = self._fetch_token()
            self._local_token = token
            return token

    def _kv_get(self) -> _Token | None:
        return None if self._kv is None else _Token.decode(self._kv.get(TOKEN_KEY))

    def _wait_for_refresher(self) -> _Token | None:
        for _ in range(round(TOKEN_WAIT_S / TOKEN_WAIT_STEP_S)):
            self._sleep(TOKEN_WAIT_STEP_S)
            token = self._kv_get()
            if token is not None and token.valid(self._now()):
                return token
        return None

    def _release_lock(self, lock_value: bytes) -> None:
        if self._kv is None:
            return
        try:
            if self._kv.get(TOKEN_LOCK_KEY) == lock_value:
                self._kv.delete(TOKEN_LOCK_KEY)
        except Unavailable:
            pass  # the lock's TTL releases it

    def _fetch_and_share(self) -> _Token:
        token = self._fetch_token()
        self._local_token = token
        if self._kv is not None:
            ttl = int(token.expires_at - self._now())
            if ttl > 0:
                try:
                    self._kv.set(TOKEN_KEY, token.encode(), ttl_s=ttl)
                except Unavailable as exc:
                    log.warning("token not shared: cache unavailable", extra={"error": str(exc)})
        return token

    def _fetch_token(self) -> _Token:
        form = {
            "client_id": self._client_id,
            "client_version": str(self._client_version),
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
        }
        try:
            response = self.http.post(
                self._token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise PhonePeUnavailable("token: timed out", op="token", timeout=True) from exc
        except httpx.HTTPError as exc:
            raise PhonePeUnavailable(f"token: {type(exc).__name__}", op="token") from exc
        log.info("phonepe token fetched", extra={"op": "token", "status": response.status_code})
        data = self._result("token", response)
        access = _opt_str(data, "access_token")
        expires_at = _opt_int(data, "expires_at")
        if not access or expires_at is None:
            raise PhonePeUnavailable("token: response without access_token/expires_at", op="token")
        return _Token(access, float(expires_at))

    def _forget_token(self, rejected: str) -> None:
        """Drop a token PhonePe refused, here and in the shared cache (if it is still that one)."""
        with self._token_lock:
            if self._local_token is not None and self._local_token.access_token == rejected:
                self._local_token = None
            try:
                shared = self._kv_get()
                if shared is not None and shared.access_token == rejected and self._kv is not None:
                    self._kv.delete(TOKEN_KEY)
            except Unavailable:
                pass

    def _refresh_after_reject(self, rejected: str) -> str:
        """After a 401: another instance may already hold a newer token; otherwise fetch one."""
        self._forget_token(rejected)
        token = self.access_token()
        if token != rejected:
            return token
        with self._token_lock:  # something handed the rejected token back: replace it
            return self._fetch_and_share().access_token


if TYPE_CHECKING:  # mypy proves the client is both of the services' ports

    def _is_both_ports(client: PhonePeClient) -> tuple[PaymentGateway, AutoPayGateway]:
        return client, client


__all__ = [
    "NOT_FOUND_CODE",
    "NOT_FOUND_CODES",
    "SUBSCRIPTION_NOT_FOUND_CODE",
    "TOKEN_KEY",
    "TOKEN_LOCK_KEY",
    "TOKEN_REFRESH_MARGIN_S",
    "CheckoutOrder",
    "OrderStatus",
    "PhonePeClient",
    "PhonePeOrderNotFound",
    "PhonePeRejected",
    "PhonePeUnavailable",
    "RefundResult",
    "RefundStatus",
]
