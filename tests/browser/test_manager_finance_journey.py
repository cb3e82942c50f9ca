"""A department manager sets the budget and a webhook; finance then sees the change in
the table of every department, sorts it by keyboard and opens the department's charts."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.console import ConsolePage
from tests.platform_process import RunningPlatform


def test_a_managers_budget_change_shows_in_the_finance_table(
    console: ConsolePage, platform: RunningPlatform
) -> None:
    page = console.page
    with platform.client(platform.token("dana", ["Generator.Standard"], "design")) as dana:
        accepted = dana.post(
            "/api/v1/generations",
            json={"prompt": "a blue chair", "size": "1024x1024"},
            headers={"Idempotency-Key": "design-1"},
        )
        assert accepted.status_code == 202, accepted.text
        platform.wait_terminal(dana, accepted.json()["id"])

    console.open()
    console.sign_in("bob", ["Dept.Manager"], "design")
    expect(page).to_have_url(re.compile(r"/gallery$"))
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Budget").click()
    limit = page.get_by_label("Monthly limit (AUD)")
    limit.fill("12.345")
    page.get_by_role("button", name="Save budget").click()
    expect(limit).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("at most two decimals")).to_be_visible()
    limit.fill("250.5")
    page.get_by_label("Enforcement").select_option("soft")
    page.get_by_role("button", name="Save budget").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    glance = page.get_by_role("article", name=re.compile("^design in "))
    expect(glance).to_contain_text("$250.50")
    expect(glance).to_contain_text("Enforcement soft, strategy balanced.")

    url = page.get_by_label("Webhook URL")
    url.fill("https://hooks.example.com/" + "x" * 2100)  # the API's limit is 2048
    page.get_by_role("button", name="Register webhook").click()
    expect(url).to_have_attribute("aria-invalid", "true")  # the API's 422, beside the field
    url.fill("http://127.0.0.1:9/hook")
    page.get_by_role("button", name="Register webhook").click()
    expect(page.get_by_test_id("secret")).to_have_text(re.compile(r"\S{20,}"))
    expect(page.get_by_text("Notifications go to")).to_contain_text("http://127.0.0.1:9/hook")
    console.check("budget")
    page.get_by_role("button", name="Remove webhook").click()
    expect(page.get_by_text("No webhook is registered.")).to_be_visible()

    page.get_by_role("button", name="Sign out bob").click()
    console.sign_in("fiona", ["Finance.Reader"], None)
    expect(page).to_have_url(re.compile(r"/finance$"))
    table = page.get_by_role("table", name=re.compile(r"departments? in"))
    row = table.get_by_role("row", name=re.compile("^design"))
    expect(row).to_contain_text("$250.50")
    expect(row).to_contain_text("$0.0100")  # dana's image

    header = table.get_by_role("columnheader", name="Department")
    header.get_by_role("button").focus()
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "descending")
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "ascending")

    row.get_by_role("button", name="design").click()
    section = page.get_by_role("region", name=re.compile("^design in"))
    expect(section.get_by_text("Spend by model", exact=True)).to_be_visible()
    section.get_by_text("Spend by user as a table").click()
    expect(section.get_by_role("row", name=re.compile("^dana"))).to_contain_text("$0.0100")
    with page.expect_download() as csv:
        page.get_by_role("button", name="Download CSV").click()
    assert csv.value.suggested_filename.startswith("budgets-")
    console.check("finance")
