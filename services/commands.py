"""The command path: load a stream's state, let the domain decide, append at the version
the decision was made on, and on a conflict decide again on what the winner recorded.

Every write of the platform goes through `execute`: nothing else catches a
`ConcurrencyError`. A stream of independent facts (an audit day, a provider's call
outcomes) is the same call with a decision that ignores the state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic
from uuid import UUID, uuid5

from domain.envelope import SYSTEM_ACTOR, Actor, Event, NewEvent
from domain.generation import Payload
from services.ports import ConcurrencyError, EventIdConflict
from services.repository import Aggregate, Loaded, Repository, S

# Each attempt after the first follows another writer's append, so reaching this many
# means the stream is written far faster than its decisions are made.
MAX_ATTEMPTS = 50


class StreamContended(Exception):
    """A command lost the race on its stream at every attempt and gave up."""

    def __init__(self, stream_id: str, attempts: int, expected: int, actual: int) -> None:
        super().__init__(
            f"gave up on stream {stream_id!r} after {attempts} attempts: the last decision"
            f" was made at version {expected}, and the stream was at version {actual}"
        )
        self.stream_id = stream_id
        self.attempts = attempts
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who and what caused the events a decision records, and how their ids are made.

    With `key`, ids derive from it (so re-running a step after a crash makes the same
    ids, and the store's idempotent append applies); `fixed_ids` gives an event type an
    id of its own (one the store can look up, see `EventStore.find_event`). `actor` did
    what the events record, but for the types `actors` names another for (a request is
    its requester's act; the screening appended with it, the platform's).
    """

    correlation_id: UUID
    actor: Actor = SYSTEM_ACTOR
    causation_id: UUID | None = None
    key: str | None = None
    fixed_ids: Mapping[str, UUID] = field(default_factory=dict)
    actors: Mapping[str, Actor] = field(default_factory=dict)

    def events(self, payloads: Sequence[Payload]) -> list[NewEvent]:
        events = []
        for index, payload in enumerate(payloads):
            event_id = self.fixed_ids.get(payload.TYPE)
            if event_id is None and self.key is not None:
                event_id = uuid5(self.correlation_id, f"{self.key}/{index}/{payload.TYPE}")
            events.append(
                NewEvent(
                    type=payload.TYPE,
                    data=payload.model_dump(mode="json"),
                    actor=self.actors.get(payload.TYPE, self.actor),
                    correlation_id=self.correlation_id,
                    causation_id=self.causation_id,
                    **({} if event_id is None else {"event_id": event_id}),
                )
            )
        return events


@dataclass(frozen=True, slots=True)
class Decided(Generic[S]):
    """What a command did: the state it decided on, the events it recorded (none when
    the decision was to do nothing, or when an identical append had already been
    made), and the state after them."""

    before: Loaded[S]
    recorded: list[Event]
    after: Loaded[S]


def execute(
    repository: Repository,
    aggregate: Aggregate[S],
    stream_id: str,
    decide: Callable[[S], Sequence[Payload]],
    stamp: Stamp | Callable[[Loaded[S]], Stamp],
    *,
    start: Loaded[S] | None = None,
    new_stream: bool = False,
    attempts: int = MAX_ATTEMPTS,
) -> Decided[S]:
    """Decide on the stream's current state and append the decision at its version,
    deciding again after each conflict, at most `attempts` times.

    `decide` may raise (a refusal): nothing is appended then. The first decision is made
    on `start` when given (a state the caller holds, e.g. the previous step's result),
    or with `new_stream` on the empty state (a stream expected not to exist yet), without
    reading the stream: if it has moved on, the append conflicts and the next decision
    is made on what is there.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    with repository.turn(stream_id):
        known = repository.known(aggregate, stream_id)
        if start is not None:
            # A decision made in this process while this one waited its turn is newer.
            state = known if known is not None and known.version > start.version else start
        elif new_stream:
            state = repository.empty(aggregate, stream_id)
        else:
            state = repository.load(aggregate, stream_id)
        for _ in range(attempts):
            payloads = decide(state.state)
            if not payloads:
                return Decided(state, [], state)
            events = (stamp if isinstance(stamp, Stamp) else stamp(state)).events(payloads)
            decided_at = state.version
            try:
                after, recorded = repository.append(aggregate, state, events)
            except ConcurrencyError:
                state = repository.load(aggregate, stream_id)
                continue
            except EventIdConflict:
                # A decision on a stale state may repeat a fixed id that the winner recorded
                # in another batch (a duplicate delivery's charge): a lost race like any
                # other. At the stream's own head it is a caller's bug, and is raised.
                state = repository.load(aggregate, stream_id)
                if state.version == decided_at:
                    raise
                continue
            return Decided(state, recorded, after)
        raise StreamContended(stream_id, attempts, decided_at, state.version)
