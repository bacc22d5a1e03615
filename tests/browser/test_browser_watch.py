"""The journey's judges judged: the watcher, axe and the width check each catch what they must.

A journey that passes because its watcher heard nothing proves nothing; here
each kind of problem is provoked on a page of the local suite and must be
reported, and an expected error must be excused only while it is expected.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.browser_support import Stages, Watch, axe_violations, horizontal_overflow
from tests.browser.conftest import Suite

pytestmark = [pytest.mark.services, pytest.mark.timeout(50)]

PROVOKE = """async () => {
    console.error("provoked console error");
    setTimeout(() => { throw new Error("provoked page error"); }, 0);
    await fetch("/_dev/no-such-route");
    await fetch("http://127.0.0.1:1/unreachable").catch(() => null);
    await new Promise((resolve) => setTimeout(resolve, 100));
}"""


def test_the_watcher_reports_each_kind_of_problem(browser: Browser, suite: Suite) -> None:
    watch = Watch()
    context = browser.new_context(base_url=suite.base)
    watch.attach(context)
    try:
        page = context.new_page()
        page.goto("/healthz")
        page.evaluate(PROVOKE)
        found = "\n".join(watch.problems)
        assert "console error" in found
        assert "provoked console error" in found
        assert "page error" in found
        assert "unexpected 404: GET /_dev/no-such-route" in found
        assert "request failed: GET http://127.0.0.1:1/unreachable" in found
        with pytest.raises(AssertionError, match="provoked page error"):
            watch.check("provoked")
        assert watch.problems == []

        with watch.expecting("GET", r"^/_dev/no-such-route$", 404, "provoked on purpose") as allowed:
            page.evaluate("async () => { await fetch('/_dev/no-such-route'); }")
            page.wait_for_timeout(100)
        assert allowed.seen == 1
        watch.check("expected")
        never = watch.expecting("GET", r"^/never$", 404, "not provoked")
        with pytest.raises(AssertionError, match="never seen"), never:
            pass
    finally:
        context.close()


def test_axe_and_the_width_check_find_what_they_must(browser: Browser, axe_source: str, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.set_content(
            "<!doctype html><html lang='en'><head><title>t</title></head><body><main>"
            "<select></select><div style='width:900px'>wide</div></main></body></html>"
        )
        assert "select-name" in {v["id"] for v in axe_violations(page, axe_source)}
        scroll, inner = horizontal_overflow(page)
        assert scroll > inner == 390
        stages = Stages(axe_source, Watch(), prefix="provoked-", narrow=True, directory=tmp_path)
        stages(page, "bad-page")
        with pytest.raises(AssertionError, match="select-name") as failed:
            stages.finish()
        assert "scrolls sideways at 390 px" in str(failed.value)
        assert [p.name for p in stages.written] == ["01-provoked-bad-page.png"]
    finally:
        context.close()
