"""A PhonePe Standard Checkout v2 and Subscriptions v2 simulator for the local suite and the tests.

It speaks PhonePe's JSON under the sandbox prefix (mounted at ``/_dev/phonepe``,
the API lives at ``/_dev/phonepe/apis/pg-sandbox/...``), so the real
``PhonePeClient`` runs against it unchanged: OAuth token (O-Bearer), pay,
order status, refund, refund status, and the UPI AutoPay mandates (setup,
notify, redeem, subscription/order/transaction status, cancel: see
``phonepe_sim_subscriptions``).  It also serves what the real gateway's
customer sees (a hosted checkout page with Pay and Fail buttons that
redirects back to the merchant) and sends webhooks the way PhonePe does
(``Authorization: sha256hex(username:password)``).

Script controls (local only: mounted under ``/_dev/phonepe`` only when dev routes are on), relative to the mount:

- ``POST /orders/{merchant_order_id}/complete|fail?webhook=deliver|drop|delay:<s>|duplicate:<n>``
  (``&amount_override=<paise>`` reports another amount; ``&force=1`` completes an order that
  already failed or expired, a late payment; ``&error_code=`` for fail)
- ``POST /refunds/{merchant_refund_id}/complete|fail?webhook=...``
- ``POST /mandates/{merchant_subscription_id}/approve|decline|pause|unpause|revoke|cancel?webhook=...``
  (what the customer does in the UPI app: approve or decline the setup, pause (``&until=<epoch ms>``),
  unpause, revoke; cancel as from PhonePe's dashboard; ``&error_code=`` for decline)
- ``POST /redemptions/{merchant_order_id}/complete|fail?webhook=...`` (settles a redemption held
  PENDING by ``next-outcome``; ``&error_code=`` for fail)
- ``POST /_control/next-outcome?op=redeem|notify&outcome=fail|pending&count=n&error_code=``: the
  next redemption attempts fail or stay PENDING, the next notifications fail
- ``POST /_control/subscription-webhooks?webhook=deliver|drop|delay:<s>|duplicate:<n>``: how the
  callbacks PhonePe sends on its own (after notify, redeem and the cancel API) are delivered
- ``POST /_control/fail-next?op=<one of FAULT_OPS>&mode=500|503|429|timeout&count=n``
  (``timeout`` answers only after ``&stall_s=`` seconds, default ``STALL_S``; a stalled pay is
  still processed, like a response lost on the way back)
- ``POST /_control/amount-override?merchant_order_id=&amount=``, ``POST /_control/revoke-tokens``,
  ``POST /_control/reset``, ``GET /_control/stats``, ``GET /_control/webhooks``, ``GET /orders``,
  ``GET /mandates``, ``GET /mandates/{merchant_subscription_id}``

State is in memory, optionally saved to ``state_path`` as JSON after each change.
Expiry is read from the injected clock: a PENDING order past ``expireAt``
reports FAILED with PhonePe's ``TXN_NOT_COMPLETED``/``TXN_AUTO_FAILED``.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import re
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from lib.clock import SystemClock
from lib.domain.payments import MERCHANT_ID_RE, webhook_authorization
from lib.logs import get_logger
from lib.ports import Clock

if TYPE_CHECKING:
    from devtools.local.devserver import DevSuite
    from devtools.local.phonepe_sim_subscriptions import SubscriptionDesk

# PhonePe's limits on a pay request (Standard Checkout v2; see docs/phonepe.md).
MIN_AMOUNT_PAISE = 100
MIN_EXPIRE_AFTER_S, MAX_EXPIRE_AFTER_S, DEFAULT_EXPIRE_AFTER_S = 300, 3600, 1200
UDF_LONG_MAX, UDF_SHORT_MAX = 256, 50  # udf1-10 and udf11-15
_UDF_SHORT_RE = re.compile(r"^[A-Za-z0-9_\-+@.]*$")
_UDF_KEY_RE = re.compile(r"^udf([1-9]|1[0-5])$")
# Tokens live an hour, like the sandbox's.
TOKEN_TTL_S = 3600
# A "timeout" fault holds the answer this long by default: far beyond any client read timeout.
STALL_S = 30.0
# The API's routes, under the sandbox's prefix or production's.
API_PREFIX = "/apis/<any('pg-sandbox', 'pg'):env>"
# PhonePe expects a webhook answer within a few seconds; the simulator waits no longer.
WEBHOOK_TIMEOUT_S = 5.0
# Largest ``duplicate:<n>``: enough to prove de-duplication, not a load generator.
MAX_DUPLICATES = 20
# PhonePe's codes for an order that expired unpaid.
EXPIRED_ERROR_CODE, EXPIRED_DETAILED_CODE = "TXN_NOT_COMPLETED", "TXN_AUTO_FAILED"
DEFAULT_FAIL_CODE, DEFAULT_FAIL_DETAILED_CODE = "PAYMENT_DECLINED", "ZM"
FAULT_OPS = frozenset(
    {
        "token",
        "pay",
        "status",
        "refund",
        "refund_status",
        "setup",
        "notify",
        "redeem",
        "subscription_status",
        "subscription_order_status",
        "subscription_transaction_status",
        "cancel",
    }
)
NOT_FOUND_CODE = "MERCHANT_ORDER_MAPPING_NOT_FOUND"
# A refund is accepted (CONFIRMED) until it settles; only then is it final.
OPEN_REFUND_STATES = frozenset({"PENDING", "CONFIRMED"})
# Each callback's ``type``, as the official SDK's ``CallbackType`` names it.
CALLBACK_TYPES = {
    "checkout.order.completed": "CHECKOUT_ORDER_COMPLETED",
    "checkout.order.failed": "CHECKOUT_ORDER_FAILED",
    "pg.refund.accepted": "PG_REFUND_ACCEPTED",
    "pg.refund.completed": "PG_REFUND_COMPLETED",
    "pg.refund.failed": "PG_REFUND_FAILED",
    **{
        t.lower().replace("_", "."): t
        for t in (
            "SUBSCRIPTION_SETUP_ORDER_COMPLETED",
            "SUBSCRIPTION_SETUP_ORDER_FAILED",
            "SUBSCRIPTION_NOTIFICATION_COMPLETED",
            "SUBSCRIPTION_NOTIFICATION_FAILED",
            "SUBSCRIPTION_REDEMPTION_ORDER_COMPLETED",
            "SUBSCRIPTION_REDEMPTION_ORDER_FAILED",
            "SUBSCRIPTION_REDEMPTION_TRANSACTION_COMPLETED",
            "SUBSCRIPTION_REDEMPTION_TRANSACTION_FAILED",
            "SUBSCRIPTION_CANCELLED",
            "SUBSCRIPTION_PAUSED",
            "SUBSCRIPTION_UNPAUSED",
            "SUBSCRIPTION_REVOKED",
        )
    },
}

log = get_logger("devtools.local.phonepe_sim")


@dataclass
class SimOrder:
    merchant_order_id: str
    order_id: str
    amount: int
    expire_at: int  # epoch ms
    created_at: int
    redirect_url: str | None  # PhonePe allows none: the customer then stays on its page
    meta_info: dict[str, str] = field(default_factory=dict)
    state: str = "PENDING"
    error_code: str | None = None
    detailed_error_code: str | None = None
    payment_details: list[dict[str, Any]] = field(default_factory=list)
    amount_override: int | None = None
    refunded: int = 0


@dataclass
class SimRefund:
    merchant_refund_id: str
    refund_id: str
    original_merchant_order_id: str
    amount: int
    timestamp: int
    state: str = "PENDING"
    error_code: str | None = None


@dataclass(frozen=True)
class WebhookPlan:
    """How to deliver a webhook: ``deliver`` once now, ``drop``, ``delay`` by s, ``duplicate`` n copies."""

    mode: str
    delay_s: float = 0.0
    copies: int = 1

    @classmethod
    def parse(cls, raw: str | None) -> WebhookPlan:
        text = (raw or "deliver").strip().lower()
        name, _, arg = text.partition(":")
        try:
            if name == "deliver" and not arg:
                return cls("deliver")
            if name == "drop" and not arg:
                return cls("drop", copies=0)
            if name == "delay":
                seconds = float(arg)
                if 0 <= seconds <= MAX_EXPIRE_AFTER_S:
                    return cls("delay", delay_s=seconds)
            if name == "duplicate":
                copies = int(arg)
                if 1 <= copies <= MAX_DUPLICATES:
                    return cls("duplicate", copies=copies)
        except ValueError:
            pass
        raise ValueError(f"webhook must be deliver, drop, delay:<seconds> or duplicate:<1-{MAX_DUPLICATES}>")


class ApiError(Exception):
    """An error answered in PhonePe's shape: ``{code, message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class PhonePeSimulator:
    """The simulator as a WSGI app (``create_app`` builds it); state and controls in memory."""

    def __init__(
        self,
        *,
        webhook_url: str,
        webhook_username: str,
        webhook_password: str,
        client_id: str,
        client_secret: str,
        state_path: Path | None = None,
        clock: Clock | None = None,
        merchant_id: str = "SIMMERCHANT",
        http: httpx.Client | None = None,
    ) -> None:
        self.webhook_url = webhook_url
        self._webhook_header = webhook_authorization(webhook_username, webhook_password)
        self._client_id, self._client_secret = client_id, client_secret
        self._state_path = state_path
        self.clock: Clock = clock or SystemClock()
        self.merchant_id = merchant_id
        self._http = http
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._timers: list[threading.Timer] = []
        self.orders: dict[str, SimOrder] = {}
        self.refunds: dict[str, SimRefund] = {}
        self.tokens: dict[str, int] = {}  # token -> expires_at (epoch s)
        self.faults: dict[str, deque[tuple[str, float]]] = {}
        self.calls: Counter[str] = Counter()
        self.webhooks: list[dict[str, Any]] = []
        self._seq = itertools.count(1)
        # Imported here: the desk's module builds on this one (errors, webhook plans, validation).
        from devtools.local.phonepe_sim_subscriptions import SubscriptionDesk

        self.subscriptions: SubscriptionDesk = SubscriptionDesk(self)
        self._load()
        self.url_map = Map(self._rules() + SubscriptionDesk.rules(API_PREFIX))

    # --- plumbing -------------------------------------------------------------------------

    @staticmethod
    def _rules() -> list[Rule]:
        api = API_PREFIX
        return [
            Rule("/", endpoint="index", methods=["GET"]),
            Rule(f"{api}/v1/oauth/token", endpoint="token", methods=["POST"]),
            Rule("/apis/identity-manager/v1/oauth/token", endpoint="token", methods=["POST"]),
            Rule(f"{api}/checkout/v2/pay", endpoint="pay", methods=["POST"]),
            Rule(f"{api}/checkout/v2/order/<mid>/status", endpoint="status", methods=["GET"]),
            Rule(f"{api}/payments/v2/refund", endpoint="refund", methods=["POST"]),
            Rule(f"{api}/payments/v2/refund/<rid>/status", endpoint="refund_status", methods=["GET"]),
            Rule("/checkout/<order_id>", endpoint="checkout_page", methods=["GET"]),
            Rule("/checkout/<order_id>/<any(pay, fail):action>", endpoint="checkout_action", methods=["POST"]),
            Rule("/orders", endpoint="list_orders", methods=["GET"]),
            Rule("/orders/<mid>", endpoint="get_order", methods=["GET"]),
            Rule("/orders/<mid>/<any(complete, fail):action>", endpoint="order_action", methods=["POST"]),
            Rule("/refunds/<rid>/<any(complete, fail):action>", endpoint="refund_action", methods=["POST"]),
            Rule("/_control/fail-next", endpoint="fail_next", methods=["POST"]),
            Rule("/_control/amount-override", endpoint="amount_override", methods=["POST"]),
            Rule("/_control/revoke-tokens", endpoint="revoke_tokens", methods=["POST"]),
            Rule("/_control/reset", endpoint="reset", methods=["POST"]),
            Rule("/_control/stats", endpoint="stats", methods=["GET"]),
            Rule("/_control/webhooks", endpoint="webhook_log", methods=["GET"]),
        ]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, matched = self.url_map.bind_to_environ(environ).match()
            args = {k: v for k, v in matched.items() if k != "env"}
            owner, _, name = str(endpoint).rpartition(".")
            target: Any = self.subscriptions if owner == "subs" else self
            response: Response = getattr(target, f"_on_{name}")(request, **args)
        except RequestRedirect as exc:
            return exc(environ, start_response)
        except ApiError as exc:
            response = _json({"code": exc.code, "message": exc.message}, exc.status)
        except HTTPException as exc:
            response = _json(
                {"code": (exc.name or "ERROR").upper().replace(" ", "_"), "message": exc.description}, exc.code or 500
            )
        return response(environ, start_response)

    def close(self) -> None:
        """Release stalled requests and cancel delayed webhooks (tests, shutdown)."""
        self._stop.set()
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        if self._http is not None:
            self._http.close()
            self._http = None

    def _now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{self.clock.now():%y%m%d%H%M%S}{next(self._seq):06d}{secrets.randbelow(1000):03d}"

    # --- persistence ---------------------------------------------------------------------

    def _load(self) -> None:
        if self._state_path is None or not self._state_path.exists():
            return
        data = json.loads(self._state_path.read_text())
        self.orders = {k: SimOrder(**v) for k, v in data.get("orders", {}).items()}
        self.refunds = {k: SimRefund(**v) for k, v in data.get("refunds", {}).items()}
        self.tokens = {k: int(v) for k, v in data.get("tokens", {}).items()}
        self.subscriptions.load(data)
        self._seq = itertools.count(int(data.get("seq", 0)) + 1)

    def _save(self) -> None:
        if self._state_path is None:
            return
        seq = next(self._seq)
        self._seq = itertools.count(seq + 1)
        data = {
            "orders": {k: asdict(v) for k, v in self.orders.items()},
            "refunds": {k: asdict(v) for k, v in self.refunds.items()},
            "tokens": self.tokens,
            **self.subscriptions.dump(),
            "seq": seq,
        }
        self._state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self._state_path)

    # --- faults ---------------------------------------------------------------------------

    def _fault(self, op: str) -> tuple[str, float] | None:
        """The next scripted fault of ``op`` (consumed), counting the call either way."""
        with self._lock:
            self.calls[op] += 1
            queue = self.faults.get(op)
            return queue.popleft() if queue else None

    def _faulty(self, op: str, handle: Callable[[], Response]) -> Response:
        fault = self._fault(op)
        if fault is None:
            return handle()
        mode, stall_s = fault
        if mode == "timeout":
            response = handle()  # processed, then the answer is late (lost on the way back)
            self._stop.wait(stall_s)
            return response
        status = int(mode)
        return _json(
            {"code": "INTERNAL_SERVER_ERROR" if status >= 500 else "TOO_MANY_REQUESTS", "message": "simulated fault"},
            status,
        )

    # --- token and auth ------------------------------------------------------------------

    def _on_token(self, request: Request) -> Response:
        return self._faulty("token", lambda: self._issue_token(request))

    def _issue_token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "BAD_REQUEST", "grant_type must be client_credentials")
        if not form.get("client_version", "").isdigit():
            raise ApiError(400, "BAD_REQUEST", "client_version is required")
        if form.get("client_id") != self._client_id or not secrets.compare_digest(
            form.get("client_secret", "").encode(), self._client_secret.encode()
        ):
            raise ApiError(401, "INVALID_CLIENT", "Client authentication failed")
        now = int(self.clock.now().timestamp())
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = now + TOKEN_TTL_S
            self._save()
        return _json(
            {
                "access_token": token,
                "encrypted_access_token": secrets.token_urlsafe(24),
                "expires_in": None,
                "issued_at": now,
                "expires_at": now + TOKEN_TTL_S,
                "session_expires_at": now + TOKEN_TTL_S,
                "token_type": "O-Bearer",
            }
        )

    def _authorize(self, request: Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._lock:
            expires_at = self.tokens.get(token.strip()) if scheme == "O-Bearer" else None
        if expires_at is None or expires_at <= self.clock.now().timestamp():
            raise ApiError(401, "UNAUTHORIZED", "Invalid or expired O-Bearer token")

    # --- pay --------------------------------------------------------------------------------

    def _on_pay(self, request: Request) -> Response:
        self._authorize(request)
        return self._faulty("pay", lambda: self._create_order(request))

    def _create_order(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "BAD_REQUEST", "Request body must be a JSON object")
        mid, amount, expire_after, meta, redirect_url = _validate_pay(body)
        now = self._now_ms()
        with self._lock:
            if mid in self.orders or mid in self.subscriptions.orders:
                raise ApiError(400, "BAD_REQUEST", "Duplicate merchantOrderId: check the order status instead")
            order = SimOrder(
                merchant_order_id=mid,
                order_id=self._new_id("OMO"),
                amount=amount,
                expire_at=now + expire_after * 1000,
                created_at=now,
                redirect_url=redirect_url,
                meta_info=meta,
            )
            self.orders[mid] = order
            self._save()
        checkout = f"{request.url_root}checkout/{order.order_id}"
        return _json(
            {"orderId": order.order_id, "state": "PENDING", "expireAt": order.expire_at, "redirectUrl": checkout}
        )

    # --- order status -----------------------------------------------------------------------

    def _expire_if_due(self, order: SimOrder) -> None:
        if order.state == "PENDING" and self._now_ms() >= order.expire_at:
            order.state = "FAILED"
            order.error_code, order.detailed_error_code = EXPIRED_ERROR_CODE, EXPIRED_DETAILED_CODE
            self._save()

    def _order(self, mid: str) -> SimOrder:
        with self._lock:
            order = self.orders.get(mid)
            if order is None:
                raise ApiError(400, NOT_FOUND_CODE, "No order found for this merchantOrderId")
            self._expire_if_due(order)
            return order

    def _status_body(self, order: SimOrder) -> dict[str, Any]:
        amount = order.amount if order.amount_override is None else order.amount_override
        body: dict[str, Any] = {
            "orderId": order.order_id,
            "state": order.state,
            "amount": amount,
            "payableAmount": amount,
            "feeAmount": 0,
            "expireAt": order.expire_at,
            "metaInfo": order.meta_info,
            "paymentDetails": order.payment_details,
        }
        if order.state == "FAILED":
            body["errorCode"] = order.error_code
            body["detailedErrorCode"] = order.detailed_error_code
        return body

    def _refundable(self, mid: str) -> Any:
        """The order a refund is of: a checkout order, or an AutoPay setup or redemption order
        (PhonePe refunds both through the same refund API)."""
        autopay = self.subscriptions.orders.get(mid)
        return autopay if autopay is not None else self._order(mid)

    def _on_status(self, request: Request, mid: str) -> Response:
        self._authorize(request)
        return self._faulty("status", lambda: _json(self._status_body(self._order(mid))))

    # --- refunds -----------------------------------------------------------------------------

    def _on_refund(self, request: Request) -> Response:
        self._authorize(request)
        return self._faulty("refund", lambda: self._create_refund(request))

    def _create_refund(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "BAD_REQUEST", "Request body must be a JSON object")
        rid, mid, amount = body.get("merchantRefundId"), body.get("originalMerchantOrderId"), body.get("amount")
        if not isinstance(rid, str) or not MERCHANT_ID_RE.fullmatch(rid):
            raise ApiError(400, "BAD_REQUEST", "merchantRefundId: 1-63 letters, digits, _ or -")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < MIN_AMOUNT_PAISE:
            raise ApiError(400, "BAD_REQUEST", f"amount must be an integer >= {MIN_AMOUNT_PAISE} paise")
        with self._lock:
            order = self._refundable(str(mid))
            if rid in self.refunds:
                raise ApiError(400, "BAD_REQUEST", "Duplicate merchantRefundId")
            if order.state != "COMPLETED":
                raise ApiError(400, "BAD_REQUEST", f"Order is {order.state}, not COMPLETED")
            if amount > order.amount - order.refunded:
                raise ApiError(400, "BAD_REQUEST", "amount exceeds the refundable amount")
            refund = SimRefund(rid, self._new_id("OMR"), order.merchant_order_id, amount, self._now_ms())
            order.refunded += amount
            # Answered PENDING; accepted at once, so its status reads CONFIRMED until it settles.
            refund.state = "CONFIRMED"
            self.refunds[rid] = refund
            self._save()
        return _json({"refundId": refund.refund_id, "amount": amount, "state": "PENDING"})

    def _refund(self, rid: str) -> SimRefund:
        with self._lock:
            refund = self.refunds.get(rid)
        if refund is None:
            raise ApiError(400, NOT_FOUND_CODE, "No refund found for this merchantRefundId")
        return refund

    @staticmethod
    def _refund_body(refund: SimRefund) -> dict[str, Any]:
        body = {
            "merchantRefundId": refund.merchant_refund_id,
            "refundId": refund.refund_id,
            "originalMerchantOrderId": refund.original_merchant_order_id,
            "amount": refund.amount,
            "state": refund.state,
            "timestamp": refund.timestamp,
        }
        if refund.error_code:
            body["errorCode"] = refund.error_code
        return body

    def _on_refund_status(self, request: Request, rid: str) -> Response:
        self._authorize(request)
        return self._faulty("refund_status", lambda: _json(self._refund_body(self._refund(rid))))

    # --- completing orders (page and scripts) ----------------------------------------------------

    def settle(
        self,
        mid: str,
        action: str,
        *,
        plan: WebhookPlan,
        force: bool = False,
        amount_override: int | None = None,
        error_code: str | None = None,
    ) -> dict[str, Any]:
        """Complete or fail an order as the customer's bank would, then send the webhook."""
        with self._lock:
            order = self._order(mid)
            if order.state != "PENDING" and not (force and action == "complete" and order.state == "FAILED"):
                raise ApiError(409, "ORDER_ALREADY_FINAL", f"Order is already {order.state}")
            if amount_override is not None:
                order.amount_override = amount_override
            now = self._now_ms()
            if action == "complete":
                order.state, order.error_code, order.detailed_error_code = "COMPLETED", None, None
                detail = {"paymentMode": "UPI_QR", "state": "COMPLETED"}
            else:
                order.state = "FAILED"
                order.error_code = error_code or DEFAULT_FAIL_CODE
                order.detailed_error_code = DEFAULT_FAIL_DETAILED_CODE
                detail = {"paymentMode": "UPI_INTENT", "state": "FAILED", "errorCode": order.error_code}
            shown_amount = order.amount if order.amount_override is None else order.amount_override
            order.payment_details = [
                {
                    "transactionId": self._new_id("OM"),
                    "timestamp": now,
                    "amount": shown_amount,
                    "rail": {"type": "UPI"},
                    "instrument": {"type": "ACCOUNT"},
                    **detail,
                }
            ]
            self._save()
            payload = {"merchantId": self.merchant_id, "merchantOrderId": mid, **self._status_body(order)}
        event = "checkout.order.completed" if action == "complete" else "checkout.order.failed"
        return {"merchant_order_id": mid, "state": order.state, "webhook": self._send(event, payload, plan)}

    def settle_refund(self, rid: str, action: str, *, plan: WebhookPlan) -> dict[str, Any]:
        with self._lock:
            refund = self._refund(rid)
            if refund.state not in OPEN_REFUND_STATES:
                raise ApiError(409, "REFUND_ALREADY_FINAL", f"Refund is already {refund.state}")
            refund.state = "COMPLETED" if action == "complete" else "FAILED"
            refund.error_code = None if action == "complete" else "REFUND_FAILED"
            refund.timestamp = self._now_ms()
            if action == "fail":
                self._refundable(refund.original_merchant_order_id).refunded -= refund.amount
            self._save()
            payload = self._refund_body(refund)
        event = "pg.refund.completed" if action == "complete" else "pg.refund.failed"
        return {"merchant_refund_id": rid, "state": refund.state, "webhook": self._send(event, payload, plan)}

    def _on_order_action(self, request: Request, mid: str, action: str) -> Response:
        plan = _webhook_plan(request)
        override = request.args.get("amount_override")
        if override is not None and not override.isdigit():
            raise ApiError(400, "BAD_REQUEST", "amount_override must be paise")
        result = self.settle(
            mid,
            action,
            plan=plan,
            force=request.args.get("force", "").lower() in ("1", "true", "yes"),
            amount_override=int(override) if override is not None else None,
            error_code=request.args.get("error_code"),
        )
        return _json(result)

    def _on_refund_action(self, request: Request, rid: str, action: str) -> Response:
        return _json(self.settle_refund(rid, action, plan=_webhook_plan(request)))

    # --- webhooks --------------------------------------------------------------------------------

    @property
    def webhook_http(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=WEBHOOK_TIMEOUT_S)
            return self._http

    def _send(self, event: str, payload: Mapping[str, Any], plan: WebhookPlan) -> dict[str, Any]:
        # PhonePe's callback: ``type`` (the SDK's CallbackType) beside ``event`` and ``payload``.
        body = json.dumps({"event": event, "type": CALLBACK_TYPES[event], "payload": dict(payload)}).encode()
        if plan.mode == "drop":
            self._record(event, payload, "dropped", None)
            return {"mode": "drop", "sent": 0}
        if plan.mode == "delay":
            self.later(plan.delay_s, self._post_webhook, event, payload, body)
            return {"mode": "delay", "delay_s": plan.delay_s, "sent": 0}
        statuses = [self._post_webhook(event, payload, body) for _ in range(plan.copies)]
        return {"mode": plan.mode, "sent": plan.copies, "statuses": statuses}

    def later(self, delay_s: float, action: Callable[..., Any], *args: Any) -> None:
        """Run ``action(*args)`` on its own thread after ``delay_s``; ``close`` cancels what has not started."""
        timer = threading.Timer(delay_s, action, args=args)
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def _post_webhook(self, event: str, payload: Mapping[str, Any], body: bytes) -> int | None:
        try:
            response = self.webhook_http.post(
                self.webhook_url,
                content=body,
                headers={"Authorization": self._webhook_header, "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            log.warning("webhook not delivered", extra={"event": event, "error": type(exc).__name__})
            self._record(event, payload, "error", None)
            return None
        self._record(event, payload, "sent", response.status_code)
        return response.status_code

    def _record(self, event: str, payload: Mapping[str, Any], outcome: str, status: int | None) -> None:
        with self._lock:
            self.webhooks.append(
                {
                    "event": event,
                    "merchant_order_id": payload.get("merchantOrderId") or payload.get("originalMerchantOrderId"),
                    "merchant_subscription_id": payload.get("merchantSubscriptionId")
                    or (payload.get("paymentFlow") or {}).get("merchantSubscriptionId"),
                    "outcome": outcome,
                    "status": status,
                    "at": self._now_ms(),
                }
            )

    # --- hosted checkout page ----------------------------------------------------------------------

    def _by_order_id(self, order_id: str) -> SimOrder:
        with self._lock:
            order = next((o for o in self.orders.values() if o.order_id == order_id), None)
            if order is None:
                raise NotFound("no such checkout")
            self._expire_if_due(order)
            return order

    def _on_checkout_page(self, request: Request, order_id: str) -> Response:
        order = self._by_order_id(order_id)
        rupees = f"{order.amount / 100:,.2f}"
        esc = html.escape
        if order.state == "PENDING":
            actions = (
                f'<form method="post" action="{esc(order_id)}/pay"><button class="pay">Pay ₹{rupees}</button></form>'
                f'<form method="post" action="{esc(order_id)}/fail"><button class="fail">Fail payment</button></form>'
            )
        else:
            back = f'<a href="{esc(order.redirect_url)}">Back to the merchant</a>' if order.redirect_url else ""
            actions = f"<p>This order is {esc(order.state)}.</p>{back}"
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
            "<title>PhonePe simulator checkout</title>"
            "<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto}button{font-size:1.1rem;"
            "padding:.6rem 1.2rem;margin:.3rem 0;width:100%}.pay{background:#5f259f;color:#fff}</style></head>"
            f"<body><h1>PhonePe (simulated)</h1><p>Order <code>{esc(order.merchant_order_id)}</code></p>"
            f"<p>Amount: ₹{rupees}</p>{actions}</body></html>"
        )
        # The form posts to "<order_id>/pay": the page's URL must not end with a slash.
        return Response(page, mimetype="text/html")

    def _on_checkout_action(self, request: Request, order_id: str, action: str) -> Response:
        order = self._by_order_id(order_id)
        if order.state == "PENDING":
            self.settle(order.merchant_order_id, "complete" if action == "pay" else "fail", plan=WebhookPlan("deliver"))
        # Without a merchant redirect URL the customer stays on PhonePe's page, which now shows the outcome.
        return Response(
            status=303, headers={"Location": order.redirect_url or f"{request.url_root}checkout/{order_id}"}
        )

    # --- inspection and controls -----------------------------------------------------------------

    def _on_index(self, request: Request) -> Response:
        with self._lock:
            rows = "".join(
                f"<tr><td>{html.escape(o.merchant_order_id)}</td><td>{o.amount}</td><td>{html.escape(o.state)}</td>"
                f"<td><a href='checkout/{html.escape(o.order_id)}'>checkout</a></td></tr>"
                for o in self.orders.values()
            )
        page = (
            "<!doctype html><html><body><h1>PhonePe simulator</h1><table><tr><th>order</th><th>paise</th>"
            f"<th>state</th><th></th></tr>{rows}</table></body></html>"
        )
        return Response(page, mimetype="text/html")

    def _on_list_orders(self, request: Request) -> Response:
        with self._lock:
            for order in self.orders.values():
                self._expire_if_due(order)
            return _json({"orders": [asdict(o) for o in self.orders.values()]})

    def _on_get_order(self, request: Request, mid: str) -> Response:
        return _json(asdict(self._order(mid)))

    def _on_fail_next(self, request: Request) -> Response:
        op, mode = request.args.get("op", ""), request.args.get("mode", "500")
        if op not in FAULT_OPS:
            raise ApiError(400, "BAD_REQUEST", f"op must be one of {sorted(FAULT_OPS)}")
        if mode != "timeout" and not (mode.isdigit() and 400 <= int(mode) <= 599):
            raise ApiError(400, "BAD_REQUEST", "mode must be timeout or an HTTP error status")
        try:
            count = int(request.args.get("count", "1"))
            stall_s = float(request.args.get("stall_s", str(STALL_S)))
        except ValueError:
            raise ApiError(400, "BAD_REQUEST", "count and stall_s must be numbers") from None
        with self._lock:
            self.faults.setdefault(op, deque()).extend([(mode, stall_s)] * max(count, 0))
            pending = len(self.faults[op])
        return _json({"op": op, "mode": mode, "pending": pending})

    def _on_amount_override(self, request: Request) -> Response:
        amount = request.args.get("amount", "")
        if not amount.isdigit():
            raise ApiError(400, "BAD_REQUEST", "amount must be paise")
        with self._lock:
            order = self._order(request.args.get("merchant_order_id", ""))
            order.amount_override = int(amount)
            self._save()
        return _json({"merchant_order_id": order.merchant_order_id, "amount_override": order.amount_override})

    def _on_revoke_tokens(self, request: Request) -> Response:
        with self._lock:
            revoked = len(self.tokens)
            self.tokens.clear()
            self._save()
        return _json({"revoked": revoked})

    def _on_reset(self, request: Request) -> Response:
        with self._lock:
            self.orders.clear()
            self.refunds.clear()
            self.tokens.clear()
            self.faults.clear()
            self.calls.clear()
            self.webhooks.clear()
            self.subscriptions.reset()
            self._save()
        return _json({"reset": True})

    def _on_stats(self, request: Request) -> Response:
        with self._lock:
            return _json(
                {
                    "calls": dict(self.calls),
                    "orders": len(self.orders),
                    "refunds": len(self.refunds),
                    "tokens": len(self.tokens),
                    "mandates": len(self.subscriptions.mandates),
                    "subscription_orders": len(self.subscriptions.orders),
                }
            )

    def _on_webhook_log(self, request: Request) -> Response:
        with self._lock:
            return _json({"webhooks": list(self.webhooks)})


def _webhook_plan(request: Request) -> WebhookPlan:
    try:
        return WebhookPlan.parse(request.args.get("webhook"))
    except ValueError as exc:
        raise ApiError(400, "BAD_REQUEST", str(exc)) from None


def _validate_pay(body: Mapping[str, Any]) -> tuple[str, int, int, dict[str, str], str | None]:
    """PhonePe's checks on a pay request; the first problem is a 400 BAD_REQUEST."""
    mid = body.get("merchantOrderId")
    if not isinstance(mid, str) or not MERCHANT_ID_RE.fullmatch(mid):
        raise ApiError(400, "BAD_REQUEST", "merchantOrderId: 1-63 letters, digits, _ or -")
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < MIN_AMOUNT_PAISE:
        raise ApiError(400, "BAD_REQUEST", f"amount must be an integer >= {MIN_AMOUNT_PAISE} paise")
    # The official SDK sends every optional field, unset ones as null: null means "the default".
    expire_after = body.get("expireAfter")
    if expire_after is None:
        expire_after = DEFAULT_EXPIRE_AFTER_S
    if (
        not isinstance(expire_after, int)
        or isinstance(expire_after, bool)
        or not MIN_EXPIRE_AFTER_S <= expire_after <= MAX_EXPIRE_AFTER_S
    ):
        raise ApiError(400, "BAD_REQUEST", f"expireAfter must be {MIN_EXPIRE_AFTER_S}-{MAX_EXPIRE_AFTER_S} seconds")
    meta = validate_meta_info(body.get("metaInfo"))
    flow = body.get("paymentFlow")
    if not isinstance(flow, dict) or flow.get("type") != "PG_CHECKOUT":
        raise ApiError(400, "BAD_REQUEST", "paymentFlow.type must be PG_CHECKOUT")
    urls = flow.get("merchantUrls")
    if urls is not None and not isinstance(urls, dict):
        raise ApiError(400, "BAD_REQUEST", "paymentFlow.merchantUrls must be an object")
    redirect = (urls or {}).get("redirectUrl") or None  # optional: missing, null or empty
    if redirect is not None and (not isinstance(redirect, str) or not redirect.startswith(("http://", "https://"))):
        raise ApiError(400, "BAD_REQUEST", "paymentFlow.merchantUrls.redirectUrl must be an http(s) URL")
    return mid, amount, expire_after, meta, redirect


def validate_meta_info(raw: Any) -> dict[str, str]:
    """PhonePe's ``metaInfo`` rules (missing or null is none): udf1-10 up to 256 characters,
    udf11-15 up to 50 of a restricted set; the first problem is a 400 BAD_REQUEST."""
    meta = raw or {}
    if not isinstance(meta, dict):
        raise ApiError(400, "BAD_REQUEST", "metaInfo must be an object")
    for key, value in meta.items():
        match = _UDF_KEY_RE.fullmatch(str(key))
        if match is None or not isinstance(value, str):
            raise ApiError(400, "BAD_REQUEST", f"metaInfo.{key}: only udf1-udf15 strings are allowed")
        short = int(match.group(1)) > 10
        if len(value) > (UDF_SHORT_MAX if short else UDF_LONG_MAX) or (short and not _UDF_SHORT_RE.fullmatch(value)):
            raise ApiError(400, "BAD_REQUEST", f"metaInfo.{key}: too long or invalid characters")
    return dict(meta)


def create_app(
    suite: DevSuite | None = None,
    /,
    *,
    webhook_url: str | None = None,
    webhook_username: str | None = None,
    webhook_password: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    state_path: Path | None = None,
    clock: Clock | None = None,
    http: httpx.Client | None = None,
) -> PhonePeSimulator:
    """The simulator.  Called with keywords (tests) or, by the local dev server's
    ``DEV_MOUNTS``, with its ``DevSuite``: then the settings supply the webhook target
    (``<functions_base_url>/payment_webhook/``) and credentials, and state is kept
    under the suite's local folder."""
    if suite is not None:
        s = suite.settings
        return PhonePeSimulator(
            webhook_url=webhook_url or f"{s.functions_base_url.rstrip('/')}/payment_webhook/",
            webhook_username=webhook_username or s.phonepe_webhook_username,
            webhook_password=webhook_password or s.phonepe_webhook_password.get_secret_value(),
            client_id=client_id or s.phonepe_client_id,
            client_secret=client_secret or s.phonepe_client_secret.get_secret_value(),
            state_path=state_path or suite.state_path("phonepe", "state.json"),
            clock=clock or suite.container.clock,  # moves with /_dev/clock, as the backend's does
            http=http,
        )
    if None in (webhook_url, webhook_username, webhook_password, client_id, client_secret):
        raise TypeError("create_app needs webhook_url, webhook_username, webhook_password, client_id, client_secret")
    return PhonePeSimulator(
        webhook_url=str(webhook_url),
        webhook_username=str(webhook_username),
        webhook_password=str(webhook_password),
        client_id=str(client_id),
        client_secret=str(client_secret),
        state_path=state_path,
        clock=clock,
        http=http,
    )


__all__ = ["PhonePeSimulator", "SimOrder", "SimRefund", "WebhookPlan", "create_app"]
