"""A resolver port fake: names answer from a table, as a DNS server would be told to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.destinations import IPAddress, parse_address
from services.destinations import UnresolvableHost


class StaticResolver:
    """Implements `services.destinations.Resolver`; `answers` may be changed between calls
    (to play a rebinding DNS server)."""

    def __init__(self, answers: Mapping[str, Sequence[str]]) -> None:
        self.answers = dict(answers)
        self.asked: list[str] = []

    def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        self.asked.append(host)
        if host not in self.answers:
            raise UnresolvableHost(f"{host}: no such name")
        return tuple(a for a in map(parse_address, self.answers[host]) if a is not None)
