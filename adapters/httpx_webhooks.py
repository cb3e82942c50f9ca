"""Sends webhook POSTs with httpx, only to addresses checked at the moment of sending.

The URL's host is resolved and every address checked (`services.destinations`) right
before connecting, and the connection goes to a checked address, with the original
name kept for the Host header, TLS SNI and certificate verification. So a name that
resolved to a public address when registered and to 169.254.169.254 now (DNS
rebinding) is refused, not connected to.

Each POST gets its own connection: pooled connections are keyed by address, and a
TLS session verified for one name must not carry a request for another name that
happens to share the address. A redirect is answered as the receiver's status (a
failure), not followed: a signed notification goes to the registered URL or nowhere.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import httpx

from domain.destinations import IPAddress
from services.destinations import Destination, RefusedDestination, Resolver, check_destination
from services.webhooks import WebhookRefused, WebhookSendError


class HttpxWebhookSender:
    """Implements `services.webhooks.WebhookSender`."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        allow_private: bool,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._ssl_context = ssl_context or httpx.create_ssl_context()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        try:
            destination = check_destination(url, self._resolver, allow_private=self._allow_private)
        except RefusedDestination as refused:
            raise WebhookRefused(str(refused)) from None
        failure: httpx.HTTPError | None = None
        with httpx.Client(verify=self._ssl_context, follow_redirects=False) as client:
            for address in destination.addresses:
                request = _pinned(client, destination, address, body, headers, timeout)
                try:
                    return client.send(request).status_code
                except httpx.ConnectError as error:  # the name's next address may answer
                    failure = error
                except httpx.HTTPError as error:
                    failure = error
                    break
        raise WebhookSendError(f"{type(failure).__name__}: {failure}")


def _pinned(
    client: httpx.Client,
    destination: Destination,
    address: IPAddress,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
) -> httpx.Request:
    """A request to `address` that still names the URL's host to the receiver."""
    url = httpx.URL(destination.url)
    return client.build_request(
        "POST",
        url.copy_with(host=str(address)),
        content=body,
        headers={**headers, "Host": url.netloc.decode("ascii")},
        timeout=timeout,
        # httpcore verifies the certificate against the SNI name when one is given.
        extensions={"sni_hostname": destination.host} if destination.scheme == "https" else {},
    )
