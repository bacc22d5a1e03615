"""A local stand-in for Gemini on Vertex AI, speaking ``generateContent`` over HTTP.

The real adapter (``lib.adapters.vertex``, google-genai) is pointed at it with
``GENAI_BASE_URL`` and sends exactly what it would send to Vertex AI::

    POST {base}/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent
    {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
     "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {...}, ...}}

and gets Vertex's answer shape back::

    {"candidates": [{"content": {"role": "model", "parts": [{"text": "<json>"}]},
                     "finishReason": "STOP", "index": 0}],
     "usageMetadata": {...}, "modelVersion": m, "responseId": ...}

The suggestion is deterministic and valid for the schema: the schema is walked
and every value derived from a hash of the prompt and words taken from the
founder's inputs (the JSON between ``BEGIN INPUT JSON``/``END INPUT JSON``), so
the same session gets the same suggestion and it reads like their business.

``POST /_control`` makes it misbehave for tests: ``{"mode": "ok" | "slow" |
"fail" | "invalid_json" | "wrong_schema", "delay_s": 35, "status": 503,
"count": 2}`` (``count`` requests, then back to ok; no count: until changed).
``GET /_control`` shows the mode, the number of calls and the last requests.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from devtools.local.devserver import DevSuite

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]

INPUT_BEGIN, INPUT_END = "BEGIN INPUT JSON", "END INPUT JSON"
MODES = frozenset({"ok", "slow", "fail", "invalid_json", "wrong_schema"})
# "slow" sleeps this long unless told otherwise: longer than the adapter's 30 s limit.
DEFAULT_SLOW_S = 35.0
DEFAULT_FAIL_STATUS = 503
# Requests kept for GET /_control (tests read what the adapter sent).
HISTORY = 20
# Generated lists get at most this many items (schemas allow more): suggestions stay readable.
MAX_LIST_ITEMS = 3
# Generated text stays within every text limit of the step schemas (the shortest is 40 characters).
MAX_TEXT_CHARS = 40
# Generated numbers stay within this range when the schema gives no bounds.
DEFAULT_NUMBER_MAX = 1000
# Used when the inputs give too few words of their own.
FALLBACK_WORDS = ("customer", "growth", "pricing", "market", "founder", "product", "value", "team", "launch")
MIN_WORD_LEN = 3
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9]+")
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


# --- the suggestion ------------------------------------------------------------------------


def input_words(prompt: str) -> list[str]:
    """Distinct words of the founder's inputs in the prompt, in a stable order."""
    start = prompt.find(INPUT_BEGIN)
    stop = prompt.find(INPUT_END, start + 1) if start >= 0 else -1
    words: list[str] = []
    if start >= 0 and stop >= 0:
        try:
            strings = list(_strings(json.loads(prompt[start + len(INPUT_BEGIN) : stop])))
        except ValueError:
            strings = []
        seen: set[str] = set()
        for text in strings:
            for word in _WORD_RE.findall(text):
                key = word.lower()
                if len(word) >= MIN_WORD_LEN and key not in seen:
                    seen.add(key)
                    words.append(word)
    return words if len(words) >= MIN_WORD_LEN else [*words, *FALLBACK_WORDS]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def suggestion(prompt: str, schema: dict[str, Any]) -> Any:
    """The deterministic, schema-valid answer to ``prompt`` (same prompt, same answer)."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")
    return _Filler(random.Random(seed), input_words(prompt)).fill(schema, "")  # noqa: S311 - not crypto


@dataclass
class _Filler:
    rng: random.Random
    words: list[str]
    counter: int = 0

    def fill(self, schema: dict[str, Any], name: str) -> Any:
        if "enum" in schema:
            return self.rng.choice(list(schema["enum"]))
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return {key: self.fill(child, key) for key, child in (schema.get("properties") or {}).items()}
        if kind == "array":
            low = int(schema.get("minItems", 1))
            high = min(int(schema.get("maxItems", MAX_LIST_ITEMS)), MAX_LIST_ITEMS)
            count = max(low, min(high, self.rng.randint(1, MAX_LIST_ITEMS)))
            item_name = name[:-1] if name.endswith("s") else name
            return [self.fill(schema.get("items") or {"type": "string"}, item_name) for _ in range(count)]
        if kind == "integer":
            low = int(schema.get("minimum", 0))
            return self.rng.randint(low, int(schema.get("maximum", low + DEFAULT_NUMBER_MAX)))
        if kind == "number":
            bottom = float(schema.get("minimum", 0))
            top = min(float(schema.get("maximum", bottom + DEFAULT_NUMBER_MAX)), bottom + 10 * DEFAULT_NUMBER_MAX)
            return round(self.rng.uniform(bottom, top), 2)
        if kind == "boolean":
            return self.rng.random() < 0.5
        return self.text(name)

    def text(self, name: str) -> str:
        """A string fit for the field: ids, URLs, object paths and currencies in their own shapes."""
        self.counter += 1
        slug = "-".join(word.lower() for word in self.rng.sample(self.words, min(2, len(self.words))))
        if name == "currency":
            return "INR"
        if name == "id" or name.endswith("_id"):
            return f"{slug}-{self.counter}"[:MAX_TEXT_CHARS]
        if name == "url":
            return f"https://example.com/{slug}"
        if name == "storage_path":
            return f"evidence/{slug}.pdf"
        picked = self.rng.sample(self.words, min(self.rng.randint(2, 5), len(self.words)))
        text = " ".join(picked).capitalize()
        return text[:MAX_TEXT_CHARS].rstrip()


# --- the HTTP app ------------------------------------------------------------------------------


@dataclass
class _Control:
    mode: str = "ok"
    delay_s: float = DEFAULT_SLOW_S
    status: int = DEFAULT_FAIL_STATUS
    remaining: int | None = None  # None: until changed

    def view(self) -> dict[str, Any]:
        return {"mode": self.mode, "delay_s": self.delay_s, "status": self.status, "count": self.remaining}


@dataclass
class GeminiStub:
    """The stand-in's state and WSGI app (``create_app`` mounts it at ``/_dev/gemini``)."""

    control: _Control = field(default_factory=_Control)
    calls: int = 0
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._urls = Map(
            [
                Rule("/", endpoint="control", methods=["GET"]),  # what check-env probes
                Rule("/_control", endpoint="control", methods=["GET", "POST", "DELETE"]),
                Rule(
                    "/<version>/projects/<project>/locations/<location>/publishers/<publisher>/models/<call>",
                    endpoint="model",
                    methods=["POST"],
                ),
            ]
        )

    def set_mode(
        self, mode: str, *, delay_s: float | None = None, status: int | None = None, count: int | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}")
        with self._lock:
            self._wake.set()  # release requests still sleeping in an earlier "slow"
            self._wake = threading.Event()
            self.control = _Control(
                mode=mode,
                delay_s=DEFAULT_SLOW_S if delay_s is None else float(delay_s),
                status=DEFAULT_FAIL_STATUS if status is None else int(status),
                remaining=count,
            )

    def reset(self) -> None:
        self.set_mode("ok")
        with self._lock:
            self.calls = 0
            self.requests.clear()

    def _take_mode(self) -> tuple[_Control, threading.Event]:
        with self._lock:
            self.calls += 1
            current = self.control
            left = current.remaining
            if left is not None:
                if left <= 0:
                    self.control = current = _Control()
                else:
                    self.control = _Control(current.mode, current.delay_s, current.status, left - 1)
            return current, self._wake

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, args = self._urls.bind_to_environ(environ).match()
            response = self._control(request) if endpoint == "control" else self._generate(request, **args)
        except HTTPException as exc:
            response = _error(exc.code or 500, exc.description or exc.name)
        return response(environ, start_response)

    def _control(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.reset()
        elif request.method == "POST":
            body = request.get_json(silent=True) or {}
            try:
                self.set_mode(
                    str(body.get("mode", "ok")),
                    delay_s=body.get("delay_s"),
                    status=body.get("status"),
                    count=body.get("count"),
                )
            except (TypeError, ValueError) as exc:
                return _error(400, str(exc))
        with self._lock:
            return _json({"control": self.control.view(), "calls": self.calls, "requests": list(self.requests)})

    def _generate(
        self, request: Request, *, version: str, project: str, location: str, publisher: str, call: str
    ) -> Response:
        model, _, method = call.partition(":")
        if method != "generateContent":
            raise NotFound(f"unsupported method {method!r}")
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _error(401, "missing bearer token")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        prompt = "".join(
            str(part.get("text", ""))
            for content in body.get("contents") or []
            for part in (content.get("parts") or [])
            if isinstance(part, dict)
        )
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema") or {"type": "object"}
        with self._lock:
            self.requests.append(
                {
                    "path": request.path,
                    "model": model,
                    "version": version,
                    "project": project,
                    "location": location,
                    "publisher": publisher,
                    "body": body,
                }
            )
        control, wake = self._take_mode()
        if control.mode == "slow":
            wake.wait(control.delay_s)
        if control.mode == "fail":
            return _error(control.status, "the stand-in was told to fail")
        if control.mode == "invalid_json":
            text = "Sure! Here is your suggestion: {not json"
        elif control.mode == "wrong_schema":
            text = json.dumps({"unexpected_field": [1, 2, 3]})
        else:
            text = json.dumps(suggestion(prompt, schema), ensure_ascii=False)
        return _json(_answer(text, model, prompt))


def _answer(text: str, model: str, prompt: str) -> dict[str, Any]:
    prompt_tokens, answer_tokens = max(1, len(prompt) // 4), max(1, len(text) // 4)
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": answer_tokens,
            "totalTokenCount": prompt_tokens + answer_tokens,
        },
        "modelVersion": model,
        "responseId": hashlib.sha256((prompt + text).encode()).hexdigest()[:24],
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    """Google's error body: ``{"error": {"code", "message", "status"}}``."""
    google_status = _GOOGLE_STATUS.get(status, "UNKNOWN")
    return _json({"error": {"code": status, "message": message, "status": google_status}}, status)


def create_app(suite: DevSuite | None = None) -> GeminiStub:
    """The ``DEV_MOUNTS`` factory (``/_dev/gemini``); the suite is not needed."""
    return GeminiStub()
