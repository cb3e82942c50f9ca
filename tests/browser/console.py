"""Playwright driving Debian's Chromium (no browser download) against a real
`donatello serve`, with axe-core's accessibility check on every page."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.platform_process import ROOT

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts, which
# this machine's closed network refuses; Playwright gives each launch a fresh profile.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Every run takes the screenshots; only a run asked to (the README says how) writes them
# over the committed ones in docs/console, so a test run leaves the checkout clean.
SCREENSHOTS = Path(
    os.environ.get("DONATELLO_CONSOLE_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / "donatello-console-screenshots"
)
BLOCKING_IMPACTS = {"serious", "critical"}


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise RuntimeError("Debian's chromium is missing: scripts/test installs it")
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def expect_image_shown(image: Locator) -> None:
    """The <img> is on screen and its picture decoded (a broken one is visible too)."""
    expect(image).to_be_visible()
    image.evaluate(
        "img => img.decode().then(() => { if (!img.naturalWidth) throw new Error('empty'); })"
    )


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
    )


class ConsolePage:
    """One browser tab on the console, remembering what the page complained of."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: ConsoleMessage) -> None:
        # A CSP violation or a failed script shows here; a 4xx the page handles does too,
        # as "Failed to load resource", which is the API answering, not a page fault.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)

    def open(self, path: str = "/") -> None:
        self.page.goto(self.base_url + path)

    def sign_in(self, user: str, roles: list[str], department: str | None) -> None:
        page = self.page
        page.get_by_label("User").fill(user)
        roles_box = page.get_by_role("group", name="Roles")
        for box in roles_box.get_by_role("checkbox").all():
            box.set_checked(box.get_attribute("value") in roles)
        page.get_by_label("Department").fill(department or "")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("navigation", name="Console").wait_for()

    def accessibility_violations(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page as it is now.

        Evaluated through the DevTools protocol, which the page's CSP does not govern, so
        the console's own policy stays in force for everything else.
        """
        if self.page.evaluate("typeof window.axe") == "undefined":
            self.page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
        results: dict[str, Any] = self.page.evaluate(
            "async () => await window.axe.run(document, {resultTypes: ['violations']})"
        )
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in results["violations"]
            if v["impact"] in BLOCKING_IMPACTS
        ]

    def check(self, screenshot: str | None = None) -> None:
        """No serious accessibility violation, no script error; optionally a screenshot."""
        violations = self.accessibility_violations()
        assert violations == [], json.dumps(violations, indent=2)
        assert self.errors == [], self.errors
        if screenshot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)
