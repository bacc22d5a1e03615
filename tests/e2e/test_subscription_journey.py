"""A monthly plan over time, through the local suite and its movable clock (``/_dev/clock``):
pay, get reminded 7 days and 1 day before the end, lapse after the grace (paid routes 402, the
billing page says expired), renew, and every email exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devtools.local.services import ServiceSet
from lib.config import Settings
from tests.e2e.served import travelling_suite

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def http(services: ServiceSet, settings: Settings) -> Iterator[httpx.Client]:
    with travelling_suite(services, settings, timeout_s=30) as (client, _dev):
        yield client


def pay(http: httpx.Client, auth: dict[str, str]) -> None:
    started = http.post("/initiate_payment/", json={"plan": "starter", "billing_period": "monthly"}, headers=auth)
    assert started.status_code == 201, started.text
    mid = started.json()["merchant_order_id"]
    settled = http.post(f"/_dev/phonepe/orders/{mid}/complete", params={"webhook": "deliver"})
    assert settled.status_code == 200, settled.text
    assert http.get(f"/payment_status/{mid}", headers=auth).json()["state"] == "COMPLETED"


def kinds(http: httpx.Client, email: str) -> list[str]:
    mail = http.get("/_dev/mail/", params={"to": email}).json()["data"]
    return sorted(str(m["idempotency_key"]).split("/")[0] for m in mail)


def billing(http: httpx.Client, auth: dict[str, str]) -> dict[str, Any]:
    response = http.get("/billing/", headers=auth)
    assert response.status_code == 200, response.text
    return dict(response.json()["subscription"])


def test_a_month_passes_reminds_lapses_and_renews(http: httpx.Client) -> None:
    email = f"clock-{uuid.uuid4().hex[:10]}@example.com"
    user = http.post("/_dev/token", json={"email": email, "name": "Clock"}).json()
    auth = {"Authorization": f"Bearer {user['access_token']}"}
    pay(http, auth)
    assert billing(http, auth)["status"] == "active"

    moved = http.post("/_dev/clock/advance", json={"days": 25})
    assert moved.status_code == 200, moved.text
    assert billing(http, auth)["status"] == "active"
    assert "renewal-reminder-7d" in kinds(http, email)

    lapsed = http.post("/_dev/clock/advance", json={"days": 15})
    assert lapsed.status_code == 200
    assert billing(http, auth)["status"] == "expired"
    blocked = http.get("/context/recommendations", params={"for": "move"}, headers=auth)
    assert blocked.status_code == 402
    assert blocked.json()["code"] == "subscription_inactive"
    assert kinds(http, email) == [
        "payment-confirmed",
        "renewal-reminder-1d",
        "renewal-reminder-7d",
        "subscription-expired",
    ]

    pay(http, auth)  # renewing after the lapse starts a new period now
    renewed = billing(http, auth)
    assert renewed["status"] == "active"
    assert renewed["next_charge_paise"] == 99900
    assert kinds(http, email).count("payment-confirmed") == 2
    assert http.post("/_dev/clock/advance", json={"days": -1}).status_code == 422
    assert http.post("/_dev/clock/reset").status_code == 200
