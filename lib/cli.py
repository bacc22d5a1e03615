"""The operator's command line: ``python -m lib refund <merchant_order_id> --reason ...``.

It calls the deployed ``maintenance`` function's ``POST /refunds`` with a Google
ID token, exactly like Cloud Scheduler does, so the operator needs no database
or PhonePe credentials, only an identity listed in ``OIDC_ALLOWED_EMAILS``:

    python -m lib refund ORD123 --reason "charged twice" [--amount 49900]
        [--refund-id RF...] [--url https://<region>-<project>.cloudfunctions.net]

The token comes from ``--token`` or ``BCM_ID_TOKEN`` (e.g. ``gcloud auth
print-identity-token --impersonate-service-account=<ops SA> --audiences=<url>/maintenance
--include-email``), else from Application Default Credentials.  A new refund id
is made when none is given and printed first: to retry after a lost answer,
run the command again with ``--refund-id`` (the same request, never a second refund).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

import httpx

from lib.clock import SystemClock
from lib.domain.payments import new_merchant_refund_id

TIMEOUT_S = 30.0
TokenSource = Callable[[str], str]


def google_id_token(audience: str) -> str:
    """An ID token for ``audience`` from Application Default Credentials (a service account)."""
    import google.auth.transport.requests
    import google.oauth2.id_token

    token = google.oauth2.id_token.fetch_id_token(  # type: ignore[no-untyped-call]
        google.auth.transport.requests.Request(), audience
    )
    return str(token)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib", description="Operator commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    refund = sub.add_parser("refund", help="refund a paid order, in full or in part")
    refund.add_argument("merchant_order_id")
    refund.add_argument("--reason", required=True, help="why (kept with the refund, 1-500 characters)")
    refund.add_argument("--amount", type=int, default=None, help="paise; default: all that is left to refund")
    refund.add_argument("--refund-id", default=None, help="the refund's id, to retry an earlier request")
    refund.add_argument(
        "--url",
        default=os.environ.get("FUNCTIONS_BASE_URL", "http://127.0.0.1:8080"),
        help="the functions' base URL (default: FUNCTIONS_BASE_URL)",
    )
    refund.add_argument("--token", default=os.environ.get("BCM_ID_TOKEN"), help="a Google ID token (BCM_ID_TOKEN)")
    return parser


def main(
    argv: Sequence[str],
    *,
    token_source: TokenSource = google_id_token,
    http: httpx.Client | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Run one command; 0 when the refund was taken (whatever its state), 1 when it was refused."""
    args = _parser().parse_args(list(argv))
    audience = f"{args.url.rstrip('/')}/maintenance"
    refund_id = args.refund_id or new_merchant_refund_id(SystemClock().now())
    out(f"refund id: {refund_id}  (retry with --refund-id {refund_id})")
    body: dict[str, object] = {
        "merchant_order_id": args.merchant_order_id,
        "merchant_refund_id": refund_id,
        "reason": args.reason,
    }
    if args.amount is not None:
        body["amount_paise"] = args.amount
    token = args.token or token_source(audience)
    client = http or httpx.Client(timeout=TIMEOUT_S)
    try:
        response = client.post(f"{audience}/refunds", json=body, headers={"Authorization": f"Bearer {token}"})
    finally:
        if http is None:
            client.close()
    out(json.dumps(response.json() if response.content else {}, indent=2))
    return 0 if response.is_success else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
