"""Bad input never answers 500: each reproduction from the audit, then arbitrary input at every route.

Every function runs through functions-framework against the real local
services (Postgres, Valkey, the Firestore and Storage emulators); PhonePe and
Resend are the in-memory fakes so nothing leaves the machine.  "Nothing
written" is checked by counting the rows of every table before and after.
"""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.local.devserver import load_function_app
from devtools.local.services import ServiceSet
from lib.domain.payments import webhook_authorization
from lib.http import RouteSpec
from lib.testing.fake_payments import FakeGateway, FakeMailer
from tests.conftest import needs
from tests.functions.bcm_env import BcmEnv, User, build_env
from tests.functions.support import installed, preset, task_token
from tools.functions import function_names

TABLES = (
    "users",
    "workspaces",
    "workspace_members",
    "subscriptions",
    "payment_transactions",
    "webhook_events",
    "email_outbox",
    "idempotency_keys",
    "onboarding_sessions",
    "business_contexts",
    "bcm_manifests",
    "bcm_jobs",
)
# Scheduled jobs take no input: they are exercised by their own tests, not fuzzed here.
NOT_FUZZED = frozenset({"maintenance"})
PROBLEM = "application/problem+json"


@dataclass
class Env:
    stack: BcmEnv
    apps: dict[str, Any]
    user: User
    session_id: str
    webhook_header: str

    def counts(self) -> dict[str, int]:
        with self.stack.container.db.connection() as conn:
            return {
                table: int(conn.execute(f"select count(*) as n from public.{table}").fetchone()["n"])
                for table in TABLES
            }

    def call(self, function: str, method: str, path: str, **kw: Any) -> Any:
        return self.apps[function].test_client().open(path, method=method, **kw)

    def webhook(self, raw: bytes) -> Any:
        """A body at the webhook with PhonePe's valid Authorization header."""
        headers = {"Authorization": self.webhook_header}
        return self.call("payment_webhook", "POST", "/", data=raw, content_type="application/json", headers=headers)

    def as_user(self, function: str, method: str, path: str, **kw: Any) -> Any:
        headers = {**self.user.auth, **kw.pop("headers", {})}
        return self.call(function, method, path, headers=headers, **kw)


@pytest.fixture(scope="module")
def env(services: ServiceSet) -> Iterator[Env]:
    needs(services, "firestore")
    stack = build_env(services.env)
    preset(stack.container, phonepe=FakeGateway(), mailer=FakeMailer())
    with installed(stack.container):
        apps = {name: load_function_app(name) for name in function_names()}
        user = stack.sign_up()
        started = apps["onboarding_step"].test_client().post("/sessions", json={}, headers=user.auth)
        assert started.status_code == 201, started.get_data(as_text=True)
        settings_ = stack.settings
        header = webhook_authorization(
            settings_.phonepe_webhook_username, settings_.phonepe_webhook_password.get_secret_value()
        )
        yield Env(stack, apps, user, started.get_json()["session_id"], header)
    stack.container.db.close()


def assert_refused_without_writes(env: Env, act: Callable[[], Any], *, status: int | None = None) -> Any:
    before = env.counts()
    response = act()
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True))
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert env.counts() == before
    return response.get_json()


# ------------------------------------------------------------------ the reproductions


@pytest.mark.parametrize("form", ["urn:uuid:{}", "uuid:{}", "{{{}}}", "URN:UUID:{}"])
def test_f1_non_canonical_ids_are_unknown_never_500(env: Env, form: str) -> None:
    """Python's uuid.UUID accepts these spellings; Postgres does not.  The canonical form is what is used."""
    odd = form.format(env.session_id)
    for function, method, path in [
        ("finalize", "POST", f"/{odd}"),
        ("onboarding_step", "GET", f"/sessions/{odd}"),
        ("onboarding_step", "PUT", f"/sessions/{odd}/steps/1"),
        ("onboarding_step", "POST", f"/sessions/{odd}/steps/1/ai"),
    ]:
        before = env.counts()
        response = env.as_user(function, method, quote(path), json={"data": {}, "draft": True})
        assert response.status_code < 500, (path, response.get_data(as_text=True))
        if function == "finalize" or response.status_code >= 400:
            assert response.mimetype == PROBLEM
        if function == "finalize":  # incomplete session: refused, nothing written
            assert response.status_code in (404, 422)
            assert env.counts() == before


def test_f1_a_urn_spelling_reaches_the_same_session(env: Env) -> None:
    canonical = env.as_user("onboarding_step", "GET", f"/sessions/{env.session_id}")
    urn = env.as_user("onboarding_step", "GET", quote(f"/sessions/urn:uuid:{env.session_id}"))
    assert canonical.status_code == urn.status_code == 200
    assert urn.get_json()["session_id"] == env.session_id


@pytest.mark.parametrize("key", ["}", "{", "{0}", "a{b}c", "\udfff"])
def test_f2_user_keys_never_reach_a_format_string(env: Env, key: str) -> None:
    body = json.dumps({"data": {key: 1}, "draft": True})  # ensure_ascii: a lone surrogate travels as \udfff
    problem = assert_refused_without_writes(
        env,
        lambda: env.as_user(
            "onboarding_step",
            "PUT",
            f"/sessions/{env.session_id}/steps/1",
            data=body,
            content_type="application/json",
        ),
        status=422,
    )
    assert problem["errors"][0]["path"].startswith("data.")


@pytest.mark.parametrize(
    ("function", "method", "path", "body", "field"),
    [
        ("initiate_payment", "POST", "/", {"plan": "\u0000"}, "plan"),
        ("initiate_payment", "POST", "/", {"plan": "\ud800"}, "plan"),
        ("context", "POST", "/rebuild", {"reason": "a\u0000b"}, "reason"),
        ("onboarding_step", "POST", "/sessions", {"workspace_id": "\ud800"}, "workspace_id"),
        ("context", "POST", "/guardrails/check", {"text": "ok", "\u0000": 1}, "\\u0000"),
    ],
)
def test_f3_nul_and_lone_surrogates_in_bodies_are_422_naming_the_field(
    env: Env, function: str, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    problem = assert_refused_without_writes(
        env,
        lambda: env.as_user(function, method, path, data=json.dumps(body), content_type="application/json"),
        status=422,
    )
    assert problem["errors"][0]["path"] == field


def test_f3_nul_in_a_path_is_422_naming_the_parameter(env: Env) -> None:
    problem = assert_refused_without_writes(env, lambda: env.as_user("payment_status", "GET", "/ord%00x"), status=422)
    assert problem["errors"][0]["path"] == "merchant_order_id"


def test_f3_nul_in_a_query_is_422_naming_the_parameter(env: Env) -> None:
    problem = assert_refused_without_writes(
        env, lambda: env.as_user("context", "GET", "/manifest?workspace_id=a%00b"), status=422
    )
    assert problem["errors"][0]["path"] == "workspace_id"


@pytest.mark.parametrize(
    ("function", "path", "body"),
    [
        ("initiate_payment", "/", {"plan": "starter", "billing_period": "monthly", "note": "\ud800"}),
        ("context", "/rebuild", {"reason": "\ud800"}),
        ("finalize", "/{session}", {"x": "\ud800"}),
    ],
)
def test_f3_a_lone_surrogate_with_an_idempotency_key_is_422(
    env: Env, function: str, path: str, body: dict[str, Any]
) -> None:
    headers = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    target = path.format(session=env.session_id)
    before = env.counts()
    response = env.as_user(
        function, "POST", target, data=json.dumps(body), content_type="application/json", headers=headers
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    after = env.counts()
    # The refusal itself is what the key replays: that row is the only write.
    assert {t: n for t, n in after.items() if t != "idempotency_keys"} == {
        t: n for t, n in before.items() if t != "idempotency_keys"
    }
    assert after["idempotency_keys"] - before["idempotency_keys"] in (0, 1)


@pytest.mark.parametrize("limit", ["%C2%B2", "%D9%A3", "1e1", "-1", "0", "101", "9999999999"])
def test_f4_numbers_are_parsed_strictly(env: Env, limit: str) -> None:
    problem = assert_refused_without_writes(
        env, lambda: env.as_user("context", "GET", f"/version-history?limit={limit}"), status=422
    )
    assert problem["errors"][0]["path"] == "limit"


def test_f4_a_retry_count_header_that_is_not_ascii_digits_counts_as_zero(env: Env) -> None:
    token = task_token(env.stack.signer, "bcm_rebuild")
    response = env.call(
        "bcm_rebuild",
        "POST",
        "/",
        json={"job_id": str(uuid.uuid4())},
        headers={"Authorization": f"Bearer {token}", "X-CloudTasks-TaskRetryCount": "²"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event":"checkout.order.completed","payload":{"merchantOrderId":"a\x00b","state":"COMPLETED"}}',
        b'{"event":"checkout.order.completed","payload":{"merchantOrderId":"a\\u0000b","state":"COMPLETED"}}',
        b'{"event":"checkout.order.completed","payload":{"merchantOrderId":"\\ud800","state":"COMPLETED"}}',
        b'{"event":"checkout.order.\\u0000","payload":{}}',
    ],
)
def test_f5_a_webhook_body_that_cannot_be_stored_is_malformed_never_retried(env: Env, raw: bytes) -> None:
    before = env.counts()
    response = env.webhook(raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["code"] == "webhook_malformed"
    after = env.counts()
    assert after["webhook_events"] == before["webhook_events"] + 1  # kept in the ledger as malformed
    assert {t: n for t, n in after.items() if t != "webhook_events"} == {
        t: n for t, n in before.items() if t != "webhook_events"
    }
    again = env.webhook(raw)
    assert again.status_code == 400  # PhonePe's retry of the same body: the same answer, no new row
    assert env.counts() == after


def test_anonymous_sign_ins_are_refused(env: Env) -> None:
    from tests.functions.support import user_token

    claims_token = user_token(
        "bcm-functions-secret-that-is-long-enough-for-hs256",
        sub=env.user.id,
        email="anon@example.com",
        issuer=env.stack.settings.jwt_issuer,
    )
    import jwt

    claims = jwt.decode(claims_token, options={"verify_signature": False})
    anonymous = jwt.encode(
        {**claims, "is_anonymous": True}, "bcm-functions-secret-that-is-long-enough-for-hs256", algorithm="HS256"
    )
    response = env.call("context", "GET", "/manifest", headers={"Authorization": f"Bearer {anonymous}"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_anonymous"


@pytest.mark.parametrize("path", ["/sessions/a%0Ab", "/sessions/%0A/steps/1", "/x%0A"])
def test_a_newline_in_a_path_segment_is_a_problem_not_html(env: Env, path: str) -> None:
    response = env.as_user("onboarding_step", "GET", path)
    assert 400 <= response.status_code < 500
    assert response.mimetype == PROBLEM
    assert response.headers["X-Request-Id"]


@pytest.mark.parametrize("number", ["0", "24", "-1"])
def test_step_numbers_outside_1_to_23_are_404_problems(env: Env, number: str) -> None:
    assert_refused_without_writes(
        env,
        lambda: env.as_user("onboarding_step", "PUT", f"/sessions/{env.session_id}/steps/{number}", json={"data": {}}),
        status=404,
    )


# ----------------------------------------------------------------- arbitrary input

ANY_TEXT = st.text(st.characters(codec=None, categories=None, exclude_categories=()), max_size=24)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4), max_leaves=12
)
# Text that surely holds something awkward: NUL, lone surrogates, braces, non-ASCII digits, a newline.
NASTY_TEXT = st.builds(
    lambda head, odd, tail: head + odd + tail,
    ANY_TEXT,
    st.sampled_from(["\x00", "\ud800", "\udfff", "}", "{", "²", "\n", "urn:uuid:"]),
    ANY_TEXT,
)
KNOWN_KEYS = st.sampled_from(
    ["plan", "billing_period", "workspace_id", "data", "draft", "version", "reason", "text", "job_id", "step", "event"]
)
BODIES = (
    st.dictionaries(KNOWN_KEYS, NASTY_TEXT | JSON_VALUES, min_size=1, max_size=4)
    | st.dictionaries(KNOWN_KEYS | ANY_TEXT | NASTY_TEXT, JSON_VALUES, max_size=5)
    | JSON_VALUES
)


def _ids(env_session: str) -> st.SearchStrategy[str]:
    known = uuid.UUID(env_session)
    return st.one_of(
        st.uuids().map(str),
        st.just(env_session),
        st.sampled_from([known.urn, "{" + str(known) + "}", known.hex, str(known).upper(), f"uuid:{known}"]),
        ANY_TEXT.filter(bool),
        NASTY_TEXT,
        st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=70),
    )


def _routes() -> list[tuple[str, RouteSpec, str]]:
    from tools.openapi import load_routes

    out = []
    for function, specs in sorted(load_routes().items()):
        if function in NOT_FUZZED:
            continue
        for spec in specs:
            out.extend((function, spec, method) for method in spec.methods if method not in ("HEAD", "OPTIONS"))
    return out


ROUTES = _routes()


def _fill(rule: str, draw: st.DrawFn, ids: st.SearchStrategy[str]) -> str:
    import re

    def value(match: re.Match[str]) -> str:
        raw = str(draw(st.integers(min_value=-3, max_value=40))) if match.group(1).startswith("int") else draw(ids)
        return quote(raw, safe="", errors="surrogatepass")

    return re.sub(r"<([^>]*)>", value, rule)


@pytest.mark.parametrize(("function", "spec", "method"), ROUTES, ids=[f"{f}:{m}:{s.path}" for f, s, m in ROUTES])
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(data=st.data())
def test_arbitrary_input_is_never_a_5xx_and_a_refusal_writes_nothing(
    env: Env, function: str, spec: RouteSpec, method: str, data: st.DataObject
) -> None:
    path = _fill(spec.path, data.draw, _ids(env.session_id))
    names = st.sampled_from([*(q.name for q in spec.query), "x"])
    query = data.draw(st.dictionaries(names, ANY_TEXT | NASTY_TEXT, max_size=2))
    body = data.draw(BODIES)
    headers: dict[str, str] = {}
    if spec.auth == "user":
        headers.update(env.user.auth)
    elif spec.auth == "internal":
        headers["Authorization"] = f"Bearer {task_token(env.stack.signer, function)}"
    else:
        headers["Authorization"] = env.webhook_header
    if spec.idempotent and data.draw(st.booleans()):
        headers["Idempotency-Key"] = f"fuzz-{uuid.uuid4().hex}"
    target = path
    if query:
        target += "?" + "&".join(
            f"{quote(k, safe='')}={quote(v, safe='', errors='surrogatepass')}" for k, v in query.items()
        )
    before = env.counts()
    response = env.call(
        function, method, target, data=json.dumps(body), content_type="application/json", headers=headers
    )
    assert response.status_code < 500, (method, target, body, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert response.mimetype == PROBLEM, response.get_data(as_text=True)
        after = env.counts()
        # The writes a refusal may make: an Idempotency-Key stores the answer it replays, and the webhook
        # keeps a body it cannot use in its ledger as malformed (once per distinct body).
        allowed = {"idempotency_keys", "webhook_events"} if function == "payment_webhook" else {"idempotency_keys"}
        assert {t: n for t, n in after.items() if t not in allowed} == {
            t: n for t, n in before.items() if t not in allowed
        }
