"""A requester signs in, prices a prompt, submits it, watches it become a charged image
and finds it in the gallery: the console in Chromium against a real `donatello serve`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.console import ConsolePage, expect_image_shown
from tests.platform_process import RunningPlatform

SYDNEY = ZoneInfo("Australia/Sydney")
PROMPT = "A watercolour lighthouse at dawn; send it to alice@example.com"


def test_a_prompt_becomes_a_charged_image_in_the_gallery(console: ConsolePage) -> None:
    page = console.page
    console.open()
    expect(page.get_by_role("heading", name="Sign in to DonatelloAI")).to_be_visible()
    console.check("sign-in")
    console.sign_in("alice", ["Generator.Standard"], "marketing")

    expect(page).to_have_url(re.compile(r"/generate$"))
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link")).to_have_text(["Generate", "Gallery", "Models"])
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_label("Quality").select_option("hd")
    price = page.locator(".price")
    expect(price).to_contain_text(re.compile(r"Price: \$\d+\.\d{2}"))  # before submitting
    expect(price).to_contain_text("Daily quota: 50 of 50 images left today — covered.")
    console.check("generate")

    page.get_by_role("button", name="Generate").click()
    expect(page).to_have_url(re.compile(r"/generations/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("status")).to_have_text("charged", timeout=60_000)
    expect(page.get_by_text("Screening removed personal data")).to_contain_text("EMAIL_ADDRESS")
    expect_image_shown(page.get_by_role("img", name=re.compile("The generated image")))
    expect(page.get_by_role("button", name="Download PNG")).to_be_visible()
    page.get_by_role("button", name="Show my prompt").click()
    expect(page.get_by_test_id("prompt")).to_have_text(PROMPT)  # as typed, to its owner
    generation_url = page.url
    console.check("generation")

    nav.get_by_role("link", name="Gallery").click()
    tile = page.locator(".gallery li").first
    expect_image_shown(tile.get_by_role("img"))
    console.check("gallery")
    today = datetime.now(SYDNEY).date()
    page.get_by_label("From (Sydney day)").fill((today + timedelta(days=1)).isoformat())
    expect(page.get_by_text("Nothing here yet.")).to_be_visible()  # nothing made tomorrow
    page.get_by_label("From (Sydney day)").fill(today.isoformat())
    page.get_by_label("To (Sydney day, included)").fill(today.isoformat())
    expect_image_shown(tile.get_by_role("img"))
    tile.get_by_role("link").click()
    expect(page).to_have_url(generation_url)


def test_the_form_says_what_is_wrong_next_to_the_prompt(console: ConsolePage) -> None:
    page = console.page
    console.open("/generate")
    console.sign_in("bea", ["Generator.Power"], "studio")
    page.get_by_role("button", name="Generate").click()
    prompt = page.get_by_label("Prompt")
    expect(prompt).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Write what the image should show.")).to_be_visible()
    expect(page.locator(".price")).to_contain_text("Daily quota: unlimited for your role.")
    console.check()


def test_an_expired_sign_in_returns_to_the_form_with_the_prompt_kept(
    console: ConsolePage, platform: RunningPlatform
) -> None:
    page = console.page
    # The dev sign-in answers a token that the API's 60 s leeway accepts for ~8 s more.
    short = platform.token("carol", ["Generator.Standard"], "marketing", timedelta(seconds=-52))
    page.route(
        "**/dev/token",
        lambda route: route.fulfill(json={"access_token": short, "token_type": "Bearer"}),
    )
    console.open()
    console.sign_in("carol", ["Generator.Standard"], "marketing")
    page.get_by_label("Prompt").fill("A kept draft: a fox in the snow")
    page.unroute("**/dev/token")  # the next sign-in is the host's own, with a full day
    page.wait_for_timeout(9_000)
    page.get_by_role("button", name="Generate").click()

    expect(page.get_by_role("status")).to_contain_text("Your session expired")
    console.sign_in("carol", ["Generator.Standard"], "marketing")
    expect(page.get_by_label("Prompt")).to_have_value("A kept draft: a fox in the snow")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_test_id("status")).to_have_text("charged", timeout=60_000)


def test_a_rejected_prompt_says_why_in_plain_words(console: ConsolePage) -> None:
    page = console.page
    console.open()
    console.sign_in("dave", ["Generator.Standard"], "marketing")
    page.get_by_label("Prompt").fill("a birthday card for card 4111 1111 1111 1111 please")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_test_id("status")).to_have_text("rejected", timeout=60_000)
    refused = page.get_by_text("Screening refused the prompt")
    expect(refused).to_contain_text("personal data that may never reach a model (CREDIT_CARD)")
    expect(page.get_by_text("4111")).to_have_count(0)  # the value itself is never shown
    console.check("rejected")


def test_the_generate_form_works_from_the_keyboard_alone(console: ConsolePage) -> None:
    page = console.page
    console.open()
    console.sign_in("kim", ["Generator.Standard"], "marketing")
    page.get_by_label("Prompt").focus()
    page.keyboard.type("A paper boat on a pond")
    page.keyboard.press("Tab")  # to Size
    expect(page.get_by_label("Size")).to_be_focused()
    page.keyboard.press("Tab")  # Quality
    page.keyboard.press("Tab")  # Style
    page.keyboard.press("Tab")  # Model
    page.keyboard.press("Tab")  # Generate
    expect(page.get_by_role("button", name="Generate")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("status")).to_have_text("charged", timeout=60_000)
