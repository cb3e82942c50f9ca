"""Verify: recompute every hash chain and every seal, and report what does not hold.

One pass over the log in global order (`domain.audit.ChainVerifier`: it remembers a
bounded number of streams' heads and asks the log to place the other events against
their predecessors, so memory stays flat as the log grows; a stream with an event out of
line is read on its own and examined), then one over the seals, each checked in itself,
as the successor of the one before, and head by head against the log (`domain.audit`
defines each kind of problem).

`since=N` verifies from seal N on: the chains start from the log at seal N's position,
each stream's first event here placed against the event before it in the log; a stream
out of line there is examined, linked to seal N's head for it, or else to that event
(which the earlier seals vouch for); seals N, N + 1, … are checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from domain.audit import (
    MAX_REPORTED_GAP,
    SEALS_STREAM,
    ChainVerifier,
    Link,
    Problem,
    ProblemKind,
    StreamEvent,
    Unplaced,
)
from domain.seals import Seal, link_faults, seal_faults
from services.errors import NotFound
from services.seals import SealStore, parse_seal


class VerifiableLog(Protocol):
    def last_position(self) -> int: ...

    def links(self, after_position: int, up_to_position: int) -> Iterator[Link]:
        """The events in (`after_position`, `up_to_position`] in global order, as links."""
        ...

    def places(self, events: Sequence[Unplaced], after_position: int) -> list[int]:
        """The `domain.audit.Place` of each event, in order, for a range after
        `after_position`: the log looks up each one's predecessor by stream and version
        (as any store with an index or a point read on both can), so that the verifier
        need remember only a bounded number of streams."""
        ...

    def stream(
        self, stream_id: str, after_position: int, up_to_position: int
    ) -> Iterator[StreamEvent]:
        """One stream's events, by descending version: from the least version at a position
        in (`after_position`, `up_to_position`] up, at positions up to `up_to_position`."""
        ...

    def hash_at(self, stream_id: str, version: int) -> str | None: ...

    def hashes_at(self, keys: Sequence[tuple[str, int]]) -> list[str | None]:
        """`hash_at` of each (stream_id, version), in order: a whole seal's heads at once."""
        ...


@dataclass(frozen=True, slots=True)
class AuditReport:
    problems: tuple[Problem, ...]
    events: int
    streams: int
    seals: int
    since_seal: int | None
    from_position: int
    up_to_position: int
    complete: bool  # False when `max_events` stopped the pass before the log's end

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok and self.complete,
            "complete": self.complete,
            "events": self.events,
            "streams": self.streams,
            "seals": self.seals,
            "since_seal": self.since_seal,
            "from_position": self.from_position,
            "up_to_position": self.up_to_position,
            "problems": [
                {
                    "stream_id": problem.stream_id,
                    "version": problem.version,
                    "kind": problem.kind.value,
                    "detail": problem.detail,
                }
                for problem in self.problems
            ],
        }


def verify_log(
    log: VerifiableLog,
    seals: SealStore,
    *,
    since: int | None = None,
    max_events: int | None = None,
) -> AuditReport:
    """Raises `NotFound` when seal `since` does not exist or cannot be read."""
    start = None if since is None else _seal(seals, since)
    from_position = 0 if start is None else start.position
    last = log.last_position()
    up_to = last if max_events is None else min(last, from_position + max_events)
    chains = ChainVerifier(
        lambda events: log.places(events, from_position),
        lambda stream_id: log.stream(stream_id, from_position, up_to),
        None if start is None else _linker(log, start),
    )
    chains.feed(log.links(from_position, up_to))
    checked = _check_seals(log, seals, chains, since or 1, up_to)
    return AuditReport(
        problems=tuple(chains.finish()),
        events=chains.events,
        streams=chains.streams,
        seals=checked,
        since_seal=since,
        from_position=from_position,
        up_to_position=up_to,
        complete=up_to == last,
    )


def _seal(store: SealStore, number: int) -> Seal:
    for stored, text in store.read(number):
        if stored == number:
            try:
                return parse_seal(text)
            except (ValueError, KeyError, TypeError) as error:
                raise NotFound(f"seal {number} cannot be read") from error
        break
    raise NotFound(f"there is no seal {number}")


def _linker(log: VerifiableLog, start: Seal) -> Callable[[str, int], str | None]:
    sealed = {head.stream_id: head for head in start.heads}

    def link_of(stream_id: str, version: int) -> str | None:
        head = sealed.get(stream_id)
        if head is not None and head.version == version - 1:
            return head.hash
        return log.hash_at(stream_id, version - 1)

    return link_of


def _check_seals(
    log: VerifiableLog, store: SealStore, chains: ChainVerifier, first: int, up_to: int
) -> int:
    """Checks seals `first`, … that reach no further than `up_to`; how many it checked."""
    previous: Seal | None = None
    checked = 0
    for number, text in store.read(max(1, first - 1)):
        try:
            seal = parse_seal(text)
        except (ValueError, KeyError, TypeError):
            if number >= first:
                chains.report(SEALS_STREAM, number, ProblemKind.SEAL_MISMATCH, "unreadable")
            previous = None
            continue
        if number < first:  # only the link the first checked seal must make
            previous = seal
            continue
        if seal.position > up_to:
            break
        checked += 1
        faults = seal_faults(seal)
        if previous is not None or number == 1:  # an unreadable predecessor has no hash to match
            faults += link_faults(seal, previous)
        if seal.number != number:
            faults.append(f"it is stored as seal {number}")
        if faults:  # its heads prove nothing: a forger could have written them
            chains.report(SEALS_STREAM, number, ProblemKind.SEAL_MISMATCH, "; ".join(faults))
        else:
            _check_heads(log, seal, chains)
        previous = seal
    return checked


def _check_heads(log: VerifiableLog, seal: Seal, chains: ChainVerifier) -> None:
    """Each head the seal holds must still be in the log, with the hash it had then."""
    detail = f"sealed in {seal.number}"
    stored = log.hashes_at([(head.stream_id, head.version) for head in seal.heads])
    for head, stored_hash in zip(seal.heads, stored, strict=True):
        if stored_hash is not None and stored_hash != head.hash:
            chains.report(head.stream_id, head.version, ProblemKind.INSERTED, detail)
        elif stored_hash is None:  # the tail is gone: name each version back to what is left
            version = head.version
            while (
                version >= 1
                and head.version - version < MAX_REPORTED_GAP
                and log.hash_at(head.stream_id, version) is None
            ):
                chains.report(head.stream_id, version, ProblemKind.MISSING, detail)
                version -= 1
