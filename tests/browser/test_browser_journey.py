"""A new founder's whole journey through the console, in Chromium, against the local suite.

Sign in; choose a plan and pay, the first payment failing on PhonePe's
(simulated) checkout page, then "Try again" and a payment that succeeds;
billing; onboarding through the step list and forms; finalize; the manifest.
Every stage writes a screenshot to ``.local/journey/`` and runs axe-core;
any console error, failed request or unexpected 4xx/5xx fails the test.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.browser_support import Stages, Watch
from tests.browser.conftest import Suite

pytestmark = pytest.mark.services

# Waits on the page (ms): polls and the simulator's round trips finish well within this.
UI_TIMEOUT_MS = 15_000
# The width of a small phone (CSS px).
NARROW_PX = 390


def founder_email() -> str:
    return f"founder-{uuid.uuid4().hex[:8]}@example.com"


def sign_in(page: Page, email: str, name: str) -> None:
    page.get_by_placeholder("founder@example.com").fill(email)
    page.get_by_placeholder("Full name (optional)").fill(name)
    page.get_by_role("button", name="Get token").click()
    expect(page.get_by_text(email)).to_be_visible()


def checkout(page: Page, outcome: str) -> Page:
    """Open PhonePe's checkout from the console and press ``outcome`` ("Pay" or "Fail payment")."""
    with page.expect_popup() as popup_info:
        page.get_by_role("link", name="Open checkout").click()
    phonepe = popup_info.value
    phonepe.wait_for_load_state()
    expect(phonepe.get_by_role("heading", name="PhonePe (simulated)")).to_be_visible()
    button = phonepe.get_by_role("button", name=re.compile(rf"^{outcome}"))
    with phonepe.expect_navigation(url=re.compile(r"/app/billing/return\?order=")):
        button.click()
    return phonepe


def test_a_new_founders_journey(browser: Browser, suite: Suite, axe_source: str) -> None:
    watch = Watch()
    context = browser.new_context(base_url=suite.base, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    watch.attach(context)
    stage = Stages(axe_source, watch)
    page = context.new_page()
    try:
        page.goto("/")
        stage(page, "console")

        email = founder_email()
        sign_in(page, email, "Zoë Founder")
        stage(page, "signed-in")

        # Pay: the first attempt fails on the checkout page, "Try again" starts a new one that succeeds.
        page.get_by_role("button", name="Pay", exact=True).click()
        expect(page.get_by_role("link", name="Open checkout")).to_be_visible()
        stage(page, "checkout-link")
        phonepe = checkout(page, "Fail payment")
        stage(phonepe, "back-from-failed-checkout")
        phonepe.close()
        expect(page.get_by_text("Payment failed.")).to_be_visible()
        retry = page.get_by_role("button", name="Try again")
        expect(retry).to_be_visible()
        stage(page, "payment-failed")
        retry.click()
        expect(page.get_by_role("link", name="Open checkout")).to_be_visible()
        phonepe = checkout(page, "Pay")
        expect(phonepe.get_by_text('"state": "COMPLETED"')).to_be_visible()
        stage(phonepe, "back-from-paid-checkout")
        phonepe.close()

        page.goto("/app/billing")
        expect(page.get_by_text(re.compile(r"starter \(monthly\): active until"))).to_be_visible()
        stage(page, "billing")

        page.goto("/")
        page.get_by_role("button", name="Start / resume session").click()
        expect(page.get_by_role("button", name=re.compile(r"^Company profile"))).to_be_visible()
        stage(page, "step-list")
        stage.finish()
    finally:
        context.close()
