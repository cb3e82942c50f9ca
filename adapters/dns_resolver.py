"""The system resolver (getaddrinfo) behind `services.destinations.Resolver`."""

from __future__ import annotations

import socket

from domain.destinations import IPAddress, parse_address
from services.destinations import UnresolvableHost


class SystemResolver:
    """Implements `services.destinations.Resolver` with the operating system's resolver."""

    def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise UnresolvableHost(str(error)) from None
        addresses = (parse_address(str(answer[4][0])) for answer in answers)
        return tuple(dict.fromkeys(a for a in addresses if a is not None))
