"""Which webhook and callback URLs the platform calls: the address rule and the URL check."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from domain.destinations import parse_address, refusal
from services.destinations import NOT_CALLABLE, RefusedDestination, check_destination
from tests.static_resolver import StaticResolver

REFUSED_ADDRESSES = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.4.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "shared address space"),
    ("100.127.255.254", "shared address space"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("198.18.0.1", "benchmarking"),
    ("192.0.2.10", "private"),  # TEST-NET-1, documentation only
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.5", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ("2001:db8::1", "private"),  # documentation
]


@pytest.mark.parametrize(("text", "reason"), REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused_with_their_reason(text: str, reason: str) -> None:
    address = parse_address(text)
    assert address is not None
    refused = refusal(address)
    assert refused is not None
    assert reason in refused


@pytest.mark.parametrize(
    "text", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.215.14"]
)
def test_public_addresses_are_allowed(text: str) -> None:
    assert refusal(ip_address(text)) is None


def test_a_zone_id_does_not_hide_a_link_local_address() -> None:
    address = parse_address("fe80::1%eth0")
    assert address is not None
    assert refusal(address) == "link-local"


RESOLVER = StaticResolver(
    {
        "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "metadata.attacker.example": ["169.254.169.254"],
        "loop.attacker.example": ["127.0.0.1"],
        "intranet.attacker.example": ["10.0.0.5"],
        "v6loop.attacker.example": ["::1"],
        "mixed.attacker.example": ["93.184.215.14", "10.0.0.5"],
        "empty.example": [],
    }
)

POINTING_INSIDE = [
    "https://127.0.0.1/hook",
    "https://10.0.0.5/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://2130706433/hook",  # 127.0.0.1 written as one number: a name to resolve
    "https://metadata.attacker.example/hook",
    "https://loop.attacker.example/hook",
    "https://intranet.attacker.example/hook",
    "https://v6loop.attacker.example/hook",
    "https://mixed.attacker.example/hook",
    "https://nowhere.example/hook",
    "https://empty.example/hook",
]
REFUSED_URLS = [
    *POINTING_INSIDE,
    "http://hooks.example.com/hook",
    "ftp://hooks.example.com/hook",
    "https://user:secret@hooks.example.com/hook",
    "https://hooks.example.com:99999/hook",
    "hooks.example.com/hook",
    "https:///hook",
    "https://[::1/hook",  # unreadable: refused, not a ValueError out of urlsplit
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_urls_that_would_reach_inside_are_refused(url: str) -> None:
    with pytest.raises(RefusedDestination):
        check_destination(url, RESOLVER, allow_private=False)


def test_every_refused_destination_answers_the_same_and_keeps_its_reason() -> None:
    reasons, answers = set(), set()
    for url in POINTING_INSIDE:
        with pytest.raises(RefusedDestination) as refused:
            check_destination(url, RESOLVER, allow_private=False)
        reasons.add(str(refused.value))
        answers.add(refused.value.answer)
    assert answers == {NOT_CALLABLE}
    assert len(reasons) > 5  # the record still says which: loopback, private, no address…


def test_a_public_https_url_is_accepted_with_every_address_it_resolves_to() -> None:
    destination = check_destination(
        "https://Hooks.Example.com:8443/in?x=1", RESOLVER, allow_private=False
    )
    assert destination.host == "hooks.example.com"
    assert destination.port == 8443
    assert [str(a) for a in destination.addresses] == RESOLVER.answers["hooks.example.com"]


def test_allow_private_admits_local_http_receivers_and_nothing_else_changes() -> None:
    destination = check_destination(
        "http://loop.attacker.example:9000/hook", RESOLVER, allow_private=True
    )
    assert [str(a) for a in destination.addresses] == ["127.0.0.1"]
    assert destination.port == 9000
    for url in ("ftp://127.0.0.1/", "http://u:p@127.0.0.1/", "https://nowhere.example/"):
        with pytest.raises(RefusedDestination):
            check_destination(url, RESOLVER, allow_private=True)
