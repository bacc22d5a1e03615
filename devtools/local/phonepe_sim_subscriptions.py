"""PhonePe Subscriptions v2 (UPI AutoPay) in the simulator: mandates, pre-debit notices, redemptions.

Part of ``PhonePeSimulator``: it shares the simulator's lock, clock, ids, persistence, faults
and webhook sender, and is served under the same API prefix:

- ``POST .../subscriptions/v2/setup`` -> ``{orderId, state: PENDING, expireAt, intentUrl?}``;
  the mandate is ACTIVATION_IN_PROGRESS until the customer approves it (a script control);
- ``POST .../subscriptions/v2/notify`` -> ``{orderId, state: PENDING, expireAt}``; the notice
  reaches the customer at once (order NOTIFIED, ``validAfter`` = ``notifiedAt`` + 24 h);
- ``POST .../subscriptions/v2/redeem`` -> ``{transactionId, state: PENDING}``; the debit settles
  at once unless ``next-outcome`` holds it;
- ``GET .../subscriptions/v2/{merchantSubscriptionId}/status``,
  ``GET .../subscriptions/v2/order/{merchantOrderId}/status``,
  ``GET .../subscriptions/v2/transaction/{transactionId}/status``,
  ``POST .../subscriptions/v2/{merchantSubscriptionId}/cancel`` (200, empty body).

The rules: ids are 1-63 letters, digits, ``_`` or ``-`` and a merchantOrderId is used once
(checkout included); amounts are paise >= 100 and a notice never exceeds the mandate's
``maxAmount``; only an ACTIVE mandate is notified or redeemed; a redemption runs no earlier
than 24 h after its notice (RBI's pre-debit notification), by the injected clock, and no later
than the order's ``expireAt`` (default 48 h); notify and redeem are idempotent per
merchantOrderId (a repeat answers the order as it stands and sends nothing).  With the CUSTOM
retry strategy a failed debit leaves the order PENDING for another ``redeem``, up to four
attempts; with STANDARD (PhonePe retries itself) one failure ends it.  Every shape, state and
callback type is the official SDK's (``phonepe-pg-sdk-python`` 3.0.1); each callback's
``event`` is its type in lowercase with dots, as PhonePe names them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from devtools.local.phonepe_sim import (
    DEFAULT_EXPIRE_AFTER_S,
    DEFAULT_FAIL_CODE,
    DEFAULT_FAIL_DETAILED_CODE,
    EXPIRED_DETAILED_CODE,
    EXPIRED_ERROR_CODE,
    MIN_AMOUNT_PAISE,
    NOT_FOUND_CODE,
    ApiError,
    WebhookPlan,
    _json,
    _webhook_plan,
    validate_meta_info,
)
from lib.domain.payments import MERCHANT_ID_RE

if TYPE_CHECKING:
    from devtools.local.phonepe_sim import PhonePeSimulator

SETUP_FLOW, REDEMPTION_FLOW = "SUBSCRIPTION_SETUP", "SUBSCRIPTION_REDEMPTION"
FREQUENCIES = frozenset(
    {"DAILY", "WEEKLY", "MONTHLY", "YEARLY", "FORTNIGHTLY", "BIMONTHLY", "ON_DEMAND", "QUARTERLY", "HALFYEARLY"}
)
AMOUNT_TYPES = frozenset({"FIXED", "VARIABLE"})
AUTH_WORKFLOW_TYPES = frozenset({"TRANSACTION", "PENNY_DROP"})
RETRY_STRATEGIES = frozenset({"STANDARD", "CUSTOM"})
SETUP_PAYMENT_MODES = frozenset({"UPI_INTENT", "UPI_COLLECT"})
REDEMPTION_PAYMENT_MODE = "UPI_AUTO_PAY"
# RBI's pre-debit notification: the debit may run this long after the customer was told.
PRE_DEBIT_NOTICE_MS = 24 * 3600 * 1000
# A redemption order's default ``expireAt``: PhonePe's window to reach a final state.
NOTIFY_EXPIRY_MS = 48 * 3600 * 1000
# CUSTOM retries: one attempt and three retries.
CUSTOM_MAX_ATTEMPTS = 4
# The simulator's choices where PhonePe documents none: a mandate without ``expireAt`` lasts
# ten years, a pause without ``until`` thirty days.
DEFAULT_MANDATE_TTL_MS = 10 * 365 * 24 * 3600 * 1000
DEFAULT_PAUSE_MS = 30 * 24 * 3600 * 1000
SUBSCRIPTION_NOT_FOUND_CODE = "SUBSCRIPTION_NOT_FOUND"
NOTIFICATION_FAIL_CODE = "NOTIFICATION_FAILED"
# Mandate states.
ACTIVATION_IN_PROGRESS, ACTIVE, PAUSED = "ACTIVATION_IN_PROGRESS", "ACTIVE", "PAUSED"
REVOKED, CANCELLED, FAILED, EXPIRED = "REVOKED", "CANCELLED", "FAILED", "EXPIRED"
# Order and transaction states.
PENDING, NOTIFIED, COMPLETED = "PENDING", "NOTIFIED", "COMPLETED"
FINAL_ORDER_STATES = frozenset({COMPLETED, FAILED})
# What the customer (or PhonePe's dashboard) does to a mandate: from which states, to which, the callback.
MANDATE_MOVES: dict[str, tuple[frozenset[str], str, str]] = {
    "pause": (frozenset({ACTIVE}), PAUSED, "subscription.paused"),
    "unpause": (frozenset({PAUSED}), ACTIVE, "subscription.unpaused"),
    "revoke": (frozenset({ACTIVE, PAUSED}), REVOKED, "subscription.revoked"),
    "cancel": (frozenset({ACTIVE, PAUSED}), CANCELLED, "subscription.cancelled"),
}
# Scripted outcomes ``next-outcome`` accepts, per operation.
OUTCOMES = {"notify": frozenset({"fail"}), "redeem": frozenset({"fail", "pending"})}

Callback = tuple[str, dict[str, Any]]


@dataclass
class SimMandate:
    merchant_subscription_id: str
    subscription_id: str
    auth_workflow_type: str
    amount_type: str
    max_amount: int
    frequency: str
    expire_at: int  # epoch ms
    setup_order: str  # its setup order's merchantOrderId
    state: str = ACTIVATION_IN_PROGRESS
    pause_start_date: int | None = None
    pause_end_date: int | None = None


@dataclass
class SimSubOrder:
    """A setup or redemption order; ``transactions`` are its attempts (``paymentDetails``)."""

    merchant_order_id: str
    order_id: str
    flow: str
    merchant_subscription_id: str
    amount: int
    expire_at: int  # epoch ms
    created_at: int
    payment_mode: str
    meta_info: dict[str, str] = field(default_factory=dict)
    state: str = PENDING
    error_code: str | None = None
    detailed_error_code: str | None = None
    transactions: list[dict[str, Any]] = field(default_factory=list)
    retry_strategy: str | None = None
    auto_debit: bool | None = None
    notified_at: int | None = None
    valid_after: int | None = None
    valid_upto: int | None = None
    refunded: int = 0


class SubscriptionDesk:
    """The mandates, their orders and the scripted outcomes, kept by one ``PhonePeSimulator``."""

    def __init__(self, sim: PhonePeSimulator) -> None:
        self.sim = sim
        self.mandates: dict[str, SimMandate] = {}
        self.orders: dict[str, SimSubOrder] = {}
        self.outcomes: dict[str, deque[tuple[str, str | None]]] = {}
        self.follow_up_plan = WebhookPlan("deliver")

    @staticmethod
    def rules(api: str) -> list[Rule]:
        subs = f"{api}/subscriptions/v2"
        actions = "any(approve, decline, pause, unpause, revoke, cancel)"
        return [
            Rule(f"{subs}/setup", endpoint="subs.setup", methods=["POST"]),
            Rule(f"{subs}/notify", endpoint="subs.notify", methods=["POST"]),
            Rule(f"{subs}/redeem", endpoint="subs.redeem", methods=["POST"]),
            Rule(f"{subs}/order/<mid>/status", endpoint="subs.order_status", methods=["GET"]),
            Rule(f"{subs}/transaction/<tid>/status", endpoint="subs.transaction_status", methods=["GET"]),
            Rule(f"{subs}/<msid>/status", endpoint="subs.status", methods=["GET"]),
            Rule(f"{subs}/<msid>/cancel", endpoint="subs.cancel", methods=["POST"]),
            Rule("/mandates", endpoint="subs.list", methods=["GET"]),
            Rule("/mandates/<msid>", endpoint="subs.get_mandate", methods=["GET"]),
            Rule(f"/mandates/<msid>/<{actions}:action>", endpoint="subs.mandate_action", methods=["POST"]),
            Rule(
                "/redemptions/<mid>/<any(complete, fail):action>", endpoint="subs.redemption_action", methods=["POST"]
            ),
            Rule("/_control/next-outcome", endpoint="subs.next_outcome", methods=["POST"]),
            Rule("/_control/subscription-webhooks", endpoint="subs.follow_up_plan", methods=["POST"]),
        ]

    # --- state ------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {
            "mandates": {k: asdict(v) for k, v in self.mandates.items()},
            "subscription_orders": {k: asdict(v) for k, v in self.orders.items()},
        }

    def load(self, data: Mapping[str, Any]) -> None:
        self.mandates = {k: SimMandate(**v) for k, v in data.get("mandates", {}).items()}
        self.orders = {k: SimSubOrder(**v) for k, v in data.get("subscription_orders", {}).items()}

    def reset(self) -> None:
        self.mandates.clear()
        self.orders.clear()
        self.outcomes.clear()
        self.follow_up_plan = WebhookPlan("deliver")

    def _mandate(self, msid: str) -> SimMandate:
        with self.sim._lock:
            mandate = self.mandates.get(msid)
            if mandate is None:
                raise ApiError(
                    400, SUBSCRIPTION_NOT_FOUND_CODE, "No subscription found for this merchantSubscriptionId"
                )
            self._refresh_mandate(mandate)
            return mandate

    def _order(self, mid: str) -> SimSubOrder:
        with self.sim._lock:
            order = self.orders.get(mid)
            if order is None:
                raise ApiError(400, NOT_FOUND_CODE, "No order found for this merchantOrderId")
            self._refresh_order(order)
            return order

    def _refresh_mandate(self, mandate: SimMandate) -> None:
        """Apply what time did: a setup left unapproved fails, a pause ends, a mandate expires."""
        now = self.sim._now_ms()
        if mandate.state == ACTIVATION_IN_PROGRESS:
            setup = self.orders.get(mandate.setup_order)
            if setup is not None:
                self._refresh_order(setup)
        if mandate.state == PAUSED and mandate.pause_end_date is not None and now >= mandate.pause_end_date:
            mandate.state, mandate.pause_start_date, mandate.pause_end_date = ACTIVE, None, None
            self.sim._save()
        if mandate.state in (ACTIVE, PAUSED) and now >= mandate.expire_at:
            mandate.state = EXPIRED
            self.sim._save()

    def _refresh_order(self, order: SimSubOrder) -> None:
        """An order still open at ``expireAt`` with no debit in flight fails as PhonePe's do."""
        in_flight = bool(order.transactions) and order.transactions[-1]["state"] == PENDING
        if order.state in FINAL_ORDER_STATES or in_flight or self.sim._now_ms() < order.expire_at:
            return
        order.state, order.error_code, order.detailed_error_code = FAILED, EXPIRED_ERROR_CODE, EXPIRED_DETAILED_CODE
        mandate = self.mandates.get(order.merchant_subscription_id)
        if order.flow == SETUP_FLOW and mandate is not None and mandate.state == ACTIVATION_IN_PROGRESS:
            mandate.state = FAILED
        self.sim._save()

    def _next_outcome(self, op: str) -> tuple[str, str | None]:
        queue = self.outcomes.get(op)
        return queue.popleft() if queue else ("complete", None)

    # --- PhonePe's JSON ---------------------------------------------------------------------

    @staticmethod
    def mandate_body(mandate: SimMandate) -> dict[str, Any]:
        return {
            "merchantSubscriptionId": mandate.merchant_subscription_id,
            "subscriptionId": mandate.subscription_id,
            "state": mandate.state,
            "authWorkflowType": mandate.auth_workflow_type,
            "amountType": mandate.amount_type,
            "maxAmount": mandate.max_amount,
            "frequency": mandate.frequency,
            "expireAt": mandate.expire_at,
            "pauseStartDate": mandate.pause_start_date,
            "pauseEndDate": mandate.pause_end_date,
        }

    def order_body(self, order: SimSubOrder, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The order status answer, which is also every order callback's payload."""
        if order.flow == SETUP_FLOW:
            mandate = self.mandates[order.merchant_subscription_id]
            flow: dict[str, Any] = {
                "type": SETUP_FLOW,
                "merchantSubscriptionId": mandate.merchant_subscription_id,
                "authWorkflowType": mandate.auth_workflow_type,
                "amountType": mandate.amount_type,
                "maxAmount": mandate.max_amount,
                "frequency": mandate.frequency,
                "expireAt": mandate.expire_at,
                "subscriptionId": mandate.subscription_id,
            }
        else:
            flow = {
                "type": REDEMPTION_FLOW,
                "merchantSubscriptionId": order.merchant_subscription_id,
                "redemptionRetryStrategy": order.retry_strategy,
                "autoDebit": order.auto_debit,
                "validAfter": order.valid_after,
                "validUpto": order.valid_upto,
                "notifiedAt": order.notified_at,
            }
        body: dict[str, Any] = {
            "merchantId": self.sim.merchant_id,
            "merchantOrderId": order.merchant_order_id,
            "orderId": order.order_id,
            "state": order.state,
            "amount": order.amount,
            "expireAt": order.expire_at,
            "metaInfo": order.meta_info,
            "paymentFlow": flow,
            "paymentDetails": order.transactions if details is None else details,
        }
        if order.error_code:
            body["errorCode"], body["detailedErrorCode"] = order.error_code, order.detailed_error_code
        return body

    def _transaction(self, order: SimSubOrder) -> dict[str, Any]:
        return {
            "transactionId": self.sim._new_id("OM"),
            "paymentMode": order.payment_mode,
            "timestamp": self.sim._now_ms(),
            "amount": order.amount,
            "state": PENDING,
            "rail": {"type": "UPI"},
            "instrument": {"type": "ACCOUNT"},
        }

    # --- setup --------------------------------------------------------------------------------

    def _on_setup(self, request: Request) -> Response:
        self.sim._authorize(request)
        return self.sim._faulty("setup", lambda: self._setup(request))

    def _setup(self, request: Request) -> Response:
        body = _body(request)
        now = self.sim._now_ms()
        mid, amount = _merchant_id(body.get("merchantOrderId"), "merchantOrderId"), _paise(body, "amount")
        meta = validate_meta_info(body.get("metaInfo"))
        order_expire_at = _future_ms(body.get("expireAt"), now, default=now + DEFAULT_EXPIRE_AFTER_S * 1000)
        flow = _object(body.get("paymentFlow"), "paymentFlow")
        if flow.get("type") != SETUP_FLOW:
            raise ApiError(400, "BAD_REQUEST", f"paymentFlow.type must be {SETUP_FLOW}")
        msid = _merchant_id(flow.get("merchantSubscriptionId"), "paymentFlow.merchantSubscriptionId")
        auth = _choice(flow.get("authWorkflowType"), AUTH_WORKFLOW_TYPES, "paymentFlow.authWorkflowType")
        amount_type = _choice(flow.get("amountType"), AMOUNT_TYPES, "paymentFlow.amountType")
        frequency = _choice(flow.get("frequency"), FREQUENCIES, "paymentFlow.frequency")
        max_amount = _paise(flow, "maxAmount", field_name="paymentFlow.maxAmount")
        if max_amount < amount:
            raise ApiError(400, "BAD_REQUEST", "paymentFlow.maxAmount must be at least amount")
        mandate_expire_at = _future_ms(flow.get("expireAt"), now, default=now + DEFAULT_MANDATE_TTL_MS)
        mode = _object(flow.get("paymentMode"), "paymentFlow.paymentMode")
        mode_type = _choice(mode.get("type"), SETUP_PAYMENT_MODES, "paymentFlow.paymentMode.type")
        if mode_type == "UPI_COLLECT":
            details = _object(mode.get("details"), "paymentFlow.paymentMode.details")
            if details.get("type") != "VPA" or not isinstance(details.get("vpa"), str) or not details["vpa"]:
                raise ApiError(400, "BAD_REQUEST", "paymentFlow.paymentMode.details must be {type: VPA, vpa}")
        with self.sim._lock:
            if mid in self.orders or mid in self.sim.orders:
                raise ApiError(400, "BAD_REQUEST", "Duplicate merchantOrderId: check the order status instead")
            if msid in self.mandates:
                raise ApiError(400, "BAD_REQUEST", "Duplicate merchantSubscriptionId")
            order = SimSubOrder(mid, self.sim._new_id("OMO"), SETUP_FLOW, msid, amount, order_expire_at, now, mode_type)
            order.meta_info = meta
            self.orders[mid] = order
            self.mandates[msid] = SimMandate(
                msid, self.sim._new_id("OMS"), auth, amount_type, max_amount, frequency, mandate_expire_at, mid
            )
            self.sim._save()
        answer: dict[str, Any] = {"orderId": order.order_id, "state": PENDING, "expireAt": order.expire_at}
        if mode_type == "UPI_INTENT":
            answer["intentUrl"] = f"upi://mandate?tr={quote(order.order_id)}&am={amount / 100:.2f}&cu=INR"
        return _json(answer)

    # --- notify -------------------------------------------------------------------------------

    def _on_notify(self, request: Request) -> Response:
        self.sim._authorize(request)
        return self.sim._faulty("notify", lambda: self._notify(request))

    def _notify(self, request: Request) -> Response:
        body = _body(request)
        now = self.sim._now_ms()
        mid, amount = _merchant_id(body.get("merchantOrderId"), "merchantOrderId"), _paise(body, "amount")
        meta = validate_meta_info(body.get("metaInfo"))
        expire_at = _future_ms(body.get("expireAt"), now, default=now + NOTIFY_EXPIRY_MS)
        flow = _object(body.get("paymentFlow"), "paymentFlow")
        if flow.get("type") != REDEMPTION_FLOW:
            raise ApiError(400, "BAD_REQUEST", f"paymentFlow.type must be {REDEMPTION_FLOW}")
        msid = _merchant_id(flow.get("merchantSubscriptionId"), "paymentFlow.merchantSubscriptionId")
        strategy = _choice(
            flow.get("redemptionRetryStrategy"), RETRY_STRATEGIES, "paymentFlow.redemptionRetryStrategy", "STANDARD"
        )
        auto_debit = flow.get("autoDebit")
        if auto_debit is not None and not isinstance(auto_debit, bool):
            raise ApiError(400, "BAD_REQUEST", "paymentFlow.autoDebit must be a boolean")
        callbacks: list[Callback] = []
        with self.sim._lock:
            known = self.orders.get(mid)
            if known is not None:
                if (known.flow, known.merchant_subscription_id, known.amount) != (REDEMPTION_FLOW, msid, amount):
                    raise ApiError(400, "BAD_REQUEST", "Duplicate merchantOrderId with another request")
                self._refresh_order(known)
                return _json({"orderId": known.order_id, "state": known.state, "expireAt": known.expire_at})
            if mid in self.sim.orders:
                raise ApiError(400, "BAD_REQUEST", "Duplicate merchantOrderId: check the order status instead")
            mandate = self._mandate(msid)
            if mandate.state != ACTIVE:
                raise ApiError(400, "BAD_REQUEST", f"Subscription is {mandate.state}, not ACTIVE")
            if amount > mandate.max_amount:
                raise ApiError(400, "BAD_REQUEST", f"amount exceeds the subscription's maxAmount {mandate.max_amount}")
            order = SimSubOrder(
                mid, self.sim._new_id("OMO"), REDEMPTION_FLOW, msid, amount, expire_at, now, REDEMPTION_PAYMENT_MODE
            )
            order.meta_info, order.retry_strategy, order.auto_debit = meta, strategy, bool(auto_debit)
            self.orders[mid] = order
            outcome, error_code = self._next_outcome("notify")
            if outcome == "fail":
                order.state, order.error_code = FAILED, error_code or NOTIFICATION_FAIL_CODE
                callbacks.append(("subscription.notification.failed", self.order_body(order)))
            else:  # the notice reaches the customer now: the debit may run 24 h from now
                order.state, order.notified_at = NOTIFIED, now
                order.valid_after, order.valid_upto = now + PRE_DEBIT_NOTICE_MS, expire_at
                callbacks.append(("subscription.notification.completed", self.order_body(order)))
            self.sim._save()
        self._follow_up(callbacks)
        return _json({"orderId": order.order_id, "state": PENDING, "expireAt": order.expire_at})

    # --- redeem -------------------------------------------------------------------------------

    def _on_redeem(self, request: Request) -> Response:
        self.sim._authorize(request)
        return self.sim._faulty("redeem", lambda: self._redeem(request))

    def _redeem(self, request: Request) -> Response:
        mid = _merchant_id(_body(request).get("merchantOrderId"), "merchantOrderId")
        callbacks: list[Callback] = []
        with self.sim._lock:
            order = self._order(mid)
            if order.flow != REDEMPTION_FLOW:
                raise ApiError(400, "BAD_REQUEST", "Not a redemption order: notify first")
            last = order.transactions[-1] if order.transactions else None
            if last is not None and (last["state"] != FAILED or order.state in FINAL_ORDER_STATES):
                return _json({"transactionId": last["transactionId"], "state": last["state"]})
            if order.state not in (NOTIFIED, PENDING) or order.valid_after is None:
                raise ApiError(400, "BAD_REQUEST", f"Order is {order.state}: only a notified order can be redeemed")
            if self.sim._now_ms() < order.valid_after:
                raise ApiError(400, "BAD_REQUEST", "Too early: a redemption may run 24 h after its notification")
            mandate = self._mandate(order.merchant_subscription_id)
            if mandate.state != ACTIVE:
                raise ApiError(400, "BAD_REQUEST", f"Subscription is {mandate.state}, not ACTIVE")
            attempt = self._transaction(order)
            order.transactions.append(attempt)
            order.state = PENDING
            outcome, error_code = self._next_outcome("redeem")
            if outcome != "pending":
                callbacks = self._settle_attempt(order, attempt, outcome, error_code)
            self.sim._save()
        self._follow_up(callbacks)
        return _json({"transactionId": attempt["transactionId"], "state": PENDING})

    def _settle_attempt(
        self, order: SimSubOrder, attempt: dict[str, Any], outcome: str, error_code: str | None
    ) -> list[Callback]:
        """Finish one debit; the callbacks PhonePe sends for it (transaction, then order)."""
        attempt["timestamp"] = self.sim._now_ms()
        if outcome == "complete":
            attempt["state"] = order.state = COMPLETED
            order.error_code = order.detailed_error_code = None
            return [
                ("subscription.redemption.transaction.completed", self.order_body(order, [attempt])),
                ("subscription.redemption.order.completed", self.order_body(order)),
            ]
        attempt["state"] = FAILED
        attempt["errorCode"] = error_code or DEFAULT_FAIL_CODE
        attempt["detailedErrorCode"] = DEFAULT_FAIL_DETAILED_CODE
        callbacks: list[Callback] = []
        if order.retry_strategy != "CUSTOM" or len(order.transactions) >= CUSTOM_MAX_ATTEMPTS:
            order.state = FAILED
            order.error_code, order.detailed_error_code = attempt["errorCode"], attempt["detailedErrorCode"]
            callbacks.append(("subscription.redemption.order.failed", self.order_body(order)))
        callbacks.insert(0, ("subscription.redemption.transaction.failed", self.order_body(order, [attempt])))
        return callbacks

    # --- statuses and cancel ------------------------------------------------------------------

    def _on_status(self, request: Request, msid: str) -> Response:
        self.sim._authorize(request)
        return self.sim._faulty("subscription_status", lambda: _json(self.mandate_body(self._mandate(msid))))

    def _on_order_status(self, request: Request, mid: str) -> Response:
        self.sim._authorize(request)
        return self.sim._faulty("subscription_order_status", lambda: _json(self.order_body(self._order(mid))))

    def _on_transaction_status(self, request: Request, tid: str) -> Response:
        self.sim._authorize(request)
        return self.sim._faulty("subscription_transaction_status", lambda: self._transaction_status(tid))

    def _transaction_status(self, tid: str) -> Response:
        with self.sim._lock:
            for order in self.orders.values():
                attempt = next((t for t in order.transactions if t["transactionId"] == tid), None)
                if attempt is not None:
                    return _json(self.order_body(order, [attempt]))
        raise ApiError(400, NOT_FOUND_CODE, "No transaction found for this transactionId")

    def _on_cancel(self, request: Request, msid: str) -> Response:
        self.sim._authorize(request)
        return self.sim._faulty("cancel", lambda: self._cancel(msid))

    def _cancel(self, msid: str) -> Response:
        with self.sim._lock:
            mandate = self._mandate(msid)
            if mandate.state not in MANDATE_MOVES["cancel"][0]:
                raise ApiError(400, "BAD_REQUEST", f"Subscription is {mandate.state}: it cannot be cancelled")
            callback = self._move(mandate, "cancel")
        self._follow_up([callback])
        return Response(b"", status=200)

    def _move(self, mandate: SimMandate, action: str, *, until: int | None = None) -> Callback:
        _, to_state, event = MANDATE_MOVES[action]
        mandate.state = to_state
        if action == "pause":
            now = self.sim._now_ms()
            mandate.pause_start_date, mandate.pause_end_date = now, until or now + DEFAULT_PAUSE_MS
        elif action == "unpause":
            mandate.pause_start_date = mandate.pause_end_date = None
        self.sim._save()
        return event, self.mandate_body(mandate)

    # --- webhooks PhonePe sends on its own ---------------------------------------------------

    def _follow_up(self, callbacks: list[Callback]) -> None:
        """Send after the answer (on another thread), as PhonePe does, with the standing plan."""
        if callbacks:
            self.sim.later(0.0, self._deliver, callbacks, self.follow_up_plan)

    def _deliver(self, callbacks: list[Callback], plan: WebhookPlan) -> list[dict[str, Any]]:
        return [self.sim._send(event, payload, plan) for event, payload in callbacks]

    # --- script controls ----------------------------------------------------------------------

    def _on_mandate_action(self, request: Request, msid: str, action: str) -> Response:
        plan = _webhook_plan(request)
        until = request.args.get("until")
        if until is not None and not until.isdigit():
            raise ApiError(400, "BAD_REQUEST", "until must be epoch milliseconds")
        with self.sim._lock:
            mandate = self._mandate(msid)
            if action in ("approve", "decline"):
                callback = self._settle_setup(mandate, action, request.args.get("error_code"))
            else:
                if mandate.state not in MANDATE_MOVES[action][0]:
                    raise ApiError(409, "MANDATE_STATE", f"Subscription is {mandate.state}: cannot {action}")
                callback = self._move(mandate, action, until=int(until) if until else None)
        result = self._deliver([callback], plan)[0]
        return _json({"merchant_subscription_id": msid, "state": mandate.state, "webhook": result})

    def _settle_setup(self, mandate: SimMandate, action: str, error_code: str | None) -> Callback:
        order = self._order(mandate.setup_order)
        if mandate.state != ACTIVATION_IN_PROGRESS or order.state != PENDING:
            raise ApiError(409, "MANDATE_STATE", f"Subscription is {mandate.state}: its setup is over")
        attempt = self._transaction(order)
        order.transactions.append(attempt)
        if action == "approve":
            mandate.state, attempt["state"] = ACTIVE, COMPLETED
            order.state = COMPLETED
            event = "subscription.setup.order.completed"
        else:
            mandate.state, attempt["state"] = FAILED, FAILED
            attempt["errorCode"] = order.error_code = error_code or DEFAULT_FAIL_CODE
            attempt["detailedErrorCode"] = order.detailed_error_code = DEFAULT_FAIL_DETAILED_CODE
            order.state = FAILED
            event = "subscription.setup.order.failed"
        self.sim._save()
        return event, self.order_body(order)

    def _on_redemption_action(self, request: Request, mid: str, action: str) -> Response:
        plan = _webhook_plan(request)
        with self.sim._lock:
            order = self._order(mid)
            last = order.transactions[-1] if order.transactions else None
            if order.flow != REDEMPTION_FLOW or last is None or last["state"] != PENDING:
                raise ApiError(409, "NO_PENDING_REDEMPTION", "No redemption of this order is PENDING")
            outcome = "complete" if action == "complete" else "fail"
            callbacks = self._settle_attempt(order, last, outcome, request.args.get("error_code"))
            self.sim._save()
        return _json({"merchant_order_id": mid, "state": order.state, "webhooks": self._deliver(callbacks, plan)})

    def _on_next_outcome(self, request: Request) -> Response:
        op, outcome = request.args.get("op", ""), request.args.get("outcome", "fail")
        if outcome not in OUTCOMES.get(op, ()):
            raise ApiError(400, "BAD_REQUEST", "op=notify takes outcome=fail; op=redeem takes fail or pending")
        count = request.args.get("count", "1")
        if not count.isdigit():
            raise ApiError(400, "BAD_REQUEST", "count must be a number")
        with self.sim._lock:
            queue = self.outcomes.setdefault(op, deque())
            queue.extend([(outcome, request.args.get("error_code"))] * int(count))
            return _json({"op": op, "outcome": outcome, "pending": len(queue)})

    def _on_follow_up_plan(self, request: Request) -> Response:
        plan = _webhook_plan(request)
        with self.sim._lock:
            self.follow_up_plan = plan
        return _json({"webhook": asdict(plan)})

    def _on_list(self, request: Request) -> Response:
        with self.sim._lock:
            for mandate in self.mandates.values():
                self._refresh_mandate(mandate)
            return _json(
                {
                    "mandates": [asdict(m) for m in self.mandates.values()],
                    "orders": [asdict(o) for o in self.orders.values()],
                }
            )

    def _on_get_mandate(self, request: Request, msid: str) -> Response:
        with self.sim._lock:
            mandate = self._mandate(msid)
            orders = [asdict(o) for o in self.orders.values() if o.merchant_subscription_id == msid]
            return _json({"mandate": asdict(mandate), "orders": orders})


# --- request checks (the first problem is PhonePe's 400 BAD_REQUEST) ------------------------------


def _bad(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message)


def _body(request: Request) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object")
    return body


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{name} must be an object")
    return value


def _merchant_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not MERCHANT_ID_RE.fullmatch(value):
        raise _bad(f"{name}: 1-63 letters, digits, _ or -")
    return value


def _paise(body: Mapping[str, Any], key: str, *, field_name: str | None = None) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < MIN_AMOUNT_PAISE:
        raise _bad(f"{field_name or key} must be an integer >= {MIN_AMOUNT_PAISE} paise")
    return value


def _choice(value: Any, allowed: frozenset[str], name: str, default: str | None = None) -> str:
    """One of PhonePe's enum values (the official SDK sends an unset optional one as null)."""
    if value is None and default is not None:
        return default
    if value not in allowed:
        raise _bad(f"{name} must be one of {sorted(allowed)}")
    return str(value)


def _future_ms(value: Any, now: int, *, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value <= now:
        raise _bad("expireAt must be epoch milliseconds in the future")
    return value


__all__ = ["SimMandate", "SimSubOrder", "SubscriptionDesk"]
