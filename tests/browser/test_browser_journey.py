"""A new founder's whole journey through the console, in Chromium, against the local suite.

Sign in; choose a plan and pay, the first payment failing on PhonePe's
(simulated) checkout page, then "Try again" and a payment that succeeds;
billing; onboarding through the step list and the schema-made forms (the
step list and the save flow with the keyboard only), Ask AI and keep typing
in another step while the AI stand-in answers, a reload that resumes the
draft; the other steps filled over the API (finalize needs all 23 complete);
finalize; the dashboard and the manifest; a rebuild with its progress; the
version history; both exports downloaded and compared byte for byte with what
the API serves.  Then the key pages again at 390 px wide.

Every stage writes a screenshot to ``.local/journey/`` and runs axe-core (no
serious or critical violation); any console error, failed request or
unexpected 4xx/5xx fails the test.  Everything is found by its accessible
name (the console lists the names it keeps at the top of console.js).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from lib.domain.steps import STEPS
from tests.browser.browser_support import Stages, Watch
from tests.browser.conftest import Suite

# The browser layer's budget in CI is 3 minutes: this test 125 s and test_browser_watch.py's 50 s at most,
# each with its suite's start and Chromium's launch.
pytestmark = [pytest.mark.services, pytest.mark.timeout(125)]

FIXTURE = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "steps_complete.json"
# Waits on the page (ms): polls, the AI stand-in and the simulator's round trips finish well within this.
UI_TIMEOUT_MS = 20_000
# The width of a small phone, and its height (CSS px).
NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}
# Tab presses allowed to reach a control before the keyboard path counts as broken.
MAX_TABS = 80
# A company name that is not ASCII: the exports must carry it as UTF-8.
COMPANY = "Hisaab Läbs — ₹ reconciled"


def steps_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def button(page: Page, name: str) -> Locator:
    return page.get_by_role("button", name=name, exact=True)


def step_button(page: Page, title: str) -> Locator:
    return page.get_by_role("navigation", name="Onboarding steps").get_by_role("button", name=title, exact=True)


def focused(target: Locator) -> bool:
    return bool(target.evaluate("(node) => node === document.activeElement"))


def tab_to(page: Page, target: Locator) -> None:
    """Press Tab until ``target`` has the focus (keyboard only: no click, no focus() call)."""
    for _ in range(MAX_TABS):
        if focused(target):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} not reached in {MAX_TABS} Tab presses")


def saved(page: Page) -> None:
    expect(page.locator("#save-status")).to_have_text("Saved")


def sign_in(page: Page, email: str, name: str) -> None:
    page.get_by_role("textbox", name="Email", exact=True).fill(email)
    page.get_by_role("textbox", name="Full name (optional)", exact=True).fill(name)
    button(page, "Sign in").click()
    expect(page.locator("#who")).to_contain_text(email)


def checkout(page: Page, outcome: str) -> Page:
    """Open PhonePe's checkout from the console, press ``outcome`` there, land back on the console."""
    with page.expect_popup() as popup_info:
        page.get_by_role("link", name="Open checkout", exact=True).click()
    phonepe = popup_info.value
    expect(phonepe.get_by_role("heading", name="PhonePe (simulated)")).to_be_visible()
    with phonepe.expect_navigation(url=re.compile(r"/app/billing/return\?order=")):
        phonepe.get_by_role("button", name=re.compile(rf"^{outcome}")).click()
    return phonepe


def token_of(page: Page) -> str:
    token = page.evaluate("() => localStorage.getItem('bcm.token')")
    assert isinstance(token, str)
    assert token
    return token


def fill_step_one_with_the_keyboard(page: Page, data: dict[str, Any]) -> None:
    """The step list and the save flow with the keyboard only: Tab to the step, Enter, type, Tab, Enter."""
    start = button(page, "Start / resume session")
    tab_to(page, start)
    page.keyboard.press("Enter")
    first = step_button(page, "Company profile")
    expect(first).to_be_visible()
    tab_to(page, first)
    page.keyboard.press("Enter")
    expect(page.locator("#step-title")).to_have_text("1. Company profile")
    expect(first).to_have_attribute("aria-current", "step")
    for label, value in (("Name", COMPANY), ("Industry", data["industry"])):
        tab_to(page, page.get_by_label(label, exact=True))
        page.keyboard.type(value)
    stage = page.get_by_label("Stage", exact=True)
    tab_to(page, stage)
    for _ in range(len(stage.locator("option").all())):
        if stage.input_value() == data["stage"]:
            break
        page.keyboard.press("ArrowDown")
    expect(stage).to_have_value(data["stage"])
    tab_to(page, page.get_by_label("Description", exact=True))
    page.keyboard.type(data["description"][:200])
    complete = button(page, "Save as complete")
    tab_to(page, complete)
    page.keyboard.press("Enter")
    saved(page)
    expect(page.locator("#step-status-1")).to_have_text(re.compile(r"^complete"))


def test_a_new_founders_journey(browser: Browser, suite: Suite, axe_source: str) -> None:
    data = steps_data()
    watch = Watch()
    context = browser.new_context(base_url=suite.base, viewport=WIDE, accept_downloads=True)
    context.set_default_timeout(UI_TIMEOUT_MS)
    watch.attach(context)
    stage = Stages(axe_source, watch)
    page = context.new_page()
    try:
        page.goto("/")
        stage(page, "console")
        email = f"founder-{uuid.uuid4().hex[:8]}@example.com"
        sign_in(page, email, "Zoë Founder")
        stage(page, "signed-in")

        pay(page, stage)
        billing(page, stage)
        onboarding(page, stage, suite, watch, data)
        finalized(page, stage)
        manifest(page, stage, suite, watch)
        narrow_pages(browser, context, suite, axe_source)
        stage.finish()
    finally:
        context.close()


def pay(page: Page, stage: Stages) -> None:
    """Starter, monthly: the first checkout fails, "Try again" opens a second one that is paid."""
    page.get_by_role("combobox", name="Plan", exact=True).select_option("starter")
    page.get_by_role("combobox", name="Billing period", exact=True).select_option("monthly")
    button(page, "Pay").click()
    expect(page.get_by_role("link", name="Open checkout", exact=True)).to_be_visible()
    stage(page, "checkout-link")
    phonepe = checkout(page, "Fail payment")
    expect(phonepe.locator("#pay-state")).to_have_text("FAILED")
    stage(phonepe, "back-from-failed-checkout")
    phonepe.close()
    expect(page.locator("#pay-state")).to_have_text("FAILED")
    retry = button(page, "Try again")
    expect(retry).to_be_visible()
    stage(page, "payment-failed")
    retry.click()
    phonepe = checkout(page, "Pay")
    expect(phonepe.locator("#pay-state")).to_have_text("COMPLETED")
    stage(phonepe, "back-from-paid-checkout")
    phonepe.close()
    expect(page.locator("#pay-state")).to_have_text("COMPLETED")


def billing(page: Page, stage: Stages) -> None:
    page.goto("/app/billing")
    expect(page.locator("#billing-summary")).to_contain_text("starter (monthly): active until")
    transactions = page.get_by_role("table", name="Transactions")
    expect(transactions.get_by_role("cell", name="FAILED", exact=True)).to_be_visible()
    expect(transactions.get_by_role("cell", name="COMPLETED", exact=True)).to_be_visible()
    stage(page, "billing")


def onboarding(page: Page, stage: Stages, suite: Suite, watch: Watch, data: dict[str, Any]) -> None:
    page.goto("/")
    fill_step_one_with_the_keyboard(page, data["company_profile"])
    stage(page, "step-one-complete")

    # Ask AI on a step with an AI task, then keep typing in another step while the stand-in answers.
    step_button(page, "Evidence vault").click()
    expect(page.locator("#step-title")).to_have_text("2. Evidence vault")
    button(page, "Ask AI").click()
    step_button(page, "Company profile").click()
    description = page.get_by_label("Description", exact=True)
    description.press("End")
    description.press_sequentially(" Typed while the AI works.")
    saved(page)
    stage(page, "typing-while-ai-works")
    step_button(page, "Evidence vault").click()
    expect(button(page, "Apply")).to_be_visible()
    expect(page.locator("#ai-suggestion")).not_to_be_empty()
    stage(page, "ai-suggestion")

    # A reload mid-onboarding: the open step and what was saved in it come back.
    step_button(page, "Company profile").click()
    page.get_by_label("Industry", exact=True).fill("Finance automation (resumed)")
    saved(page)
    page.reload()
    expect(page.locator("#step-title")).to_have_text("1. Company profile")
    expect(page.get_by_label("Industry", exact=True)).to_have_value("Finance automation (resumed)")
    expect(page.get_by_label("Name", exact=True)).to_have_value(COMPANY)
    stage(page, "draft-resumed")
    # Typed but not yet saved (a reload inside the autosave pause): the browser's copy comes back and is saved.
    page.get_by_label("Industry", exact=True).fill("Finance automation (typed, then reloaded)")
    page.reload()
    expect(page.get_by_label("Industry", exact=True)).to_have_value("Finance automation (typed, then reloaded)")
    saved(page)
    stage(page, "unsaved-draft-resumed")

    # Too early: the dashboard has no manifest yet (404) and finalize lists the steps still missing (422).
    with watch.expecting("GET", r"^/context/manifest\b", 404, "no manifest before finalize"):
        button(page, "Refresh dashboard").click()
        expect(page.locator("#bcm-indicator")).to_contain_text("No manifest yet")
    with watch.expecting("POST", r"^/finalize/", 422, "finalize before the 23 steps are complete"):
        button(page, "Finalize").click()
        expect(page.locator("#finalize-out")).to_contain_text("22 of 23 steps are not complete")
    stage(page, "finalize-too-early")

    # Finalize needs all 23 steps complete: the other 22 are filled over the API, as quickly as a script can.
    token = token_of(page)
    session_id = page.evaluate("() => localStorage.getItem('bcm.session')")
    for step in STEPS[1:]:
        body = {"data": data[step.slug], "draft": False}
        response = suite.api("PUT", f"/onboarding_step/sessions/{session_id}/steps/{step.number}", token, json=body)
        assert response.status_code == 200, response.text
    button(page, "Start / resume session").click()
    expect(page.get_by_role("progressbar", name="Onboarding progress")).to_have_attribute("aria-valuenow", "100")
    stage(page, "all-steps-complete")


def finalized(page: Page, stage: Stages) -> None:
    button(page, "Finalize").click()
    expect(page.locator("#finalize-out")).to_contain_text("Finalized.")
    expect(page.locator("#step-closed")).to_be_visible()
    stage(page, "finalized")


def manifest(page: Page, stage: Stages, suite: Suite, watch: Watch) -> None:
    button(page, "Refresh dashboard").click()
    expect(page.locator("#bcm-version")).to_have_text("v1.0.0")
    expect(page.locator("#icp-out")).not_to_contain_text("Finalize onboarding")
    stage(page, "dashboard")
    page.get_by_role("combobox", name="Recommendations for", exact=True).select_option("campaign")
    button(page, "Get recommendations").click()
    expect(page.locator("#reco-out")).to_contain_text("from manifest v1.0.0")
    page.get_by_role("textbox", name="Text to check", exact=True).fill("We guarantee 100% ITC recovery, always.")
    button(page, "Check guardrails").click()
    expect(page.locator("#guard-out")).not_to_be_empty()
    stage(page, "dashboard-recommendations-guardrails")
    raw = page.locator("#bcm-out").get_by_text("as JSON", exact=True)
    raw.click()
    expect(page.locator("#bcm-out pre")).to_contain_text('"version": "1.0.0"')
    stage(page, "manifest")

    # The rebuild dialog with the keyboard: Enter opens it, the reason is typed, Enter starts, Escape closes.
    rebuild = button(page, "Rebuild")
    tab_to(page, rebuild)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Rebuild the manifest")
    expect(dialog).to_be_visible()
    reason = dialog.get_by_role("textbox", name="Reason (optional)")
    tab_to(page, reason)
    page.keyboard.type("Browser journey: nothing changed")
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("progressbar", name="Rebuild progress")).to_be_visible()
    stage(page, "rebuild-progress")
    expect(page.locator("#rebuild-status")).to_have_text(re.compile(r"^Done: "))
    stage(page, "rebuild-done")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(rebuild).to_be_focused()

    button(page, "Refresh history").click()
    history = page.get_by_role("table", name="Version history")
    expect(history.get_by_role("cell", name="v1.0.0", exact=True)).to_be_visible()
    stage(page, "version-history")

    token = token_of(page)
    for label, fmt in (("Export JSON", "json"), ("Export Markdown", "markdown")):
        served = suite.api("GET", f"/context/export?format={fmt}&inline=true", token)
        assert served.status_code == 200, served.text
        assert "charset=utf-8" in served.headers["content-type"].lower()
        api_name = re.search(r'filename="([^"]+)"', served.headers["content-disposition"])
        assert api_name is not None
        with page.expect_download() as info:
            button(page, label).click()
        download = info.value
        watch.downloaded(download.url)
        assert download.failure() is None
        got = Path(download.path()).read_bytes()
        assert download.suggested_filename == api_name.group(1)
        assert got == served.content, f"{label}: the download differs from what the API serves"
        assert COMPANY in got.decode("utf-8")
        expect(page.locator("#export-status")).to_contain_text(api_name.group(1))
        stage(page, f"export-{fmt}")


def narrow_pages(browser: Browser, wide: BrowserContext, suite: Suite, axe_source: str) -> None:
    """The journey's key pages at 390 px: nothing scrolls sideways, axe still finds nothing."""
    watch = Watch()
    context = browser.new_context(base_url=suite.base, viewport=NARROW, storage_state=wide.storage_state())
    context.set_default_timeout(UI_TIMEOUT_MS)
    watch.attach(context)
    stage = Stages(axe_source, watch, prefix="390px-", narrow=True)
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#bcm-version")).to_have_text("v1.0.0")
        stage(page, "console")
        step_button(page, "Ideal customer profiles").click()
        expect(page.locator("#step-title")).to_have_text("14. Ideal customer profiles")
        stage(page, "step-form")
        button(page, "Refresh history").click()
        expect(page.get_by_role("table", name="Version history")).to_be_visible()
        stage(page, "version-history")
        page.goto("/app/billing")
        expect(page.locator("#billing-summary")).to_contain_text("starter (monthly)")
        stage(page, "billing")
        stage.finish()
    finally:
        context.close()
