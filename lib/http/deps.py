"""What the HTTP layer needs from the composition root, as small protocols.

``lib.bootstrap.http_deps()`` builds one ``HttpDeps`` per warm instance; tests
build their own with fakes.  Any field a function does not use may be ``None``
(a webhook needs no JWT verifier); a route that needs a missing one fails
with a logged 500 (a deploy mistake) rather than running unprotected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from lib.config import Settings
from lib.http.context import Principal
from lib.http.idempotency import IdempotencyStore
from lib.http.ratelimit import RateDecision

if TYPE_CHECKING:
    from lib.bootstrap import Container


class TokenVerifier(Protocol):
    """Turns a Bearer token into a Principal or raises ``Unauthorized`` (503 if keys are unreachable)."""

    def verify(self, token: str) -> Principal: ...


class InternalVerifier(Protocol):
    """Like ``TokenVerifier``, for tokens minted for one receiving function's URL."""

    def verify(self, token: str, *, function: str | None = None) -> Principal: ...


class RateLimiterPort(Protocol):
    def check(self, function: str, rate_class: str, identity: str) -> RateDecision:
        """Count one hit; raises ``TooManyRequests`` / ``ServiceUnavailable``."""
        ...


class MembershipPort(Protocol):
    def resolve(self, user_id: str, requested: str | None) -> str:
        """The workspace id to use; ``NotFound(code="workspace_not_found")`` if not a member."""
        ...


@dataclass
class HttpDeps:
    """The HTTP layer's dependencies, built lazily once per instance."""

    settings: Settings
    jwt: TokenVerifier | None = None  # Supabase access tokens (auth="user")
    oidc: InternalVerifier | None = None  # Google OIDC ID tokens (auth="internal")
    rate_limiter: RateLimiterPort | None = None
    idempotency: IdempotencyStore | None = None
    membership: MembershipPort | None = None
    # The composition root's container for handlers (services, repositories); opaque here.
    container: Any = None


def build_http_deps(container: Container) -> HttpDeps:
    """Production wiring, called once per instance by ``lib.bootstrap``.

    Also configures JSON logging and registers the secrets the logger must scrub,
    since this runs on the first request of every function.
    """
    from lib.http.auth import SupabaseJwtVerifier
    from lib.http.idempotency import PostgresIdempotencyStore
    from lib.http.membership import MembershipResolver
    from lib.http.oidc import GoogleOidcVerifier
    from lib.http.ratelimit import RedisRateLimiter
    from lib.logs import configure_logging, register_secret

    settings = container.settings
    configure_logging(settings.log_level)
    register_secret(*secret_values(settings))
    return HttpDeps(
        settings=settings,
        jwt=SupabaseJwtVerifier.from_settings(settings),
        oidc=GoogleOidcVerifier.from_settings(settings),
        rate_limiter=RedisRateLimiter.from_settings(settings),
        idempotency=PostgresIdempotencyStore(container.db),
        membership=MembershipResolver(container.db),
        container=container,
    )


def secret_values(settings: Settings) -> list[str]:
    """Every secret in Settings, plus the webhook Authorization value derived from two of them."""
    values = [v.get_secret_value() for v in settings.model_dump().values() if isinstance(v, SecretStr)]
    user = settings.phonepe_webhook_username
    password = settings.phonepe_webhook_password.get_secret_value()
    values.append(hashlib.sha256(f"{user}:{password}".encode()).hexdigest())
    return [v for v in values if v]
