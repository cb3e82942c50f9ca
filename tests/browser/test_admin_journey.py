"""An admin reaches every page in one click; the models page shows prices, regions and
each provider's circuit. Every page passes axe."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from domain.screening_policy import default_policy_book
from tests.browser.console import ConsolePage

PAGES = {
    "Generate": "Generate an image",
    "Gallery": "My generations",
    "Budget": "Budget of hq",
    "Finance": "Spend by department",
    "Audit": "Audit trail",
    "Models": "Models",
}


def test_an_admin_reaches_every_page_in_one_click(console: ConsolePage) -> None:
    page = console.page
    console.open()
    console.sign_in("ada", ["Platform.Admin"], "hq")
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link")).to_have_text(list(PAGES))
    for link, heading in PAGES.items():
        nav.get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        console.check()

    models = page.get_by_role("table")
    sketch = models.get_by_role("row", name=re.compile("^Local sketch renderer"))
    expect(sketch).to_contain_text("$0.0100")
    expect(sketch).to_contain_text("closed")
    policy = page.get_by_role("region", name=re.compile("^Screening policy"))
    version = default_policy_book().data.version
    expect(policy.get_by_role("heading")).to_contain_text(f"version {version}")
    expect(policy.get_by_role("row", name=re.compile("^CREDIT_CARD"))).to_contain_text("block")
    console.check("models")


def test_a_requester_is_not_shown_what_their_roles_do_not_allow(console: ConsolePage) -> None:
    page = console.page
    console.open("/finance")  # typed by hand: they land on their own first page instead
    console.sign_in("gus", ["Generator.Standard"], "marketing")
    expect(page).to_have_url(re.compile(r"/generate$"))
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Finance")).to_have_count(0)
    expect(nav.get_by_role("link", name="Audit")).to_have_count(0)
