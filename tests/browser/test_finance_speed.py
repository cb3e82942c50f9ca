"""How long the finance page takes to show 100 departments on the embedded host:
measured in the browser and printed, not asserted tightly (the issue's figure is 1 s)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.browser.console import ConsolePage
from tests.platform_process import RunningPlatform

DEPARTMENTS = 100


def test_the_finance_page_shows_100_departments(
    console: ConsolePage, platform: RunningPlatform
) -> None:
    with platform.client(platform.token("root", ["Platform.Admin"], None)) as admin:
        for n in range(DEPARTMENTS):
            body = {"monthly_limit_aud": f"{100 + n}.00", "enforcement": "hard"}
            assert admin.put(f"/api/v1/budgets/dept-{n:03d}", json=body).status_code == 200
        deadline = time.monotonic() + 30  # the budget view follows the log
        while len(admin.get("/api/v1/budgets").json()["items"]) < DEPARTMENTS:
            assert time.monotonic() < deadline, "the budget view did not catch up"
            time.sleep(0.2)

    page = console.page
    console.open("/models")
    console.sign_in("fiona", ["Finance.Reader"], None)
    rows = page.get_by_role("table", name=re.compile("departments in")).locator("tbody tr")
    started = time.monotonic()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Finance").click()
    expect(rows).to_have_count(DEPARTMENTS, timeout=30_000)
    seconds = time.monotonic() - started
    print(f"\nfinance page, {DEPARTMENTS} departments: rendered in {seconds * 1000:.0f} ms")
    assert seconds < 10  # a loose bound: the figure printed is the measurement
    console.check()
