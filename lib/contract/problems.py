"""Every problem ``code`` the functions answer with, and its status.

A route declares the codes its service can raise (``Router.route(problems=...)``);
``codes_for`` adds the ones the HTTP layer itself answers for that kind of route
(no such route, a body, a token, a rate limit, an Idempotency-Key).  The
OpenAPI document lists them per operation and status as the ``code`` enum.
"""

from __future__ import annotations

from collections.abc import Iterable

STATUS: dict[str, int] = {
    # the HTTP layer
    "malformed_json": 400,
    "idempotency_key_invalid": 400,
    "route_not_found": 404,
    "workspace_not_found": 404,
    "method_not_allowed": 405,
    "idempotency_in_flight": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "validation_failed": 422,
    "unstorable_value": 422,
    "idempotency_key_reused": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "service_unavailable": 503,
    "rate_limiter_unavailable": 503,
    "auth_keys_unavailable": 503,
    # tokens (lib.http.tokens, jwks, oidc)
    "token_missing": 401,
    "token_malformed": 401,
    "token_expired": 401,
    "token_not_yet_valid": 401,
    "token_bad_signature": 401,
    "token_bad_audience": 401,
    "token_bad_issuer": 401,
    "token_bad_role": 401,
    "token_bad_subject": 401,
    "token_missing_claim": 401,
    "token_alg_none": 401,
    "token_alg_not_allowed": 401,
    "token_anonymous": 401,
    "token_email_not_allowed": 401,
    "token_email_unverified": 401,
    # plans and subscriptions (lib.domain.subscriptions, lib.domain.payments)
    "subscription_inactive": 402,
    "plan_limit_reached": 429,
    "unknown_plan": 422,
    "unknown_billing_period": 422,
    "plan_not_purchasable": 422,
    "invalid_autopay": 422,
    "renewal_not_open": 409,
    "plan_change_not_available": 409,
    "autopay_not_available": 409,
    "change_not_schedulable": 409,
    "nothing_to_cancel": 409,
    "nothing_to_resume": 409,
    "subscription_not_found": 404,
    "payment_provider_unavailable": 503,
    "payment_provider_rejected": 503,
    "autopay_unavailable": 503,
    # orders, receipts, refunds, the webhook, the reconcile worker
    "order_not_found": 404,
    "receipt_not_found": 404,
    "invalid_receipt_number": 422,
    "receipts_unavailable": 503,
    "refund_not_found": 404,
    "invalid_refund": 422,
    "refund_exceeds_paid": 422,
    "order_not_refundable": 409,
    "refund_id_conflict": 409,
    "webhook_unauthorized": 401,
    "webhook_malformed": 400,
    "webhook_retry_later": 503,
    "bad_task": 400,
    # onboarding
    "session_not_found": 404,
    "step_not_found": 404,
    "session_not_active": 409,
    "version_conflict": 409,
    "session_expired": 410,
    "step_invalid": 422,
    "step_incomplete": 422,
    "no_ai_task": 422,
    "step_too_large": 413,
    "session_too_large": 413,
    "drafts_unavailable": 503,
    "tasks_unavailable": 503,
    # the BCM
    "manifest_not_found": 404,
    "steps_incomplete": 422,
}

TOKEN_CODES = tuple(code for code in STATUS if code.startswith("token_"))
# Answered for any request to any route.
EVERY_ROUTE = (
    "route_not_found",
    "method_not_allowed",
    "validation_failed",
    "unstorable_value",
    "internal_error",
    "service_unavailable",
)
# A route that reads a body: the bounded read; one that parses it as JSON (``ctx.json()``): the parse.
BODY = ("payload_too_large",)
JSON_BODY = ("malformed_json", "unsupported_media_type")
AUTHENTICATED = (*TOKEN_CODES, "auth_keys_unavailable")
RATE_LIMITED = ("rate_limited", "rate_limiter_unavailable")
IDEMPOTENT = ("idempotency_key_invalid", "idempotency_key_reused", "idempotency_in_flight")


def codes_for(
    *, declared: Iterable[str], body: bool, parses_json: bool, auth: str, rate: str | None, idempotent: bool
) -> dict[int, list[str]]:
    """Status -> the sorted problem codes one operation can answer with.

    ``declared``: what the route's own code raises (``workspace_not_found`` included when it
    resolves a workspace); ``body``: a method with a body (read, bounded); ``parses_json``: the
    handler parses it as a JSON object (not the webhook, which reads the raw bytes, nor a route
    that reads no body at all)."""
    codes = set(EVERY_ROUTE) | set(declared)
    if body:
        codes |= set(BODY)
        if parses_json:
            codes |= set(JSON_BODY)
    if auth in ("user", "internal"):
        codes |= set(AUTHENTICATED)
    if rate is not None:
        codes |= set(RATE_LIMITED)
    if idempotent:
        codes |= set(IDEMPOTENT)
    unknown = sorted(code for code in codes if code not in STATUS)
    if unknown:
        raise ValueError(f"problem codes without a status in lib.contract.problems.STATUS: {unknown}")
    by_status: dict[int, list[str]] = {}
    for code in sorted(codes):
        by_status.setdefault(STATUS[code], []).append(code)
    return by_status
