"""What the HTTP layer needs from the composition root, as small protocols.

The composition root (``lib.bootstrap``) builds one ``HttpDeps`` per warm
instance and hands it, with the function's own typed dependencies, to the
function's ``Router`` as a ``Wiring``; tests build their own with fakes.  Any
field a function does not use may be ``None`` (a webhook needs no JWT
verifier); a route that needs a missing one fails with a logged 500 (a deploy
mistake) rather than running unprotected.  This module imports nothing from
the composition root: dependencies point inwards only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from lib.config import Settings
from lib.http.idempotency import IdempotencyStore
from lib.http.principal import Principal
from lib.http.ratelimit import RateDecision

AppT_co = TypeVar("AppT_co", covariant=True)


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


@dataclass(frozen=True)
class Wiring(Generic[AppT_co]):
    """What one function runs on: the HTTP layer's deps and the function's own (``ctx.app``)."""

    http: HttpDeps
    app: AppT_co
