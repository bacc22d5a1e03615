"""Google OIDC ID tokens for internal endpoints (Cloud Tasks and Cloud Scheduler callers).

Google signs these with RS256 keys published as a JWKS; this does what
``google.oauth2.id_token.verify_token`` does for that format (PyJWT against
the key set) but with the keys cached across requests, clock skew applied and
each failure mapped to its own code.  Locally the key set comes from the
local signer (``devtools.local.oidc_signer``) at ``settings.oidc_local_jwks_url``.
Beyond a valid signature the caller must be one of our invoker identities
with a verified email: any Google account can mint a token for our audience.
"""

from __future__ import annotations

from collections.abc import Iterable

from lib.config import Settings
from lib.http.jwks import JwksCache, JwksFetcher, http_fetch_jwks
from lib.http.principal import Principal
from lib.http.tokens import decode, key_for, token_error, unverified_header

# Google's signing keys in JWKS form (the same keys as the v1 PEM endpoint).
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
OIDC_ALGORITHM = "RS256"
REQUIRED_CLAIMS = ("aud", "iss", "exp", "iat", "sub", "email")
# Clock skew tolerated between Google's token minting and this instance.
OIDC_LEEWAY_S = 30
INTERNAL_ROLE = "internal"


class GoogleOidcVerifier:
    """``verify(token) -> Principal(role="internal")`` for an allowed invoker identity."""

    def __init__(
        self,
        *,
        audience: str | None,
        allowed_emails: Iterable[str],
        jwks: JwksCache,
        issuers: Iterable[str] = GOOGLE_ISSUERS,
        leeway_s: float = OIDC_LEEWAY_S,
        base_url: str = "",
    ) -> None:
        # A fixed audience (OIDC_AUDIENCE) or, when unset, the receiving
        # function's own URL ``<base_url>/<function>`` (what senders mint for).
        self._audience = audience
        self._base_url = base_url.rstrip("/")
        self._allowed = frozenset(e.strip().lower() for e in allowed_emails if e.strip())
        self._jwks = jwks
        self._issuers = tuple(issuers)
        self._leeway = leeway_s

    @classmethod
    def from_settings(cls, settings: Settings, *, fetcher: JwksFetcher = http_fetch_jwks) -> GoogleOidcVerifier:
        url = settings.oidc_local_jwks_url or GOOGLE_CERTS_URL
        return cls(
            audience=settings.oidc_audience,
            base_url=settings.functions_base_url,
            allowed_emails=[*settings.oidc_allowed_emails, settings.tasks_invoker_email],
            jwks=JwksCache(url, fetcher=fetcher),
        )

    def expected_audience(self, function: str | None) -> str:
        if self._audience:
            return self._audience
        return f"{self._base_url}/{function}" if function else self._base_url

    def verify(self, token: str, *, function: str | None = None) -> Principal:
        header = unverified_header(token)
        alg = header["alg"]
        if alg != OIDC_ALGORITHM:
            raise token_error("token_alg_not_allowed", f"{alg} is not Google's ID token algorithm.")
        key = key_for(self._jwks, header, alg)
        claims = decode(
            token,
            key,
            alg=alg,
            audience=self.expected_audience(function),
            issuer=self._issuers,
            leeway_s=self._leeway,
            require=REQUIRED_CLAIMS,
        )
        email = str(claims["email"]).lower()
        if claims.get("email_verified") is not True:
            raise token_error("token_email_unverified", "The caller's email is not verified.")
        if email not in self._allowed:
            raise token_error("token_email_not_allowed", "The caller may not invoke internal endpoints.")
        return Principal(user_id=str(claims["sub"]), email=email, role=INTERNAL_ROLE, claims=claims)
