"""Every event type the platform records: what a filter on `type` may name.

Each type is a `Payload` subclass in one of the domain's modules; importing them all
here makes the set complete (tests/unit/test_event_types.py checks that no module of
the domain defines a type this misses).
"""

from __future__ import annotations

from domain import audit_reads, budget, destinations, privacy, provider_health, quota, webhooks
from domain.generation import Payload

# Imported for the payload classes they define; named so the import is not "unused".
_MODULES = (audit_reads, budget, destinations, privacy, provider_health, quota, webhooks)


def _payload_types(cls: type[Payload]) -> set[str]:
    found = set()
    for sub in cls.__subclasses__():
        if "TYPE" in vars(sub):
            found.add(sub.TYPE)
        found |= _payload_types(sub)
    return found


EVENT_TYPES: frozenset[str] = frozenset(_payload_types(Payload))


def unknown_types(types: frozenset[str]) -> list[str]:
    """The names in `types` that are no event type, sorted."""
    return sorted(types - EVENT_TYPES)
