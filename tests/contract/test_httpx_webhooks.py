"""The webhook sender against real sockets: it connects only to addresses it checked
when sending, and keeps the URL's name for Host, SNI and certificate verification."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from adapters.httpx_webhooks import HttpxWebhookSender
from services.webhooks import WebhookRefused, WebhookSendError
from tests.static_resolver import StaticResolver
from tests.tls_cert import self_signed
from tests.webhook_receiver import running_receiver

BODY = b'{"id": "1"}'
NAME = "hooks.example.test"


def post(sender: HttpxWebhookSender, url: str) -> int:
    return sender.post(url, BODY, {"Content-Type": "application/json"}, timeout=5)


def test_the_connection_goes_to_the_checked_address_under_the_urls_name() -> None:
    resolver = StaticResolver({NAME: ["127.0.0.1"]})
    sender = HttpxWebhookSender(resolver, allow_private=True)
    with running_receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1].split("/")[0]
        assert post(sender, f"http://{NAME}:{port}/hooks") == 204
    (received,) = receiver.received
    assert received.headers["host"] == f"{NAME}:{port}"
    assert received.body == BODY
    assert resolver.asked == [NAME]


def test_a_name_rebound_to_loopback_after_registration_is_refused_when_sending() -> None:
    resolver = StaticResolver({NAME: ["93.184.215.14"]})
    sender = HttpxWebhookSender(resolver, allow_private=False)
    with running_receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1].split("/")[0]
        resolver.answers[NAME] = ["127.0.0.1"]  # the attacker's DNS changes its answer
        with pytest.raises(WebhookRefused, match="loopback"):
            post(sender, f"https://{NAME}:{port}/hooks")
        with pytest.raises(WebhookRefused):
            post(sender, receiver.url)  # http://127.0.0.1:…
    assert receiver.received == []


def test_a_dead_address_falls_through_to_the_next_one() -> None:
    resolver = StaticResolver({NAME: ["127.0.0.2", "127.0.0.1"]})
    sender = HttpxWebhookSender(resolver, allow_private=True)
    with running_receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1].split("/")[0]
        assert post(sender, f"http://{NAME}:{port}/hooks") == 204
    assert len(receiver.received) == 1


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"), NAME)


def test_tls_is_verified_against_the_urls_name_not_the_address(
    tls: tuple[ssl.SSLContext, Path],
) -> None:
    server_context, cert_file = tls
    resolver = StaticResolver({NAME: ["127.0.0.1"], "other.example.test": ["127.0.0.1"]})
    sender = HttpxWebhookSender(
        resolver, allow_private=True, ssl_context=ssl.create_default_context(cafile=cert_file)
    )
    with running_receiver(tls=server_context, host=NAME) as receiver:
        assert post(sender, receiver.url) == 204
        # The same address under a name the certificate does not carry: no request is sent.
        with pytest.raises(WebhookSendError, match="CERTIFICATE_VERIFY_FAILED"):
            post(sender, receiver.url.replace(NAME, "other.example.test"))
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["host"].startswith(NAME)
