"""The HTTP layer's cost over a bare functions_framework handler, and JWT verification.

``baseline.flask_raw`` (a bare handler through the functions_framework test
client) and ``baseline.pyjwt_hs256`` (PyJWT decoding an HS256 token with the
same claim checks) are what ``http.router_overhead`` (the same answer through
``lib.http.Router``) and ``http.jwt_verify`` (the container's verifier) are
compared with.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Generator
from pathlib import Path

from bench.harness import BenchContext, Operation, ScenarioSkipped, Target, scenario
from tools.functions import REPO

JWT_SECRET = "bench-jwt-secret-that-is-long-enough-for-hs256"  # a local signing key, not a credential
ISSUER = "http://127.0.0.1:8080/_dev/auth/auth/v1"
AUDIENCE = "authenticated"
# Our verifier wraps PyJWT: claims checks and Principal building may add a little, not multiples.
JWT_TARGET = Target(max_ratio=2.0)
# Target: "JWT verification alone <= 150 us" (Supabase's asymmetric keys, from a cached JWKS).
JWT_ES256_TARGET = Target(p50_ms=0.150)
# Router, problem+json and request context over a bare handler: must stay in the same order of magnitude.
HTTP_TARGET = Target(max_ratio=3.0)

_RAW_MAIN = "import functions_framework\n\n@functions_framework.http\ndef main(request):\n    return {'ok': True}\n"

# The same answer through lib.http's Router: request id, problem+json guard, CORS, access log; no auth.
_ROUTER_MAIN = """
import functions_framework
from lib.config import Settings
from lib.http import HttpDeps, Router

router = Router("bench", deps=HttpDeps(settings=Settings(app_env="test")))


@router.route("/", methods=["GET"], auth="none")
def ok(ctx):
    return {"ok": True}


@functions_framework.http
def main(request):
    return router.dispatch(request)
"""


def _token() -> str:
    import jwt

    now = int(time.time())
    claims: dict[str, str | int] = {"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}
    claims |= {"aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 3600, "email": "bench@example.com"}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _http_available() -> None:
    if not (REPO / "lib" / "http" / "__init__.py").exists():
        raise ScenarioSkipped("lib/http does not exist yet (INTEGRATOR: enable once it lands)")


@scenario("baseline.flask_raw", iterations=3000, warmup=100)
def flask_raw(ctx: BenchContext) -> Generator[Operation, None, None]:
    from functions_framework import create_app

    with tempfile.TemporaryDirectory(prefix="bench-raw-") as tmp:
        source = Path(tmp) / "main.py"
        source.write_text(_RAW_MAIN)
        client = create_app(target="main", source=str(source)).test_client()  # type: ignore[no-untyped-call]
        yield lambda: client.get("/")


@scenario("baseline.pyjwt_hs256", iterations=5000, warmup=200)
def pyjwt_hs256(ctx: BenchContext) -> Generator[Operation, None, None]:
    import jwt

    token = _token()
    yield lambda: jwt.decode(
        token,
        JWT_SECRET,
        algorithms=["HS256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "sub", "role"]},
        leeway=30,
    )


@scenario("http.jwt_verify", baseline="baseline.pyjwt_hs256", target=JWT_TARGET, iterations=5000, warmup=200)
def jwt_verify(ctx: BenchContext) -> Generator[Operation, None, None]:
    _http_available()
    from lib.bootstrap import Container
    from lib.config import Settings

    settings = Settings(app_env="test", supabase_jwt_secret=JWT_SECRET, supabase_url="http://127.0.0.1:8080/_dev/auth")
    verifier = Container(settings).http.jwt
    if verifier is None:
        raise ScenarioSkipped("the container builds no JWT verifier")
    token = _token()
    verifier.verify(token)  # fail in setup, not in the timed loop, if the token is refused
    yield lambda: verifier.verify(token)


@scenario("http.jwt_verify_es256", target=JWT_ES256_TARGET, iterations=5000, warmup=200)
def jwt_verify_es256(ctx: BenchContext) -> Generator[Operation, None, None]:
    """An ES256 access token checked against a JWKS already in the verifier's cache."""
    _http_available()
    import json

    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    from lib.config import Settings
    from lib.http.auth import SupabaseJwtVerifier

    key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": "bench", "alg": "ES256", "use": "sig"}
    settings = Settings(app_env="test", supabase_url="http://127.0.0.1:8080/_dev/auth")
    verifier = SupabaseJwtVerifier.from_settings(settings, fetcher=lambda _url: {"keys": [jwk]})
    now = int(time.time())
    claims: dict[str, object] = {"sub": "6f1c3a52-8d3e-4a51-9a7c-1f0e2d3c4b5a", "role": "authenticated"}
    claims |= {"aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 3600, "email": "bench@example.com"}
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "bench"})
    verifier.verify(token)  # fills the key cache; fails here, not in the timed loop, if refused
    yield lambda: verifier.verify(token)


@scenario("http.router_overhead", baseline="baseline.flask_raw", target=HTTP_TARGET, iterations=3000, warmup=100)
def router_overhead(ctx: BenchContext) -> Generator[Operation, None, None]:
    _http_available()
    from functions_framework import create_app

    with tempfile.TemporaryDirectory(prefix="bench-router-") as tmp:
        source = Path(tmp) / "main.py"
        source.write_text(_ROUTER_MAIN)
        client = create_app(target="main", source=str(source)).test_client()  # type: ignore[no-untyped-call]
        first = client.get("/")
        if first.status_code != 200:
            raise RuntimeError(f"the one-route function answered {first.status_code}: {first.get_data(as_text=True)}")
        yield lambda: client.get("/")
