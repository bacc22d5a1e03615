"""The layer that checks every function and e2e response against docs/openapi.json catches what it must."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Response
from werkzeug.test import EnvironBuilder

from lib.http.router import Router
from tests.contract_conformance import mismatches
from tools.openapi import load_function

STATUS = {
    "merchant_order_id": "ord_1",
    "state": "PENDING",
    "amount": 49900,
    "currency": "INR",
    "plan": "starter",
    "billing_period": "monthly",
    "subscription": None,
    "updated_at": "2026-12-05T19:35:00+00:00",
    "poll_after_ms": 2000,
}
PROBLEM = {"type": "urn:bcm:problem:x", "title": "Not found", "status": 404, "detail": "No.", "request_id": "r"}


@pytest.fixture(scope="module")
def router() -> Router[Any]:
    loaded: Router[Any] = load_function("payment_status").router
    return loaded


def _check(router: Router[Any], body: Any, status: int, media: str, path: str = "/ord_1") -> list[str]:
    request = EnvironBuilder(path=path, method="GET").get_request()
    return mismatches(router, request, Response(json.dumps(body), status=status, content_type=media))


def test_a_documented_answer_passes(router: Router[Any]) -> None:
    assert _check(router, STATUS, 200, "application/json") == []
    assert _check(router, {**PROBLEM, "code": "order_not_found"}, 404, "application/problem+json") == []


def test_an_undocumented_field_fails(router: Router[Any]) -> None:
    (found,) = _check(router, {**STATUS, "extra": 1}, 200, "application/json")
    assert "'extra' was unexpected" in found


def test_a_missing_field_or_a_wrong_type_fails(router: Router[Any]) -> None:
    assert _check(router, {k: v for k, v in STATUS.items() if k != "state"}, 200, "application/json")
    assert _check(router, {**STATUS, "amount": "49900"}, 200, "application/json")


def test_an_undocumented_status_or_media_type_fails(router: Router[Any]) -> None:
    assert "status 201 is not documented" in _check(router, STATUS, 201, "application/json")[0]
    assert "media type 'text/plain'" in _check(router, STATUS, 200, "text/plain")[0]


def test_a_problem_code_the_operation_does_not_answer_fails(router: Router[Any]) -> None:
    (found,) = _check(router, {**PROBLEM, "code": "session_not_found"}, 404, "application/problem+json")
    assert "'session_not_found' is not one of" in found


def test_an_unmatched_path_must_be_route_not_found(router: Router[Any]) -> None:
    assert _check(router, {**PROBLEM, "code": "route_not_found"}, 404, "application/problem+json", "/a/b/c") == []
    assert _check(router, {**PROBLEM, "code": "order_not_found"}, 404, "application/problem+json", "/a/b/c")
