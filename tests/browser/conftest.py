from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser.console import ConsolePage, chromium
from tests.platform_process import RunningPlatform, running_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    # Private webhook addresses are allowed, as on a developer machine, so a manager can
    # register one on loopback and see its secret.
    with running_platform(
        tmp_path_factory.mktemp("console"), DONATELLO_WEBHOOK_ALLOW_PRIVATE="true"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def console(browser: Browser, platform: RunningPlatform) -> Iterator[ConsolePage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-AU")
    try:
        yield ConsolePage(context.new_page(), platform.url)
    finally:
        context.close()
