"""The movable clock: only forward, kept across restarts, and its route refuses bad amounts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.test import Client

from devtools.local.travel_clock import MAX_ADVANCE_DAYS, TravelClock, create_app


def test_it_moves_only_forward_and_remembers_its_offset(tmp_path: Path) -> None:
    state = tmp_path / "clock.json"
    clock = TravelClock(state)
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 5
    clock.advance_to(clock.now() + timedelta(days=3))
    assert timedelta(days=3) - timedelta(seconds=5) < clock.offset <= timedelta(days=3)
    clock.advance_to(clock.now() - timedelta(days=1))  # backwards: ignored
    assert clock.offset > timedelta(days=2)
    assert TravelClock(state).offset == clock.offset  # a restart keeps it
    clock.reset()
    assert clock.offset == timedelta(0)
    assert json.loads(state.read_text()) == {"offset_s": 0.0}


def _client(clock: Any) -> Client:
    suite = SimpleNamespace(container=SimpleNamespace(clock=clock))
    return Client(create_app(suite))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [{"days": -1}, {"days": "x"}, {"days": True}, {"hours": 1.5}, {"days": MAX_ADVANCE_DAYS + 1}, [1]],
)
def test_bad_amounts_are_422_and_do_not_move_it(body: Any) -> None:
    clock = TravelClock()
    response = _client(clock).post("/advance", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "error" in response.get_json()
    assert clock.offset == timedelta(0)


def test_get_reports_and_a_real_clock_is_refused() -> None:
    clock = TravelClock()
    client = _client(clock)
    assert client.get("/").get_json()["offset_s"] == 0
    assert client.post("/reset").status_code == 200
    assert client.get("/nope").status_code == 404
    from lib.clock import SystemClock

    assert _client(SystemClock()).get("/").status_code == 409
