"""GET /healthz: every Router answers liveness without building, touching or checking a dependency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Request
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder

from lib.config import Settings
from lib.http import HttpDeps, RequestContext, Router, Wiring
from lib.http.health import BUILD_INFO_FILE, is_health_path, source_version


class ExplodingFactory:
    """A deps factory that records being called and fails: liveness must never reach it."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Wiring[None]:
        self.calls += 1
        raise ConnectionError("postgres://10.0.0.1:5432 unreachable")


def make_router(factory: ExplodingFactory) -> Router[None]:
    router: Router[None] = Router("svc", wiring=factory)

    @router.route("/items", methods=["GET"], auth="user", rate="read")
    def items(ctx: RequestContext) -> Any:
        return {"items": []}

    return router


def get(router: Router, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    request = Request(EnvironBuilder(path=path, method=method, headers=Headers(headers or {})).get_environ())
    return router.dispatch(request)


@pytest.mark.parametrize("path", ["/healthz", "/healthz/", "/svc/healthz", "/svc/healthz/"])
def test_healthz_answers_ok_with_the_function_name_without_building_deps(path: str) -> None:
    factory = ExplodingFactory()
    response = get(make_router(factory), path)
    assert response.status_code == 200
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == "ok"
    assert body["function"] == "svc"
    assert body["version"] is None  # a checkout has no build_info.json beside lib/
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Request-Id"]
    assert factory.calls == 0


def test_a_normal_route_still_builds_deps_so_the_fake_is_live() -> None:
    factory = ExplodingFactory()
    response = get(make_router(factory), "/items")
    assert response.status_code == 500
    assert factory.calls == 1


def test_healthz_needs_no_token_and_echoes_a_sane_request_id() -> None:
    response = get(make_router(ExplodingFactory()), "/healthz", headers={"X-Request-Id": "probe-12345678"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "probe-12345678"
    assert "Access-Control-Allow-Origin" not in response.headers


def test_head_is_liveness_too() -> None:
    response = get(make_router(ExplodingFactory()), "/healthz", method="HEAD")
    assert response.status_code == 200


def test_other_methods_are_405_with_allow_and_still_no_deps() -> None:
    factory = ExplodingFactory()
    response = get(make_router(factory), "/healthz", method="POST")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.mimetype == "application/problem+json"
    assert json.loads(response.get_data(as_text=True))["code"] == "method_not_allowed"
    assert factory.calls == 0


def test_healthz_works_with_production_settings_and_unreachable_services() -> None:
    """Explicit deps for a production config pointing at closed ports: liveness ignores them all."""
    settings = Settings(
        app_env="production",
        tasks_mode="cloud",
        database_url="postgresql://app:pw@127.0.0.1:9/postgres",
        redis_url="redis://127.0.0.1:9/0",
    )
    router = make_router(ExplodingFactory())
    request = Request(EnvironBuilder(path="/healthz").get_environ())
    response = router.dispatch(request, deps=HttpDeps(settings=settings))
    assert response.status_code == 200


def test_a_route_cannot_shadow_healthz() -> None:
    router = Router("svc")
    for path in ("/healthz", "/healthz/"):
        with pytest.raises(ValueError, match="liveness"):
            router.route(path, methods=["GET"], auth="none")


def test_only_the_exact_paths_are_liveness() -> None:
    assert is_health_path("/healthz", "svc")
    assert is_health_path("/svc/healthz", "svc")
    assert not is_health_path("/other/healthz", "svc")
    assert not is_health_path("/healthzz", "svc")
    assert not is_health_path("/items/healthz", "svc")


def test_source_version_reads_the_staged_build_info(tmp_path: Path) -> None:
    (tmp_path / BUILD_INFO_FILE).write_text(json.dumps({"function": "svc", "source_sha256": "ab" * 32}))
    assert source_version(tmp_path) == "ab" * 6


@pytest.mark.parametrize("text", [None, "not json", "[]", '{"source_sha256": 7}', '{"source_sha256": ""}'])
def test_source_version_is_none_when_build_info_is_missing_or_bad(tmp_path: Path, text: str | None) -> None:
    if text is not None:
        (tmp_path / BUILD_INFO_FILE).write_text(text)
    assert source_version(tmp_path) is None
