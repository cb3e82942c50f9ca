"""The URL and e-mail recognizers: what they find, and that they read text in linear time.

Presidio's own patterns are the peer: every URL and address they found in these texts
is still found. The timing tests are loose on purpose (a busy machine must not fail
them) but the stock patterns took seconds on the same text.
"""

from __future__ import annotations

import time

import pytest
from presidio_analyzer import PatternRecognizer
from presidio_analyzer.predefined_recognizers import EmailRecognizer, UrlRecognizer

from adapters.web_recognizers import (
    TOP_LEVEL_DOMAINS,
    OfflineEmailRecognizer,
    UrlOutsideEmailRecognizer,
)

URLS = [
    (
        "a poster with the link https://example.com/gallery/42 on it",
        "https://example.com/gallery/42",
    ),
    ("visit www.example.com.au/portfolio today", "www.example.com.au/portfolio"),
    ("the flyer says example.com.au/about-us", "example.com.au/about-us"),
    ("see http://example.org/my-photos.", "http://example.org/my-photos."),
    ("our shop is at shop.example.net.", "shop.example.net"),
    ("VISIT EXAMPLE.COM NOW", "EXAMPLE.COM"),
    (
        "a QR code for https://sub.domain.example.co.uk/a?b=1&c=2",
        "https://sub.domain.example.co.uk/a?b=1&c=2",
    ),
    ("the sign reads 'https://example.io/x'", "'https://example.io/x'"),
    ("a mug printed with my-site.com.au", "my-site.com.au"),
    ("server at example.com:8080 in the background", "example.com"),
    ("two sites: a.example.com and b.example.org", "a.example.com"),
]
EMAILS = [
    ("a thank-you card for bob@example.org with sunflowers", "bob@example.org"),
    ("write to jane.citizen@example.com.au today", "jane.citizen@example.com.au"),
    ("tag <first.last+art@sub.example.co.uk>", "first.last+art@sub.example.co.uk"),
    ("contact: o'brien@example-mail.com.", "o'brien@example-mail.com"),
    ("...jane@example.com was on the card", "jane@example.com"),
]
NOT_URLS = [
    "a photo of a dog",
    "version 1.2.3 of the 10.5 release",
    "the file index.html and notes.txt",  # "index.ht" was a URL to the stock pattern
    "a comedy at foo.comedy",  # "foo.com" was
    "Mr.Smith at the door",  # "Mr.Sm" was
    "the end...",
]


def found(recognizer: PatternRecognizer, text: str, entity: str) -> list[str]:
    return sorted(text[r.start : r.end] for r in recognizer.analyze(text, [entity]))


@pytest.mark.parametrize(("text", "url"), URLS)
def test_urls_and_domain_names_are_found(text: str, url: str) -> None:
    assert url in found(UrlOutsideEmailRecognizer(), text, "URL")


@pytest.mark.parametrize(("text", "url"), URLS)
def test_every_url_the_stock_pattern_found_is_still_found(text: str, url: str) -> None:
    ours = found(UrlOutsideEmailRecognizer(), text, "URL")
    stock = found(UrlOutsideEmailRecognizer(patterns=UrlRecognizer.PATTERNS), text, "URL")
    assert set(stock) <= set(ours)


@pytest.mark.parametrize("text", NOT_URLS)
def test_text_without_a_host_has_no_url(text: str) -> None:
    assert found(UrlOutsideEmailRecognizer(), text, "URL") == []


@pytest.mark.parametrize(("text", "email"), EMAILS)
def test_email_addresses_are_found_as_the_stock_pattern_found_them(text: str, email: str) -> None:
    assert found(OfflineEmailRecognizer(), text, "EMAIL_ADDRESS") == [email]
    stock = OfflineEmailRecognizer(patterns=EmailRecognizer.PATTERNS)
    assert found(stock, text, "EMAIL_ADDRESS") == [email]


def test_the_domain_of_an_email_address_is_not_a_url() -> None:
    text = "mail jane.citizen@example.com.au or visit https://www.example.com/gallery"
    assert found(UrlOutsideEmailRecognizer(), text, "URL") == ["https://www.example.com/gallery"]


def test_the_top_level_domains_are_presidios() -> None:
    assert len(TOP_LEVEL_DOMAINS) > 400
    assert {"com", "au", "uk", "photography", "io"} <= set(TOP_LEVEL_DOMAINS)


@pytest.mark.parametrize(
    "text",
    ["." * 4000, "a." * 2000, "1." * 2000, "a." * 1995 + "@", "a" * 3990 + "@b", "a.a@" * 1000],
    ids=["dots", "a-dot", "digit-dot", "local-dots", "local-run", "email-like"],
)
def test_each_reads_a_4000_character_worst_case_in_linear_time(text: str) -> None:
    # The stock patterns took 1 to 15 s of CPU on these; ours take a few milliseconds.
    for recognizer, entity in (
        (UrlOutsideEmailRecognizer(), "URL"),
        (OfflineEmailRecognizer(), "EMAIL_ADDRESS"),
    ):
        began = time.thread_time()
        recognizer.analyze(text, [entity])
        assert time.thread_time() - began < 0.25, entity
