"""A small aggregate for the command path's tests (services/repository.py,
services/commands.py): a counter stream of `Tick` events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from domain.envelope import Event, NewEvent
from domain.generation import Payload
from services.commands import Stamp
from services.repository import Aggregate


class Tick(Payload):
    TYPE: ClassVar[str] = "Tick"

    n: int


@dataclass(frozen=True, slots=True)
class Count:
    version: int = 0
    total: int = 0  # the sum of the ticks' n


def _evolve(state: Count, event: Event) -> Count:
    return Count(event.version, state.total + Tick.model_validate(event.data).n)


def _to_snapshot(state: Count) -> dict[str, Any]:
    return {"version": state.version, "total": state.total}


def _from_snapshot(state: dict[str, Any]) -> Count:
    return Count(state["version"], state["total"])


COUNTER: Aggregate[Count] = Aggregate(
    "counter",
    lambda _: Count(),
    _evolve,
    to_snapshot=_to_snapshot,
    from_snapshot=_from_snapshot,
)
STAMP = Stamp(UUID("00000000-0000-4000-8000-000000000001"))


def ticks(*ns: int) -> list[NewEvent]:
    return STAMP.events([Tick(n=n) for n in ns])
