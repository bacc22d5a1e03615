"""A cached JSON Web Key Set, shared by Supabase JWT and Google OIDC verification.

Like PyJWKClient, but with the failure modes the HTTP layer needs: parsed key
objects are cached (verification then costs one signature check), an unknown
``kid`` triggers one refetch (key rotation) at most every few seconds (so
random kids cannot make us hammer the issuer), and an unreachable key
endpoint is ``JwksUnavailable`` (a 503, our problem) rather than a 401 (the
caller's), while stale keys keep serving if we have any.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

# Keys are re-read this often: Supabase and Google rotate with overlap of hours, not minutes.
JWKS_CACHE_TTL_S = 600.0
# An unknown kid refetches at most this often: a flood of forged kids costs one fetch per interval.
JWKS_MIN_REFETCH_INTERVAL_S = 10.0
# The key endpoint must answer quickly; a slow one must not hold the request.
JWKS_FETCH_TIMEOUT_S = 3.0

JwksFetcher = Callable[[str], Mapping[str, Any]]


class JwksUnavailable(Exception):
    """The key set cannot be fetched and nothing is cached."""


def http_fetch_jwks(url: str) -> Mapping[str, Any]:
    """GET the key set; any transport or format failure is ``JwksUnavailable``."""
    try:
        response = httpx.get(url, timeout=JWKS_FETCH_TIMEOUT_S, follow_redirects=False)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise JwksUnavailable(f"cannot fetch JWKS from {url}: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise JwksUnavailable(f"JWKS at {url} is not a JSON object")
    return data


def parse_jwks(data: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """kid -> parsed key; keys that are not for signatures or cannot be parsed are skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    for raw in data.get("keys") or []:
        if not isinstance(raw, dict) or raw.get("use", "sig") != "sig" or not raw.get("kid"):
            continue
        try:
            keys[str(raw["kid"])] = jwt.PyJWK(raw)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
            log.warning("skipping unusable JWK", extra={"kid": raw.get("kid"), "error": str(exc)})
    return keys


class JwksCache:
    """Thread-safe cache of one URL's keys."""

    def __init__(
        self,
        url: str,
        *,
        fetcher: JwksFetcher = http_fetch_jwks,
        ttl_s: float = JWKS_CACHE_TTL_S,
        min_refetch_s: float = JWKS_MIN_REFETCH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._fetcher = fetcher
        self._ttl = ttl_s
        self._min_refetch = min_refetch_s
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        """Fetch now (caller holds the lock); keep the old keys if the fetch fails."""
        self._attempted_at = self._clock()
        try:
            keys = parse_jwks(self._fetcher(self.url))
        except JwksUnavailable:
            if not self._keys:
                raise
            log.warning("JWKS refresh failed; serving cached keys", extra={"jwks_url": self.url})
            return
        except Exception as exc:  # a custom fetcher's own error type
            if not self._keys:
                raise JwksUnavailable(f"cannot fetch JWKS from {self.url}: {type(exc).__name__}") from exc
            log.warning("JWKS refresh failed; serving cached keys", extra={"jwks_url": self.url})
            return
        self._keys = keys
        self._fetched_at = self._attempted_at

    def get(self, kid: str) -> jwt.PyJWK | None:
        """The key for ``kid``, or ``None`` if the issuer does not have it (after one refetch)."""
        key = self._keys.get(kid)
        if key is not None and self._is_fresh():
            return key
        with self._lock:
            key = self._keys.get(kid)
            if key is not None and self._is_fresh():
                return key
            if self._attempted_at is not None and self._clock() - self._attempted_at < self._min_refetch:
                if not self._keys:
                    raise JwksUnavailable(f"JWKS from {self.url} unavailable (recent fetch failed)")
                return key  # a stale key, or None for a kid the issuer did not have a moment ago
            self._refresh()
            return self._keys.get(kid)

    def _is_fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl
