"""Bearer extraction and PyJWT error mapping shared by the Supabase and OIDC verifiers.

Every way a token can be wrong gets its own stable ``code`` so a client (or
an on-call engineer reading logs) knows whether to refresh, re-login or fix
a configuration, without the response saying more than that.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Container, Sequence
from typing import Any, NoReturn

import jwt
from jwt.exceptions import InvalidSubjectError
from jwt.utils import base64url_decode

from lib.errors import ServiceUnavailable, Unauthorized
from lib.http.jwks import JwksCache, JwksUnavailable

# What a 503 tells the client to wait when the issuer's keys cannot be fetched.
KEYS_UNAVAILABLE_RETRY_AFTER_S = 5
# Anything longer is not a token we issued; refuse before parsing.
MAX_TOKEN_LEN = 8192


def token_error(code: str, detail: str) -> Unauthorized:
    """401 with RFC 6750's challenge; a missing token gets the bare challenge (no error code)."""
    challenge = 'Bearer realm="api"' if code == "token_missing" else 'Bearer error="invalid_token"'
    return Unauthorized(detail, code=code, headers={"WWW-Authenticate": challenge})


def bearer_token(authorization: str | None) -> str:
    """The token from ``Authorization: Bearer <token>``."""
    if not authorization or not authorization.strip():
        raise token_error("token_missing", "Send Authorization: Bearer <token>.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise token_error("token_malformed", "The Authorization header is not a Bearer token.")
    return token


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, parsed by hand: PyJWT's helper decodes the whole token (a quarter
    of the verification budget) just to read it; ``jwt.decode`` checks everything after."""
    if len(token) > MAX_TOKEN_LEN or token.count(".") != 2:
        raise token_error("token_malformed", "The token is not a JWT.")
    try:
        header = json.loads(base64url_decode(token.partition(".")[0]))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise token_error("token_malformed", "The token is not a JWT.") from exc
    if not isinstance(header, dict):
        raise token_error("token_malformed", "The token header is not a JSON object.")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise token_error("token_malformed", "The token header has no algorithm.")
    if alg.lower() == "none":
        raise token_error("token_alg_none", "Unsigned tokens are refused.")
    return header


def key_for(jwks: JwksCache, header: dict[str, Any], alg: str) -> Any:
    """The verification key named by the header's ``kid``, matching the header's ``alg``."""
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise token_error("token_malformed", "The token header has no key id.")
    try:
        jwk = jwks.get(kid)
    except JwksUnavailable as exc:
        raise ServiceUnavailable(
            "Token keys are unavailable; try again shortly.",
            code="auth_keys_unavailable",
            headers={"Retry-After": str(KEYS_UNAVAILABLE_RETRY_AFTER_S)},
        ) from exc
    if jwk is None:
        raise token_error("token_bad_signature", "The token was signed by an unknown key.")
    if jwk.algorithm_name != alg:
        # The kid names a key for another algorithm: the token cannot have been signed with it.
        raise token_error("token_bad_signature", "The token's algorithm does not match its key.")
    return jwk.key


def decode(
    token: str,
    key: Any,
    *,
    alg: str,
    audience: str,
    issuer: str | Container[str],
    leeway_s: float,
    require: Sequence[str],
) -> dict[str, Any]:
    """Verify signature and registered claims, mapping each PyJWT failure to its code."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=audience,
            issuer=issuer,
            leeway=leeway_s,
            options={"require": list(require), "verify_signature": True},
        )
    except jwt.InvalidSignatureError as exc:
        _fail("token_bad_signature", "The token signature does not verify.", exc)
    except jwt.ExpiredSignatureError as exc:
        _fail("token_expired", "The token has expired.", exc)
    except jwt.ImmatureSignatureError as exc:
        _fail("token_not_yet_valid", "The token is not valid yet.", exc)
    except jwt.InvalidAudienceError as exc:
        _fail("token_bad_audience", "The token is for another audience.", exc)
    except jwt.InvalidIssuerError as exc:
        _fail("token_bad_issuer", "The token is from another issuer.", exc)
    except jwt.MissingRequiredClaimError as exc:
        _fail("token_missing_claim", f"The token lacks the {exc.claim!r} claim.", exc)
    except jwt.InvalidAlgorithmError as exc:
        _fail("token_alg_not_allowed", "The token's algorithm is not accepted.", exc)
    except InvalidSubjectError as exc:
        _fail("token_bad_subject", "The token's subject is invalid.", exc)
    except (jwt.InvalidKeyError, jwt.PyJWKError) as exc:
        _fail("token_bad_signature", "The token cannot be verified with its key.", exc)
    except jwt.PyJWTError as exc:  # DecodeError, InvalidIssuedAtError, InvalidJTIError...
        _fail("token_malformed", "The token is malformed.", exc)


def _fail(code: str, detail: str, exc: Exception) -> NoReturn:
    raise token_error(code, detail) from exc
