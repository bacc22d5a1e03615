"""A tiny HTTP server that records what it receives (tests only).

Stands in for a worker function when testing task delivery: it answers with
scripted statuses (``statuses``: one per request, the last repeated) and keeps
every request (method, path, headers, body, arrival time) for assertions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

# How often the server loop notices ``stop`` (werkzeug's default 0.5 s slows every test).
POLL_S = 0.02


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival


class RecordingReceiver:
    """``with RecordingReceiver([500, 200]) as r: ... r.url ... r.requests``."""

    def __init__(self, statuses: Iterable[int] = (200,)) -> None:
        self.statuses = list(statuses) or [200]
        self.requests: list[Received] = []
        self._cond = threading.Condition()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "receiver not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        with self._cond:
            index = len(self.requests)
            self.requests.append(
                Received(
                    request.method,
                    request.path,
                    dict(request.headers.items()),
                    request.get_data(),
                    time.monotonic(),
                )
            )
            status = self.statuses[min(index, len(self.statuses) - 1)]
            self._cond.notify_all()
        return Response(b"{}", status=status, mimetype="application/json")(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until ``count`` requests arrived; ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"got {len(self.requests)} of {count} requests")
                self._cond.wait(remaining)
            return list(self.requests)

    def start(self) -> RecordingReceiver:
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(POLL_S,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> RecordingReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
