"""The facts of one budget month per generation (holds and charges), kept so that
folding the next event is O(1) and every earlier state still answers as it did.

`domain.budget.Budget` reads its reservations and charges through these views; nothing
else needs them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation held for one generation."""

    amount: Decimal
    model_id: str


class MonthLedger:
    """The month's per-generation facts, shared by the successive states of one history.

    Every fact is stamped with the version that recorded it and a state reads only the
    facts at or below its own version, so extending the ledger for the next state leaves
    the earlier states' answers unchanged. That makes `evolve` O(1) where copying the
    month's reservations and charges would make it O(month), and a decision O(month²).
    A state that is not the ledger's newest (a second history branching off an older
    state) is given a copy up to its own version first.
    """

    __slots__ = ("charged", "head", "holds", "lock")

    def __init__(
        self,
        head: int = 0,
        holds: dict[UUID, list[tuple[int, Hold | None]]] | None = None,
        charged: dict[UUID, int] | None = None,
    ) -> None:
        self.head = head
        # generation -> its hold's history as (version, hold or None once freed)
        self.holds = holds if holds is not None else {}
        self.charged = charged if charged is not None else {}
        self.lock = threading.Lock()  # states are shared between threads

    def hold_at(self, generation_id: UUID, version: int) -> Hold | None:
        for recorded_at, hold in reversed(self.holds.get(generation_id, ())):
            if recorded_at <= version:
                return hold
        return None

    def charged_at(self, generation_id: UUID, version: int) -> bool:
        recorded_at = self.charged.get(generation_id)
        return recorded_at is not None and recorded_at <= version

    def up_to(self, version: int) -> MonthLedger:
        holds = {}
        for gid, history in list(self.holds.items()):
            kept = [entry for entry in history if entry[0] <= version]
            if kept:
                holds[gid] = kept
        charged = {gid: at for gid, at in list(self.charged.items()) if at <= version}
        return MonthLedger(version, holds, charged)


class OpenHolds(Mapping[UUID, Hold]):
    """A state's open holds, read from the shared ledger at the state's version."""

    __slots__ = ("_ledger", "_version")

    def __init__(self, ledger: MonthLedger, version: int) -> None:
        self._ledger = ledger
        self._version = version

    def __getitem__(self, generation_id: UUID) -> Hold:
        hold = self._ledger.hold_at(generation_id, self._version)
        if hold is None:
            raise KeyError(generation_id)
        return hold

    def __iter__(self) -> Iterator[UUID]:
        for gid in list(self._ledger.holds):
            if self._ledger.hold_at(gid, self._version) is not None:
                yield gid

    def __len__(self) -> int:
        return sum(1 for _ in self)


class ChargedSet(AbstractSet[UUID]):
    """The generations a state has charged, read from the shared ledger."""

    __slots__ = ("_count", "_ledger", "_version")

    def __init__(self, ledger: MonthLedger, version: int, count: int) -> None:
        self._ledger = ledger
        self._version = version
        self._count = count

    def __contains__(self, generation_id: object) -> bool:
        return isinstance(generation_id, UUID) and self._ledger.charged_at(
            generation_id, self._version
        )

    def __iter__(self) -> Iterator[UUID]:
        for gid in list(self._ledger.charged):
            if self._ledger.charged_at(gid, self._version):
                yield gid

    def __len__(self) -> int:
        return self._count
