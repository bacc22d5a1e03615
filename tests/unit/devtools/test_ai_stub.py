"""The Gemini stand-in on its own: suggestions, the Vertex wire shape and the control switches."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from devtools.local.gemini_stub import GeminiStub, input_words, suggestion
from lib.domain.steps import STEPS, validate_step
from lib.services.onboarding_ai import build_prompt, response_schema

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "steps_complete.json").read_text())
ALL_DATA = {step.number: FIXTURE[step.slug] for step in STEPS}
PATH = "/v1beta1/projects/p/locations/asia-south1/publishers/google/models/gemini-2.5-flash:generateContent"


def body(prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema},
    }


def call(client: Client, payload: dict[str, Any], token: str | None = "t") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(PATH, json=payload, headers=headers)


@pytest.mark.parametrize("step", [s for s in STEPS if s.ai_task], ids=lambda s: s.ai_task)
def test_every_tasks_suggestion_is_valid_for_its_step(step: Any) -> None:
    prompt = build_prompt(step, ALL_DATA)
    first = suggestion(prompt, response_schema(step))
    validate_step(step.number, first, draft=True)  # raises when invalid
    assert first == suggestion(prompt, response_schema(step))  # deterministic
    assert first  # something was proposed


def test_suggestions_are_built_from_the_inputs() -> None:
    prompt = build_prompt(STEPS[11], ALL_DATA)
    words = input_words(prompt)
    assert "retention" in words  # from the fixture's facts
    texts = json.dumps(suggestion(prompt, response_schema(STEPS[11])))
    assert any(word.lower() in texts.lower() for word in words[:50])
    other = build_prompt(STEPS[11], {1: {"name": "Zebra Logistics"}})
    assert suggestion(other, response_schema(STEPS[11])) != suggestion(prompt, response_schema(STEPS[11]))


def test_generate_content_answers_in_the_vertex_shape() -> None:
    stub = GeminiStub()
    client = Client(stub)
    prompt = build_prompt(STEPS[15], ALL_DATA)
    response = call(client, body(prompt, response_schema(STEPS[15])))
    assert response.status_code == 200
    answer = response.get_json()
    (candidate,) = answer["candidates"]
    assert candidate["finishReason"] == "STOP"
    assert candidate["content"]["role"] == "model"
    proposal = json.loads(candidate["content"]["parts"][0]["text"])
    validate_step(16, proposal, draft=True)
    assert answer["modelVersion"] == "gemini-2.5-flash"
    assert answer["usageMetadata"]["totalTokenCount"] > 0
    seen = client.get("/_control").get_json()
    assert seen["calls"] == 1
    assert seen["requests"][0]["path"] == PATH
    assert seen["requests"][0]["body"]["generationConfig"]["responseJsonSchema"] == response_schema(STEPS[15])


def test_wrong_paths_and_missing_tokens_are_refused() -> None:
    client = Client(GeminiStub())
    assert call(client, body("x", {"type": "object"}), token=None).status_code == 401
    assert client.post(PATH.replace("generateContent", "countTokens"), json={}).status_code == 404
    assert client.post("/v1/models/gemini:generateContent", json={}).status_code == 404


def test_fail_mode_answers_google_errors_for_count_requests() -> None:
    client = Client(GeminiStub())
    client.post("/_control", json={"mode": "fail", "status": 500, "count": 2})
    first, second, third = (call(client, body("x", {"type": "object"})) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [500, 500, 200]
    assert first.get_json()["error"] == {"code": 500, "message": "the stand-in was told to fail", "status": "INTERNAL"}


def test_invalid_modes_return_text_that_is_not_the_answer() -> None:
    client = Client(GeminiStub())
    client.post("/_control", json={"mode": "invalid_json", "count": 1})
    text = call(client, body("x", {"type": "object"})).get_json()["candidates"][0]["content"]["parts"][0]["text"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    client.post("/_control", json={"mode": "wrong_schema"})
    text = call(client, body("x", response_schema(STEPS[2]))).get_json()["candidates"][0]["content"]["parts"][0]["text"]
    assert json.loads(text) == {"unexpected_field": [1, 2, 3]}


def test_slow_mode_sleeps_and_a_reset_releases_the_sleeper() -> None:
    stub = GeminiStub()
    client = Client(stub)
    client.post("/_control", json={"mode": "slow", "delay_s": 0.3, "count": 1})
    started = time.monotonic()
    assert call(client, body("x", {"type": "object"})).status_code == 200
    assert time.monotonic() - started >= 0.3
    stub.set_mode("slow", delay_s=30)
    done = threading.Event()
    threading.Thread(
        target=lambda: (call(Client(stub), body("x", {"type": "object"})), done.set()), daemon=True
    ).start()
    time.sleep(0.1)
    client.delete("/_control")
    assert done.wait(5)


def test_unknown_modes_are_refused() -> None:
    client = Client(GeminiStub())
    assert client.post("/_control", json={"mode": "explode"}).status_code == 400


def test_the_root_answers_for_health_probes() -> None:
    response = Client(GeminiStub()).get("/")
    assert response.status_code == 200
    assert response.get_json()["control"]["mode"] == "ok"
