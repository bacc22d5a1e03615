"""A hung Firestore (the emulator's processes stopped with SIGSTOP, as a network partition looks)
refuses an autosave within 2 s with a 503, acknowledges nothing, and once it resumes the same save
goes through with nothing lost.  The real emulator, frozen for real: no fake.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from devtools.local.devserver import load_function_app
from devtools.local.services import ServiceSet
from tests.conftest import needs
from tests.functions.bcm_env import BcmEnv, build_env
from tests.functions.support import installed

# What autosave may wait for a refusal, end to end.
SAVE_DEADLINE_S = 2.0


@pytest.fixture(scope="module")
def stack(services: ServiceSet) -> Iterator[tuple[BcmEnv, Any]]:
    needs(services, "firestore")
    env = build_env(services.env)
    with installed(env.container):
        yield env, load_function_app("onboarding_step").test_client()
    env.container.db.close()


@contextmanager
def frozen(services: ServiceSet, name: str) -> Iterator[None]:
    """Stop every process of the service's group; continue them whatever happens."""
    (child,) = [c for c in services.children if c.name == name]
    group = os.getpgid(child.proc.pid)
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def test_a_save_is_refused_within_two_seconds_and_goes_through_after(
    services: ServiceSet, stack: tuple[BcmEnv, Any]
) -> None:
    env, client = stack
    user = env.sign_up()
    started = client.post("/sessions", json={}, headers=user.auth)
    assert started.status_code == 201, started.get_data(as_text=True)
    session = started.get_json()["session_id"]
    url = f"/sessions/{session}/steps/1"
    first = client.put(url, json={"data": {"name": "Acme"}, "draft": True}, headers=user.auth)
    assert first.status_code == 200, first.get_data(as_text=True)
    version = first.get_json()["step"]["version"]
    change = {"data": {"name": "Acme Labs"}, "draft": True, "version": version}

    with frozen(services, "firestore"):
        began = time.monotonic()
        refused = client.put(url, json=change, headers=user.auth)
        elapsed = time.monotonic() - began
    assert refused.status_code == 503, refused.get_data(as_text=True)
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"]
    assert elapsed < SAVE_DEADLINE_S, f"refused after {elapsed:.2f} s"

    # Nothing was acknowledged: the session still reads the first save, at its version.
    before = client.get(f"/sessions/{session}", headers=user.auth).get_json()
    step = next(s for s in before["steps"] if s["number"] == 1)
    assert step["data"]["name"] == "Acme"
    assert step["version"] == version

    # Resumed: the very same save (same expected version) goes through, and reads back.
    retried = client.put(url, json=change, headers=user.auth)
    assert retried.status_code == 200, retried.get_data(as_text=True)
    after = client.get(f"/sessions/{session}", headers=user.auth).get_json()
    assert next(s for s in after["steps"] if s["number"] == 1)["data"]["name"] == "Acme Labs"
