"""PhonePe's own sample callbacks (from its SDK's tests, ``tests/fixtures/phonepe_sdk``) at the webhook.

Each is acknowledged (200: PhonePe stops retrying) and kept in the ledger.  Checkout order, refund
and subscription (UPI AutoPay) events are hints checked with PhonePe; every other kind (PG or
custom-checkout orders, attempt failures) is logged as the alertable
``payment.webhook_unknown_event``, because a dashboard sending only those settles no order here.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from lib import ops_events
from tests.functions.test_bad_input import Env, env  # noqa: F401 - the module's stack, reused

SAMPLES: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "phonepe_sdk" / "callbacks.json").read_text()
)
HANDLED = ("checkout.order.", "pg.refund.", "subscription.")


def _fresh(sample: dict[str, Any]) -> bytes:
    """The sample with ids of its own, so each test's delivery is new to the ledger."""
    payload = dict(sample["payload"])
    for key in ("merchantOrderId", "merchantRefundId", "merchantSubscriptionId"):
        if key in payload:
            payload[key] = f"{payload[key]}-{uuid.uuid4().hex[:8]}"
    return json.dumps({**sample, "payload": payload}).encode()


def test_the_samples_cover_checkout_refund_and_other_kinds() -> None:
    events = {s["event"] for s in SAMPLES}
    assert any(e.startswith("checkout.") for e in events)
    assert any(e.startswith("pg.refund.") for e in events)
    assert any(not e.startswith(HANDLED) for e in events)
    assert all("type" in s for s in SAMPLES)


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"{i}:{s['event']}" for i, s in enumerate(SAMPLES)])
def test_every_sample_is_acknowledged_and_unhandled_kinds_are_alerted(
    env: Env,  # noqa: F811
    sample: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = env.counts()["webhook_events"]
    with caplog.at_level(logging.WARNING):
        response = env.webhook(_fresh(sample))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["received"] is True
    assert env.counts()["webhook_events"] == before + 1
    alerted = [r for r in caplog.records if getattr(r, "event", None) == ops_events.WEBHOOK_UNKNOWN_EVENT]
    assert bool(alerted) == (not sample["event"].startswith(HANDLED))
