"""Which network addresses the platform may send a webhook to.

A webhook URL is chosen by a client, so without this rule the webhook sender would
be a proxy into the platform's own network: its metadata endpoint (169.254.169.254),
its loopback services, its private subnets. Only addresses on the public internet
are callable. IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4, Teredo)
are judged by the address they carry, so a private address cannot hide inside one.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import ClassVar, Literal

from domain.generation import Payload

IPAddress = IPv4Address | IPv6Address


class DestinationRefused(Payload):
    """A client handed over a URL the platform will not call.

    The client is told only that it was refused (else the check would tell anyone which
    names resolve inside the network); this record keeps why, for whoever investigates.
    """

    TYPE: ClassVar[str] = "DestinationRefused"

    user_id: str
    department_id: str | None
    field: Literal["callback_url", "webhook_url"]
    host: str
    reason: str


# Ranges that `ipaddress`'s flags do not name on every Python version, or that deserve
# naming in a refusal: shared address space (carrier-grade NAT, RFC 6598), the
# benchmarking range, ULA and the deprecated site-local IPv6 range.
_NAMED_RANGES: tuple[tuple[IPv4Network | IPv6Network, str], ...] = (
    (IPv4Network("100.64.0.0/10"), "shared address space (CGNAT)"),
    (IPv4Network("198.18.0.0/15"), "benchmarking"),
    (IPv4Network("0.0.0.0/8"), "this network"),
    (IPv6Network("fc00::/7"), "unique local"),
    (IPv6Network("fec0::/10"), "site-local"),
)
_NAT64 = IPv6Network("64:ff9b::/96")


def refusal(address: IPAddress) -> str | None:
    """Why the platform must not connect to `address`, or None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal(embedded)
        return None if reason is None else f"{reason} (inside {address})"
    for flag, reason in (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_reserved, "reserved"),
    ):
        if flag:
            return reason
    for network, reason in _NAMED_RANGES:
        if address.version == network.version and address in network:
            return reason
    if address.is_private:
        return "private"
    if not address.is_global:  # whatever else IANA lists as special-purpose
        return "not globally routable"
    return None


def parse_address(text: str) -> IPAddress | None:
    """`text` as an IP address (an IPv6 zone id dropped), or None when it is a name."""
    try:
        return ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address
    return None
