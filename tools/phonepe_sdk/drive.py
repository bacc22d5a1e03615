"""Drive PhonePe's official Python SDK against a PhonePe stand-in, with the SDK's defaults.

Runs inside the SDK's own environment (``.venv/phonepe-sdk``, from
``tools/phonepe_sdk/requirements.lock``), never in the app's: it imports
nothing from this repository.  ``tests/integration/test_phonepe_official_sdk.py``
calls it with one command and its JSON arguments:

    drive.py pay           '{"base": ..., "client_id": ..., "client_secret": ..., "merchant_order_id": ...}'
        pay with only the required arguments, then the order's status
    drive.py refund        '{... "merchant_order_id": ..., "merchant_refund_id": ..., "amount": ...}'
        refund, then the refund's status
    drive.py refund_status '{... "merchant_refund_id": ...}'
    drive.py validate      '{... "username": ..., "password": ..., "callbacks": [{"authorization": ..., "body": ...}]}'
        ``validate_callback`` on each webhook body: the parsed event and type of each

The ``SubscriptionClient`` (UPI AutoPay), each call answered ``{"raw": <PhonePe's JSON>,
"parsed": <the SDK's model as JSON>}`` so a test can check that nothing was lost on the way:

    drive.py sub_setup     '{... "merchant_order_id", "merchant_subscription_id", "amount", "max_amount",
                            "frequency", "amount_type", "auth_workflow_type", "vpa"?}'
        setup (UPI_COLLECT with a vpa, UPI_INTENT without), then the order's and the subscription's status
    drive.py sub_notify    '{... "merchant_order_id", "merchant_subscription_id", "amount", "retry_strategy"?}'
        notify, then the order's status
    drive.py sub_redeem    '{... "merchant_order_id"}'
        redeem, then the order's and the transaction's status
    drive.py sub_status    '{... "merchant_subscription_id", "merchant_order_id"?}'
    drive.py sub_cancel    '{... "merchant_subscription_id"}'
        cancel, then the subscription's status
    drive.py sub_validate  '{... "username", "password", "callbacks": [...]}'
        ``SubscriptionClient.validate_callback``: event, type and payload of each, and the
        SUBSCRIPTION_* callback types the SDK knows

Each prints one JSON line with what the SDK returned.

The SDK only knows PhonePe's hosts: the two functions that name them are
pointed at ``base`` (the simulator's ``/apis/pg-sandbox``), which is all that
differs from a merchant's use of the SDK.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _point_at(base: str) -> None:
    from phonepe.sdk.pg.common import base_client
    from phonepe.sdk.pg.common.token_handler import token_service

    base_client.get_pg_base_url = lambda env: base  # type: ignore[attr-defined]
    base_client.get_pci_pg_base_url = lambda env: base  # type: ignore[attr-defined]
    token_service.get_oauth_base_url = lambda env: base  # type: ignore[attr-defined]


# PhonePe's answer to the SDK's last request, as text: the SDK keeps only what its models know.
_RAW: list[str] = []


def _record_raw() -> None:
    from phonepe.sdk.pg.common.http_client_modules.base_http_command import BaseHttpCommand

    original = BaseHttpCommand.handle_response

    def handle_response(response: Any) -> Any:
        _RAW.append(response.text)
        return original(response)

    BaseHttpCommand.handle_response = staticmethod(handle_response)  # type: ignore[method-assign]


def _client(args: dict[str, Any]) -> Any:
    from phonepe.sdk.pg.env import Env
    from phonepe.sdk.pg.payments.v2.standard_checkout_client import StandardCheckoutClient

    _point_at(args["base"])
    return StandardCheckoutClient.get_instance(
        client_id=args["client_id"],
        client_secret=args["client_secret"],
        client_version=int(args.get("client_version", 1)),
        env=Env.SANDBOX,
        should_publish_events=False,
    )


def _plain(value: Any) -> Any:
    """An SDK response object as JSON-ready data."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return getattr(value, "value", value)


def _wire(value: Any) -> Any:
    """An SDK model as the JSON it would send: enums as their values, camelCase keys."""
    return None if value is None else json.loads(value.to_json())


def _exchange(call: Any, *args: Any) -> dict[str, Any]:
    """One SDK call: PhonePe's JSON as it came, and what the SDK made of it."""
    _RAW.clear()
    parsed = call(*args)
    raw = _RAW[-1] if _RAW else ""
    return {"raw": json.loads(raw) if raw.strip() else None, "parsed": _wire(parsed)}


def _subscriptions(args: dict[str, Any]) -> Any:
    from phonepe.sdk.pg.env import Env
    from phonepe.sdk.pg.subscription.v2.subscription_client import SubscriptionClient

    _point_at(args["base"])
    _record_raw()
    return SubscriptionClient.get_instance(
        client_id=args["client_id"],
        client_secret=args["client_secret"],
        client_version=int(args.get("client_version", 1)),
        env=Env.SANDBOX,
        should_publish_events=False,
    )


def pay(args: dict[str, Any]) -> dict[str, Any]:
    from phonepe.sdk.pg.payments.v2.models.request.standard_checkout_pay_request import (
        StandardCheckoutPayRequest,
    )

    client = _client(args)
    mid = args["merchant_order_id"]
    # The SDK's defaults: no redirect URL, message, expiry or retry flag (it sends them as null).
    result = client.pay(
        StandardCheckoutPayRequest.build_request(merchant_order_id=mid, amount=args.get("amount", 10000))
    )
    return {"pay": _plain(result), "status": _plain(client.get_order_status(mid, details=False))}


def refund(args: dict[str, Any]) -> dict[str, Any]:
    from phonepe.sdk.pg.common.models.request.refund_request import RefundRequest

    client = _client(args)
    request = RefundRequest.build_refund_request(
        merchant_refund_id=args["merchant_refund_id"],
        amount=args.get("amount", 100),
        original_merchant_order_id=args["merchant_order_id"],
    )
    return {
        "refund": _plain(client.refund(request)),
        "status": _plain(client.get_refund_status(args["merchant_refund_id"])),
    }


def refund_status(args: dict[str, Any]) -> dict[str, Any]:
    return {"status": _plain(_client(args).get_refund_status(args["merchant_refund_id"]))}


def _validated(client: Any, args: dict[str, Any]) -> list[Any]:
    """Each of ``args["callbacks"]`` as the SDK's ``validate_callback`` parses it (it raises on a bad one)."""
    return [
        client.validate_callback(
            username=args["username"],
            password=args["password"],
            callback_header_data=callback["authorization"],
            callback_response_data=callback["body"],
        )
        for callback in args["callbacks"]
    ]


def validate(args: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"event": result.event, "type": getattr(result.type, "value", result.type)}
        for result in _validated(_client(args), args)
    ]


def sub_setup(args: dict[str, Any]) -> dict[str, Any]:
    from phonepe.sdk.pg.common.models.request.pg_payment_request import PgPaymentRequest
    from phonepe.sdk.pg.subscription.v2.models.request.amount_type import AmountType
    from phonepe.sdk.pg.subscription.v2.models.request.auth_workflow_type import AuthWorkflowType
    from phonepe.sdk.pg.subscription.v2.models.request.frequency import Frequency

    client = _subscriptions(args)
    common = {
        "merchant_order_id": args["merchant_order_id"],
        "merchant_subscription_id": args["merchant_subscription_id"],
        "amount": args.get("amount", 100),
        "max_amount": args.get("max_amount", 100),
        "auth_workflow_type": AuthWorkflowType(args.get("auth_workflow_type", "TRANSACTION")),
        "amount_type": AmountType(args.get("amount_type", "VARIABLE")),
        "frequency": Frequency(args.get("frequency", "ON_DEMAND")),
    }
    if args.get("vpa"):
        request = PgPaymentRequest.build_subscription_setup_upi_collect(vpa=args["vpa"], **common)
    else:
        request = PgPaymentRequest.build_subscription_setup_upi_intent(**common)
    return {
        "setup": _exchange(client.setup, request),
        "order_status": _exchange(client.get_order_status, args["merchant_order_id"]),
        "subscription_status": _exchange(client.get_subscription_status, args["merchant_subscription_id"]),
    }


def sub_notify(args: dict[str, Any]) -> dict[str, Any]:
    from phonepe.sdk.pg.common.models.request.pg_payment_request import PgPaymentRequest
    from phonepe.sdk.pg.subscription.v2.models.request.redemption_retry_strategy import RedemptionRetryStrategy

    client = _subscriptions(args)
    request = PgPaymentRequest.build_subscription_notify_request(
        merchant_order_id=args["merchant_order_id"],
        merchant_subscription_id=args["merchant_subscription_id"],
        amount=args.get("amount", 100),
        redemption_retry_strategy=RedemptionRetryStrategy(args.get("retry_strategy", "STANDARD")),
    )
    return {
        "notify": _exchange(client.notify, request),
        "order_status": _exchange(client.get_order_status, args["merchant_order_id"]),
    }


def sub_redeem(args: dict[str, Any]) -> dict[str, Any]:
    client = _subscriptions(args)
    redeemed = _exchange(client.redeem, args["merchant_order_id"])
    return {
        "redeem": redeemed,
        "order_status": _exchange(client.get_order_status, args["merchant_order_id"]),
        "transaction_status": _exchange(client.get_transaction_status, redeemed["parsed"]["transactionId"]),
    }


def sub_status(args: dict[str, Any]) -> dict[str, Any]:
    client = _subscriptions(args)
    result = {"subscription_status": _exchange(client.get_subscription_status, args["merchant_subscription_id"])}
    if args.get("merchant_order_id"):
        result["order_status"] = _exchange(client.get_order_status, args["merchant_order_id"])
    return result


def sub_cancel(args: dict[str, Any]) -> dict[str, Any]:
    client = _subscriptions(args)
    return {
        "cancel": _exchange(client.cancel_subscription, args["merchant_subscription_id"]),
        "subscription_status": _exchange(client.get_subscription_status, args["merchant_subscription_id"]),
    }


def sub_validate(args: dict[str, Any]) -> dict[str, Any]:
    from phonepe.sdk.pg.payments.v2.models.response.callback_type import CallbackType

    parsed = [
        {"event": result.event, "type": result.type.value, "payload": _wire(result.payload)}
        for result in _validated(_subscriptions(args), args)
    ]
    sdk_types = [t.value for t in CallbackType if t.value.startswith("SUBSCRIPTION_")]
    return {"callbacks": parsed, "sdk_types": sdk_types}


def main(argv: list[str]) -> int:
    command, raw = argv[1], argv[2]
    args = json.loads(raw)
    commands = {
        "pay": pay,
        "refund": refund,
        "refund_status": refund_status,
        "validate": validate,
        "sub_setup": sub_setup,
        "sub_notify": sub_notify,
        "sub_redeem": sub_redeem,
        "sub_status": sub_status,
        "sub_cancel": sub_cancel,
        "sub_validate": sub_validate,
    }
    if command not in commands:
        print(f"unknown command {command!r}; one of {sorted(commands)}", file=sys.stderr)
        return 2
    result: Any = commands[command](args)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
