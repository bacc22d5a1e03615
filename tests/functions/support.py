"""What the function tests share: the HTTP layer's test wiring and the process container.

Each test module keeps its own Settings and services; this module builds the
parts that must be the same everywhere: the real OIDC verifier trusting the
local signer, the real HS256 Supabase verifier, an in-memory rate limiter,
Supabase-shaped user tokens, and installing a container for the duration of a
fixture (the functions resolve their dependencies through ``lib.bootstrap``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from limits.storage import MemoryStorage

from devtools.local.oidc_signer import LocalOidcSigner
from lib import bootstrap
from lib.adapters.task_names import function_audience
from lib.config import Settings
from lib.http import HttpDeps
from lib.http.auth import SupabaseJwtVerifier
from lib.http.idempotency import PostgresIdempotencyStore
from lib.http.jwks import JwksCache
from lib.http.membership import MembershipResolver
from lib.http.oidc import GoogleOidcVerifier
from lib.http.ratelimit import RedisRateLimiter
from lib.ports import Database

AUDIENCE = "http://functions.test"
INVOKER = "tasks-invoker@bcm-test.iam.gserviceaccount.com"
# A user token's default lifetime: longer than any test module runs.
USER_TOKEN_TTL_S = 600


def local_oidc(settings: Settings, signer: LocalOidcSigner) -> GoogleOidcVerifier:
    """The real OIDC verifier with production's audience rule (each function accepts tokens minted
    for its own URL), trusting only the local signer's keys and the tasks invoker."""
    return GoogleOidcVerifier(
        audience=settings.oidc_audience,
        base_url=settings.functions_base_url,
        allowed_emails=[INVOKER],
        jwks=JwksCache("local-signer", fetcher=lambda _url: signer.jwks()),
    )


def task_token(signer: LocalOidcSigner, function: str) -> str:
    """An OIDC token as Cloud Tasks / Scheduler mint it for a call to ``function``."""
    return signer.sign(function_audience(f"{AUDIENCE}/{function}/"), INVOKER)


def http_deps(settings: Settings, signer: LocalOidcSigner, *, db: Database | None = None) -> HttpDeps:
    """User (HS256) and internal (local OIDC) verifiers and an in-memory rate limiter.

    With ``db``, also the Postgres membership resolver and idempotency store.
    """
    return HttpDeps(
        settings=settings,
        jwt=SupabaseJwtVerifier.from_settings(settings, use_jwks=False),
        oidc=local_oidc(settings, signer),
        rate_limiter=RedisRateLimiter(MemoryStorage),
        idempotency=None if db is None else PostgresIdempotencyStore(db),
        membership=None if db is None else MembershipResolver(db),
    )


def preset(container: bootstrap.Container, **built: Any) -> bootstrap.Container:
    """Fill ``container``'s cached properties (``http``, ``tasks``...) with test wiring before first use."""
    for name, value in built.items():
        if not isinstance(getattr(bootstrap.Container, name, None), bootstrap.built_once):
            raise AttributeError(f"Container has no cached property {name!r}")
        container.__dict__[name] = value
    return container


@contextmanager
def installed(container: bootstrap.Container) -> Iterator[bootstrap.Container]:
    """``container`` is the process container for the block; the previous one is put back after."""
    previous = bootstrap._container
    bootstrap.install(container)
    try:
        yield container
    finally:
        if previous is None:
            bootstrap.reset()
        else:
            bootstrap.install(previous)


def user_token(secret: str, *, sub: str, email: str, issuer: str | None = None, ttl_s: int = USER_TOKEN_TTL_S) -> str:
    """An HS256 Supabase access token (the legacy shared secret), as the auth server issues it."""
    now = int(time.time())
    claims = {
        "aud": "authenticated",
        "iss": issuer or Settings().jwt_issuer,
        "sub": sub,
        "role": "authenticated",
        "email": email,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
