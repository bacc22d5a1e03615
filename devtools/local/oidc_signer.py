"""A local stand-in for Google's OIDC token minting (local suite and tests only).

Cloud Tasks and Cloud Scheduler attach a Google-signed RS256 ID token to each
call; locally the dispatcher asks this signer for the same shape of token and
the dev server publishes ``jwks()`` at ``OIDC_LOCAL_JWKS_URL``, so internal
endpoints run the very same verification code as in production.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

# Google signs ID tokens with 2048-bit RSA keys.
RSA_KEY_BITS = 2048
# Google's ID tokens live one hour.
DEFAULT_TTL_S = 3600
ISSUER = "https://accounts.google.com"


class LocalOidcSigner:
    """Mints Google-style ID tokens with one RSA key; ``jwks()`` is what verifiers fetch."""

    def __init__(self, private_key: rsa.RSAPrivateKey | None = None, *, kid: str | None = None) -> None:
        self._key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
        self.kid = kid or f"local-{uuid.uuid4().hex[:12]}"

    @classmethod
    def load_or_create(cls, path: Path) -> LocalOidcSigner:
        """The signer whose key is stored at ``path`` (created on first use), so tokens survive restarts."""
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{path} does not hold an RSA private key")
            signer = cls(key, kid=f"local-{path.stem}")
        else:
            signer = cls(kid=f"local-{path.stem}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(signer.private_pem())
            path.chmod(0o600)
        return signer

    def private_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def jwks(self) -> dict[str, Any]:
        """The public key set, in the format of https://www.googleapis.com/oauth2/v3/certs."""
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def sign(
        self,
        audience: str,
        email: str,
        ttl: int = DEFAULT_TTL_S,
        *,
        email_verified: bool = True,
        now: float | None = None,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """An ID token as Cloud Tasks would send for a service account ``email``."""
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": audience,
            "azp": email,
            "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, email).int)[:21],
            "email": email,
            "email_verified": email_verified,
            "iat": issued,
            "exp": issued + ttl,
            **(extra_claims or {}),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
