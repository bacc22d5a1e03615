"""Supabase access tokens, verified locally with PyJWT (no call to Supabase per request).

Asymmetric tokens (ES256 / RS256) are checked against the project's JWKS
(cached, see ``lib.http.jwks``); legacy HS256 tokens against the shared
secret, only when one is configured.  An algorithm family that is not
configured is refused outright: an HS256 token is never checked against a
public key (the classic algorithm-confusion attack) and vice versa.
"""

from __future__ import annotations

from lib.config import Settings
from lib.domain.ids import canonical_uuid
from lib.http.jwks import JwksCache, JwksFetcher, http_fetch_jwks
from lib.http.principal import Principal
from lib.http.tokens import decode, key_for, token_error, unverified_header

ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "RS256"})  # what Supabase's signing keys use
SYMMETRIC_ALGORITHM = "HS256"  # the legacy project secret
REQUIRED_CLAIMS = ("aud", "iss", "exp", "iat", "sub", "role")
# Supabase's role for signed-in users; "anon" and "service_role" keys are not user sessions.
AUTHENTICATED_ROLE = "authenticated"


class SupabaseJwtVerifier:
    """``verify(token) -> Principal``; raises ``Unauthorized`` with a distinct code, or 503 without keys."""

    def __init__(
        self,
        *,
        audience: str,
        issuer: str,
        leeway_s: float,
        jwks: JwksCache | None,
        hs256_secret: str | None,
    ) -> None:
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_s
        self._jwks = jwks
        self._secret = hs256_secret or None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, fetcher: JwksFetcher = http_fetch_jwks, use_jwks: bool = True
    ) -> SupabaseJwtVerifier:
        """``use_jwks=False`` for a legacy project that signs with the HS256 secret only."""
        secret = settings.supabase_jwt_secret.get_secret_value() if settings.supabase_jwt_secret else None
        return cls(
            audience=settings.supabase_jwt_audience,
            issuer=settings.jwt_issuer,
            leeway_s=settings.jwt_leeway_s,
            jwks=JwksCache(settings.jwks_url, fetcher=fetcher) if use_jwks else None,
            hs256_secret=secret,
        )

    def verify(self, token: str) -> Principal:
        header = unverified_header(token)
        alg = header["alg"]
        key: object
        if alg == SYMMETRIC_ALGORITHM:
            if self._secret is None:
                raise token_error("token_alg_not_allowed", "HS256 tokens are not accepted.")
            key = self._secret
        elif alg in ASYMMETRIC_ALGORITHMS:
            if self._jwks is None:
                raise token_error("token_alg_not_allowed", f"{alg} tokens are not accepted.")
            key = key_for(self._jwks, header, alg)
        else:
            raise token_error("token_alg_not_allowed", f"{alg} tokens are not accepted.")
        claims = decode(
            token,
            key,
            alg=alg,
            audience=self._audience,
            issuer=self._issuer,
            leeway_s=self._leeway,
            require=REQUIRED_CLAIMS,
        )
        if claims["role"] != AUTHENTICATED_ROLE:
            raise token_error("token_bad_role", "The token is not a signed-in user's.")
        # Supabase gives anonymous sign-ins the same role; the product has no anonymous use, so they stop here.
        if claims.get("is_anonymous") is True:
            raise token_error("token_anonymous", "Anonymous sessions cannot use this API; sign in first.")
        user_id = canonical_uuid(claims["sub"]) if isinstance(claims["sub"], str) else None
        if user_id is None:
            raise token_error("token_bad_subject", "The token's subject is not a user id.")
        email = claims.get("email")
        return Principal(
            user_id=user_id,
            email=email if isinstance(email, str) else None,
            role=claims["role"],
            claims=claims,
        )
