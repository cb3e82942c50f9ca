"""Checking a webhook or callback URL before the platform calls it.

A URL is checked when a client hands it over (`PUT /webhooks`, `POST /generations`) so
a bad one is refused at once, and again by the sender right before it connects, on a
fresh resolution: the name's answer may have changed since (DNS rebinding), so only
the addresses checked at send time are connected to.

`allow_private` admits plain http and private or loopback receivers. It exists for
the embedded default's own tests and local development; settings refuse it together
with Entra sign-in (`DONATELLO_AUTH_MODE=entra`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, urlsplit

from domain.destinations import IPAddress, parse_address, refusal

_DEFAULT_PORTS = {"https": 443, "http": 80}


class UnresolvableHost(Exception):
    """The name has no address (or the resolver failed); it may resolve later."""


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """Every address `host` resolves to; raises UnresolvableHost."""
        ...


# Where a URL points is never told to the client: "does not resolve" or "points at a
# loopback address" would let anyone map the names inside the platform's network.
NOT_CALLABLE = "the URL's host is not a public address the platform may call"


class RefusedDestination(ValueError):
    """A URL the platform will not call: its shape, or where its name points.

    `str()` says exactly why, for the record and the log; `answer` is what the client is
    told: the same for every destination refused, the reason itself for a shape refused.
    """

    def __init__(self, reason: str, *, answer: str | None = None) -> None:
        super().__init__(reason)
        self.answer = reason if answer is None else answer


@dataclass(frozen=True, slots=True)
class Destination:
    """A URL that passed the check, with the addresses it was checked against."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]  # every one of them allowed; connect to these only


def check_shape(url: str, *, allow_private: bool) -> SplitResult:
    """The checks that need no network: scheme, host, credentials, port."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, say
        raise RefusedDestination("the URL cannot be read") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise RefusedDestination(f"the URL must be absolute with scheme {' or '.join(allowed)}")
    if parts.username is not None or parts.password is not None:
        raise RefusedDestination("the URL must not carry credentials")
    try:
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        raise RefusedDestination("the URL's port is not valid") from None
    return parts


def check_destination(url: str, resolver: Resolver, *, allow_private: bool) -> Destination:
    """The URL's destination if every address its host resolves to may be called.

    One refused address refuses the URL: a client must not be able to win by
    the order in which a resolver happens to answer.
    """
    parts = check_shape(url, allow_private=allow_private)
    host = parts.hostname or ""  # check_shape refused an empty host
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    literal = parse_address(host)
    if literal is not None:
        addresses: tuple[IPAddress, ...] = (literal,)
    else:
        try:
            addresses = resolver.resolve(host, port)
        except UnresolvableHost as error:
            raise RefusedDestination(
                f"the host {host!r} does not resolve: {error}", answer=NOT_CALLABLE
            ) from None
        if not addresses:
            raise RefusedDestination(f"the host {host!r} does not resolve", answer=NOT_CALLABLE)
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise RefusedDestination(
                    f"the host {host!r} points at a {reason} address, which is never called",
                    answer=NOT_CALLABLE,
                )
    return Destination(url, parts.scheme, host, port, addresses)
