"""A dev-only stand-in for Supabase Auth: a local signing key, its JWKS, and a token endpoint.

The functions verify Supabase access tokens exactly as in production (ES256
through the project's JWKS); locally the JWKS and the tokens come from here.
``POST /_dev/token {email, name?}`` signs the user up the way Supabase does
(a row in ``auth.users`` with ``raw_user_meta_data.full_name``; the sign-up
trigger from the migrations then creates the ``users`` row, a workspace and
the owner membership) or reuses the user with that email, and answers
``{access_token, user_id, workspace_id}``.

The key pair is generated once and kept in ``<local_dir>/auth/jwk.json`` so
tokens survive a restart of ``make dev``; tests keep it in memory.  Nothing
here runs unless ``APP_ENV`` is local/test and ``DEV_ROUTES`` is on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from werkzeug.wrappers import Request, Response

from lib.config import AppEnv, Settings
from lib.errors import AppError, BadRequest, FieldError, MethodNotAllowed, NotFound, ServiceUnavailable, Unprocessable
from lib.http.context import parse_json_object
from lib.http.problem import problem_response
from lib.ports import Database

# Supabase's default access-token lifetime.
TOKEN_TTL_S = 3600
ALGORITHM = "ES256"
# Where the JWKS lives under SUPABASE_URL (the path Supabase serves it at).
JWKS_PATH = "/auth/v1/.well-known/jwks.json"
# Verifiers may cache the JWKS this long; the key only changes when .local/ is wiped.
JWKS_MAX_AGE_S = 300
# Supabase limits emails to 255 characters (auth.users.email is varchar(255)).
MAX_EMAIL_LEN = 255
MAX_NAME_LEN = 200
# Deliberately loose: Supabase's own check is "something@something.tld".
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ALLOWED_ENVS = frozenset({AppEnv.LOCAL, AppEnv.TEST})

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class DevRoutesRefused(RuntimeError):
    """Dev routes were asked for outside local/test, or with DEV_ROUTES off."""


def ensure_dev_routes(settings: Settings) -> None:
    """Raise ``DevRoutesRefused`` unless this is a local/test run with dev routes enabled."""
    if settings.app_env not in _ALLOWED_ENVS or not settings.dev_routes:
        raise DevRoutesRefused(
            f"dev routes need APP_ENV=local|test and DEV_ROUTES=true (got {settings.app_env}, "
            f"dev_routes={settings.dev_routes})"
        )


@dataclass(frozen=True)
class SigningKey:
    """An ES256 key pair and its key id."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_private(cls, private_key: ec.EllipticCurvePrivateKey) -> SigningKey:
        public = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        # RFC 7638 thumbprint: stable for a key, different for another.
        canonical = json.dumps({k: public[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
        kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
        return cls(kid=kid, private_key=private_key)

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig", "key_ops": ["verify"]}


def load_or_create_key(path: Path | None) -> SigningKey:
    """The key kept at ``path`` (created 0600 on first use); a fresh in-memory key when ``path`` is None."""
    if path is None:
        return SigningKey.generate()
    if path.exists():
        key = ECAlgorithm(ECAlgorithm.SHA256).from_jwk(path.read_text())
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} does not hold an EC private key")
        return SigningKey.from_private(key)
    signing = SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(ECAlgorithm.to_jwk(signing.private_key))
    os.replace(tmp, path)
    return signing


@dataclass(frozen=True)
class DevUser:
    user_id: str
    email: str
    full_name: str | None
    workspace_id: str
    created: bool


def _validate(body: dict[str, Any]) -> tuple[str, str | None]:
    email, name = body.get("email"), body.get("name")
    errors: list[FieldError] = []
    if not isinstance(email, str) or not _EMAIL_RE.match(email.strip()) or len(email.strip()) > MAX_EMAIL_LEN:
        errors.append(FieldError("email", "must be an email address"))
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LEN):
        errors.append(FieldError("name", f"must be a non-empty string of at most {MAX_NAME_LEN} characters"))
    if errors:
        raise Unprocessable("The sign-in request is invalid.", errors=errors)
    assert isinstance(email, str)
    return email.strip().lower(), name.strip() if isinstance(name, str) else None


class DevAuth:
    """Signs users up/in locally and issues Supabase-shaped access tokens."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        key_path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        ensure_dev_routes(settings)
        self._settings = settings
        self._db = db
        self._clock = clock
        self.key = load_or_create_key(key_path)

    # --- keys and tokens ------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.public_jwk()]}

    def issue_token(self, user: DevUser) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.supabase_jwt_audience,
            "sub": user.user_id,
            "role": "authenticated",
            "email": user.email,
            "phone": "",
            "iat": now,
            "exp": now + TOKEN_TTL_S,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {"full_name": user.full_name} if user.full_name else {},
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": now}],
            "session_id": str(uuid.uuid4()),
            "is_anonymous": False,
        }
        return jwt.encode(claims, self.key.private_key, algorithm=ALGORITHM, headers={"kid": self.key.kid})

    # --- users ----------------------------------------------------------------------
    def sign_in(self, email: str, name: str | None = None) -> DevUser:
        """The user with ``email`` (case-insensitive), created as Supabase sign-up would if absent."""
        email = email.strip().lower()
        with self._db.transaction() as conn:
            # Two first sign-ins with one email must not make two users.
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"dev_auth:{email}",))
            row = conn.execute(
                "select id, raw_user_meta_data ->> 'full_name' as full_name from auth.users"
                " where lower(email) = %s order by created_at limit 1",
                (email,),
            ).fetchone()
            created = row is None
            if row is None:
                meta = {"full_name": name} if name else {}
                row = conn.execute(
                    "insert into auth.users (email, raw_user_meta_data, raw_app_meta_data, email_confirmed_at,"
                    " last_sign_in_at) values (%s, %s::jsonb, %s::jsonb, now(), now())"
                    " returning id, raw_user_meta_data ->> 'full_name' as full_name",
                    (email, json.dumps(meta), json.dumps({"provider": "email", "providers": ["email"]})),
                ).fetchone()
            else:
                conn.execute("update auth.users set last_sign_in_at = now() where id = %s", (row["id"],))
            user_id = str(row["id"])
            ws = conn.execute(
                "select workspace_id from public.workspace_members where user_id = %s"
                " order by (role = 'owner') desc, created_at, workspace_id limit 1",
                (user_id,),
            ).fetchone()
        if ws is None:
            raise ServiceUnavailable(
                "The user has no workspace: is the sign-up trigger installed (run the migrations)?",
                code="signup_trigger_missing",
            )
        return DevUser(user_id, email, row["full_name"], str(ws["workspace_id"]), created)

    def token_for(self, email: str, name: str | None = None) -> dict[str, Any]:
        """What ``POST /_dev/token`` answers."""
        user = self.sign_in(email, name)
        return {
            "access_token": self.issue_token(user),
            "token_type": "bearer",
            "expires_in": TOKEN_TTL_S,
            "user_id": user.user_id,
            "workspace_id": user.workspace_id,
            "email": user.email,
            "created": user.created,
        }

    # --- WSGI -------------------------------------------------------------------------
    def token_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """``POST /`` (mounted at ``/_dev/token``)."""
        request = Request(environ)
        try:
            if request.path not in ("", "/"):
                raise NotFound("No such dev route.", code="route_not_found")
            if request.method != "POST":
                raise MethodNotAllowed("Use POST.", headers={"Allow": "POST"})
            raw = request.get_data()
            if not raw.strip():
                raise BadRequest("Send {email, name?} as JSON.", code="malformed_json")
            email, name = _validate(parse_json_object(raw))
            response: Response = _json(self.token_for(email, name), 200)
        except AppError as exc:
            response = problem_response(exc, None)
        return response(environ, start_response)

    def auth_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """``GET /auth/v1/.well-known/jwks.json`` (mounted at ``/_dev/auth``, i.e. under SUPABASE_URL)."""
        request = Request(environ)
        if request.path == JWKS_PATH and request.method in ("GET", "HEAD"):
            response = _json(self.jwks(), 200)
            response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_S}"
        else:
            response = problem_response(NotFound("No such auth route.", code="route_not_found"), None)
        return response(environ, start_response)


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
