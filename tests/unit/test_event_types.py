"""The list of event types a `type=` filter accepts is every type the domain defines."""

from __future__ import annotations

import importlib
import pkgutil

import domain
from domain.event_types import EVENT_TYPES, unknown_types
from domain.generation import Payload


def test_every_payload_type_of_every_domain_module_is_listed() -> None:
    defined = set()
    for module in pkgutil.iter_modules(domain.__path__):
        loaded = importlib.import_module(f"domain.{module.name}")
        defined |= {
            value.TYPE
            for value in vars(loaded).values()
            if isinstance(value, type) and issubclass(value, Payload) and "TYPE" in vars(value)
        }
    assert defined == EVENT_TYPES
    assert {"GenerationRequested", "CostCharged", "AuditLogRead", "SubjectErased"} <= EVENT_TYPES


def test_unknown_types_are_named_sorted() -> None:
    assert unknown_types(frozenset({"NoSuchType", "GenerationCharged", "Also"})) == [
        "Also",
        "NoSuchType",
    ]
