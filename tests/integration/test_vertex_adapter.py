"""The real google-genai adapter against the Gemini stand-in over HTTP.

Proves the two speak the same wire format: the SDK's Vertex path and request
JSON (prompt, JSON mime type, the task's schema as ``responseJsonSchema``)
reach the stand-in, and its answer parses back into the suggestion; and that
timeouts, 5xx, 429, 4xx and bad output become the adapter errors the worker
acts on.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from devtools.local.gemini_stub import GeminiStub
from devtools.local.services import free_port
from lib.adapters.vertex import VertexSuggestions
from lib.config import Settings
from lib.domain.steps import STEPS, validate_step
from lib.errors import Rejected, Unavailable, Unprocessable
from lib.services.onboarding_ai import InvalidOutput, build_prompt, response_schema

FIXTURE = json.loads((Path(__file__).parents[1] / "unit" / "fixtures" / "steps_complete.json").read_text())
ALL_DATA = {step.number: FIXTURE[step.slug] for step in STEPS}
PROJECT, LOCATION, MODEL = "bcm-test", "asia-south1", "gemini-2.5-flash"
VERTEX_PATH = f"/v1beta1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{MODEL}:generateContent"
STEP = STEPS[13]  # icp_profiles: nested objects, lists, an integer range
# The adapter's limit in these tests, and how much slower the stand-in is told to be.
TIMEOUT_S, SLOW_S = 0.5, 5.0


class Served:
    def __init__(self) -> None:
        self.stub = GeminiStub()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/_dev/gemini"
        mounted = _mount("/_dev/gemini", self.stub)
        self.server = make_server("127.0.0.1", self.port, mounted, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def control(self, **body: Any) -> None:
        response = httpx.post(f"{self.base}/_control", json=body, timeout=5)
        assert response.status_code == 200, response.text

    def stop(self) -> None:
        self.stub.reset()
        self.server.shutdown()
        self.server.server_close()


def _mount(prefix: str, app: Any) -> Any:
    """Serve ``app`` under ``prefix`` as the dev server does (DispatcherMiddleware)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.wrappers import Response

    return DispatcherMiddleware(Response("not here", status=404), {prefix: app})


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    served = Served()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def adapter(served: Served) -> VertexSuggestions:
    served.stub.reset()
    settings = Settings(gcp_project=PROJECT, vertex_location=LOCATION, vertex_model=MODEL, genai_base_url=served.base)
    return VertexSuggestions.from_settings(settings)


def test_the_adapter_and_the_stand_in_speak_the_same_wire_format(adapter: VertexSuggestions, served: Served) -> None:
    prompt = build_prompt(STEP, ALL_DATA)
    schema = response_schema(STEP)

    output, model = adapter.generate_json(prompt, response_schema=schema, timeout_s=10)

    assert model == MODEL
    validate_step(STEP.number, output, draft=True)
    assert output["profiles"]
    (sent,) = served.stub.requests
    assert sent["path"] == VERTEX_PATH
    body = sent["body"]
    assert body["contents"] == [{"role": "user", "parts": [{"text": prompt}]}]
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema
    assert config["temperature"] == pytest.approx(0.2)
    assert config["candidateCount"] == 1


def test_the_same_prompt_gets_the_same_suggestion(adapter: VertexSuggestions) -> None:
    prompt = build_prompt(STEPS[19], ALL_DATA)
    first, _ = adapter.generate_json(prompt, response_schema=response_schema(STEPS[19]), timeout_s=10)
    second, _ = adapter.generate_json(prompt, response_schema=response_schema(STEPS[19]), timeout_s=10)
    assert first == second


def test_slow_is_unavailable_within_the_timeout(adapter: VertexSuggestions, served: Served) -> None:
    served.control(mode="slow", delay_s=SLOW_S, count=1)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        adapter.generate_json("hello", response_schema={"type": "object"}, timeout_s=TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT_S + 1.5
    assert caught.value.retryable
    assert caught.value.details.get("timeout") is True
    served.stub.reset()  # release the sleeping request


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_unavailable(adapter: VertexSuggestions, served: Served, status: int) -> None:
    served.control(mode="fail", status=status, count=1)
    with pytest.raises(Unavailable) as caught:
        adapter.generate_json("hello", response_schema={"type": "object"}, timeout_s=5)
    assert caught.value.details["status"] == status
    assert str(status) in caught.value.message


def test_a_bad_request_is_rejected(adapter: VertexSuggestions, served: Served) -> None:
    served.control(mode="fail", status=400, count=1)
    with pytest.raises(Rejected) as caught:
        adapter.generate_json("hello", response_schema={"type": "object"}, timeout_s=5)
    assert not caught.value.retryable
    assert "INVALID_ARGUMENT" in caught.value.message


def test_text_that_is_not_json_is_invalid_output(adapter: VertexSuggestions, served: Served) -> None:
    served.control(mode="invalid_json", count=1)
    with pytest.raises(InvalidOutput) as caught:
        adapter.generate_json("hello", response_schema={"type": "object"}, timeout_s=5)
    assert caught.value.retryable


def test_json_off_the_schema_comes_back_for_the_worker_to_reject(adapter: VertexSuggestions, served: Served) -> None:
    served.control(mode="wrong_schema", count=1)
    output, _ = adapter.generate_json("hello", response_schema=response_schema(STEP), timeout_s=5)
    assert output == {"unexpected_field": [1, 2, 3]}
    with pytest.raises(Unprocessable, match="invalid field") as caught:
        validate_step(STEP.number, output, draft=True)
    assert [e.path for e in caught.value.errors] == ["data.unexpected_field"]


def test_nothing_listening_is_unavailable() -> None:
    adapter = VertexSuggestions(
        project=PROJECT, location=LOCATION, model=MODEL, base_url=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(Unavailable):
        adapter.generate_json("hello", response_schema={"type": "object"}, timeout_s=2)


def test_building_the_adapter_touches_nothing() -> None:
    adapter = VertexSuggestions(project=PROJECT, location=LOCATION, model=MODEL)
    assert not adapter._client.built  # no client (and no credential lookup) until the first call
