"""Reading and writing the budget streams with expected versions and bounded retries.

Every write here is decided on the version it read and appended at that version; a
conflict means another worker wrote first, so we re-read and decide again.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from uuid import UUID, uuid5

from domain import budget
from domain.budget import Budget, BudgetPolicy, BudgetSet
from domain.envelope import SYSTEM_ACTOR, Actor, NewEvent
from domain.generation import Payload
from domain.streams import budget_policy_stream
from services.ports import ConcurrencyError, EventStore

MAX_CONFLICT_RETRIES = 50


def to_new_events(
    payloads: Sequence[Payload],
    *,
    correlation_id: UUID,
    causation_id: UUID | None = None,
    actor: Actor = SYSTEM_ACTOR,
    deterministic_key: str | None = None,
) -> list[NewEvent]:
    """Wrap payloads as NewEvents.

    With `deterministic_key`, event ids derive from it, so re-running the same step
    after a crash produces the same ids and the store's idempotent append applies.
    """
    events = []
    for index, payload in enumerate(payloads):
        extra = {}
        if deterministic_key is not None:
            extra["event_id"] = uuid5(correlation_id, f"{deterministic_key}/{index}/{payload.TYPE}")
        events.append(
            NewEvent(
                type=payload.TYPE,
                data=payload.model_dump(mode="json"),
                actor=actor,
                correlation_id=correlation_id,
                causation_id=causation_id,
                **extra,
            )
        )
    return events


def load_budget(store: EventStore, stream_id: str) -> Budget:
    return budget.fold(store.read_stream(stream_id))


class _Months:
    """This process's latest known state of each budget stream it has decided on.

    The streams are append-only, so a state known at version v stays true of the first
    v events whatever other workers append since: bringing it up to date reads only the
    events after v. A decision on a stale state fails its append on the expected version
    and the retry reads what it missed, so the cache never decides on old facts.
    """

    def __init__(self) -> None:
        self._states: dict[str, Budget] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def current(self, store: EventStore, stream_id: str) -> Budget:
        with self._guard:
            lock = self._locks.setdefault(stream_id, threading.Lock())
        # One refresh at a time per stream, so concurrent deciders extend one history
        # instead of each branching its own copy of the month off the same state.
        with lock:
            state = self._states.get(stream_id, Budget())
            newer = store.read_stream(stream_id, from_version=state.version + 1)
            if newer:
                state = budget.fold(newer, state)
                self._states[stream_id] = state
            return state


_months: weakref.WeakKeyDictionary[EventStore, _Months] = weakref.WeakKeyDictionary()
_months_guard = threading.Lock()


def current_budget(store: EventStore, stream_id: str) -> Budget:
    """The stream's state now, folding only what this process has not seen yet."""
    with _months_guard:
        months = _months.get(store)
        if months is None:
            months = _months[store] = _Months()
    return months.current(store, stream_id)


def standing_policy(store: EventStore, department_id: str, default: BudgetPolicy) -> BudgetPolicy:
    events = store.read_stream(budget_policy_stream(department_id))
    if not events:
        return default
    return BudgetSet.model_validate(events[-1].data).policy


def decide_and_append(
    store: EventStore,
    stream_id: str,
    decide: Callable[[Budget], Sequence[Payload]],
    *,
    correlation_id: UUID,
    actor: Actor = SYSTEM_ACTOR,
) -> Budget:
    """Run `decide` on the stream's current state and append its events, retrying conflicts.

    Returns the state the decision was made on.
    """
    for _ in range(MAX_CONFLICT_RETRIES):
        state = current_budget(store, stream_id)
        payloads = decide(state)
        if not payloads:
            return state
        try:
            store.append(
                stream_id,
                state.version,
                to_new_events(payloads, correlation_id=correlation_id, actor=actor),
            )
        except ConcurrencyError:
            continue
        return state
    raise ConcurrencyError(stream_id, -1, -1)
