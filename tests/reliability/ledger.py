"""Read the whole log back to check the money: one charge per generation, sums exact."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from adapters.sqlite_event_store import SqliteEventStore


def charges_per_generation(store: SqliteEventStore) -> Counter[str]:
    charges: Counter[str] = Counter()
    position = 0
    while batch := store.read_all(after_position=position, limit=5000):
        for item in batch:
            if item.event.type == "CostCharged":
                charges[item.event.data["generation_id"]] += 1
        position = batch[-1].position
    return charges


def generation_charges(store: SqliteEventStore) -> dict[str, Decimal]:
    """Cost of every GenerationCharged, by generation stream."""
    charged: dict[str, Decimal] = {}
    position = 0
    while batch := store.read_all(after_position=position, limit=5000):
        for item in batch:
            if item.event.type == "GenerationCharged":
                assert item.event.stream_id not in charged, "a generation charged twice"
                charged[item.event.stream_id] = Decimal(item.event.data["cost_aud"])
        position = batch[-1].position
    return charged
