"""Drive PhonePe's official Python SDK against a PhonePe stand-in, with the SDK's defaults.

Runs inside the SDK's own environment (``.venv/phonepe-sdk``, from
``tools/phonepe_sdk/requirements.lock``), never in the app's: it imports
nothing from this repository.  ``tests/integration/test_phonepe_official_sdk.py``
calls it twice:

    drive.py pay           '{"base": ..., "client_id": ..., "client_secret": ..., "merchant_order_id": ...}'
        pay with only the required arguments, then the order's status
    drive.py refund        '{... "merchant_order_id": ..., "merchant_refund_id": ..., "amount": ...}'
        refund, then the refund's status
    drive.py refund_status '{... "merchant_refund_id": ...}'
    drive.py validate      '{... "username": ..., "password": ..., "callbacks": [{"authorization": ..., "body": ...}]}'
        ``validate_callback`` on each webhook body: the parsed event and type of each

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


def validate(args: dict[str, Any]) -> list[dict[str, Any]]:
    client = _client(args)
    parsed = []
    for callback in args["callbacks"]:
        result = client.validate_callback(
            username=args["username"],
            password=args["password"],
            callback_header_data=callback["authorization"],
            callback_response_data=callback["body"],
        )
        parsed.append({"event": result.event, "type": getattr(result.type, "value", result.type)})
    return parsed


def main(argv: list[str]) -> int:
    command, raw = argv[1], argv[2]
    args = json.loads(raw)
    commands = {"pay": pay, "refund": refund, "refund_status": refund_status, "validate": validate}
    if command not in commands:
        print(f"unknown command {command!r}; one of {sorted(commands)}", file=sys.stderr)
        return 2
    result = commands[command](args)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
