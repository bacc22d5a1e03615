"""What the over-HTTP tests share: local-suite settings for a port, and serving an app on it.

The journeys (and ``tests/integration/test_ai_worker.py``) run the dev
server's app on a free loopback port; every URL the suite calls itself on
(auth, OIDC keys, the task dispatcher, the mail catcher) must point at that
port, and user tokens are only the dev key's ES256 ones, as with real
Supabase keys.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

from devtools.local.devserver import FRONTEND_PATH
from lib.config import Settings, TasksMode

LOOPBACK = "127.0.0.1"
# How often the serving thread checks for shutdown; small so a module's teardown is quick.
POLL_INTERVAL_S = 0.05


def base_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def local_settings(settings: Settings, port: int, **update: Any) -> Settings:
    """``settings`` with every self-call aimed at the suite on ``port``; ``update`` adds or overrides."""
    base = base_url(port)
    return settings.model_copy(
        update={
            "functions_base_url": base,
            "frontend_url": f"{base}{FRONTEND_PATH}",
            "supabase_url": f"{base}/_dev/auth",
            "supabase_jwt_secret": None,  # only the dev key's ES256 tokens, as with real Supabase keys
            "oidc_local_jwks_url": f"{base}/_dev/oidc/jwks",
            "tasks_local_url": f"{base}/_dev/tasks",
            "resend_base_url": f"{base}/_dev/resend",
            **update,
        }
    )


def suite_settings(settings: Settings, port: int, **update: Any) -> Settings:
    """``local_settings`` for the whole local suite: tasks through the local dispatcher and the PhonePe
    client aimed at the simulator mounted on the same port."""
    api = f"{base_url(port)}/_dev/phonepe/apis/pg-sandbox"
    return local_settings(
        settings,
        port,
        tasks_mode=TasksMode.LOCAL,
        phonepe_api_base=api,
        phonepe_token_url=f"{api}/v1/oauth/token",
        **update,
    )


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """Serve the WSGI ``app`` threaded on ``port`` for the block; yields its base URL."""
    server = make_server(LOOPBACK, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, daemon=True)
    thread.start()
    try:
        yield base_url(port)
    finally:
        server.shutdown()
        server.server_close()
