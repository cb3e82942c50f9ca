"""Verify: recompute every hash chain and every seal, and report what does not hold.

One pass over the log in global order (`domain.audit.ChainVerifier`: it remembers a
bounded number of streams' heads and asks the log to place the other events against
their predecessors, so memory stays flat as the log grows; a stream with an event out of
line is read on its own and examined), then one over the seals, each checked in itself,
as the successor of the one before, and head by head against the log (`domain.audit`
defines each kind of problem). The pass over the log may be split by position between
processes, one range each (`ChainPart`), while this one checks the seals: on two cores
that nearly halves a verify of millions of events.

`since=N` verifies from seal N on: the chains start from the log at seal N's position,
each stream's first event here placed against the event before it in the log; a stream
out of line there is examined, linked to seal N's head for it, or else to that event
(which the earlier seals vouch for); seals N, N + 1, … are checked.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise
from typing import Any, NoReturn, Protocol, runtime_checkable

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
from domain.seals import Head, Seal, link_faults, seal_faults
from services.errors import NotFound
from services.seals import SealableLog, SealStore, parse_seal

# Below this many events for each process a verify runs in one: forking, and the parts
# each placing the streams they share, would cost more than another core gives.
MIN_EVENTS_PER_PROCESS = 50_000

ProblemKey = tuple[str, int, ProblemKind]
Report = Callable[[str, int, ProblemKind, str], None]


class SealedHeads(Protocol):
    def hash_at(self, stream_id: str, version: int) -> str | None: ...

    def hashes_at(self, keys: Sequence[tuple[str, int]]) -> list[str | None]:
        """`hash_at` of each (stream_id, version), in order: a whole seal's heads at once."""
        ...


@runtime_checkable
class StreamwiseLog(SealedHeads, Protocol):
    """A log without a global order (Cosmos DB): its chains are verified stream by stream,
    and its seals' positions are whatever `last_position` counts in (commit time)."""

    def last_position(self) -> int: ...

    def streams(self, after_position: int = 0) -> Iterator[tuple[str, Iterator[StreamEvent]]]:
        """Every stream with an event after `after_position`, with those events by
        descending version, one stream at a time."""
        ...


class VerifiableLog(SealedHeads, Protocol):
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


class _ClosableLog(SealableLog, Protocol):
    def close(self) -> None: ...


class SealedLog(_ClosableLog, VerifiableLog, Protocol):
    """The embedded log, as the seal timer and verify read it."""


class SealedStreamwiseLog(_ClosableLog, StreamwiseLog, Protocol):
    """Cosmos DB's log, as the seal timer and verify read it."""


# What the composition root hands the seal timer and verify (`bootstrap.audit_log`).
AuditLog = SealedLog | SealedStreamwiseLog


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
    log: VerifiableLog | StreamwiseLog,
    seals: SealStore,
    *,
    since: int | None = None,
    max_events: int | None = None,
    processes: int = 1,
) -> AuditReport:
    """Raises `NotFound` when seal `since` does not exist or cannot be read.

    `processes` > 1 splits the chains between that many forked processes (`ChainPart`)
    while this one checks the seals; `log` must then pickle, and this process must have
    no other thread (fork copies no thread but the caller, nor the locks others hold).
    A log shorter than `MIN_EVENTS_PER_PROCESS` a process is verified here alone.

    A `StreamwiseLog` is verified stream by stream in this process (`_verify_streamwise`).
    """
    if isinstance(log, StreamwiseLog):
        return _verify_streamwise(log, seals, since=since, max_events=max_events)
    if processes > 1 and threading.active_count() > 1:
        raise RuntimeError("a verify in processes forks: start it from a single-threaded process")
    from_position, link_of = _starting_point(log, seals, since)
    last = log.last_position()
    up_to = last if max_events is None else min(last, from_position + max_events)
    parts = [
        ChainPart(log, from_position, after, end, up_to, link_of)
        for after, end in split_positions(from_position, up_to, processes)
    ]
    sealed: dict[ProblemKey, Problem] = {}
    if len(parts) == 1:
        findings = [parts[0].check()]
        checked = _check_seals(log, seals, _collector(sealed), since or 1, up_to)
    else:
        with multiprocessing.get_context("fork").Pool(len(parts)) as pool:
            pending = pool.map_async(ChainPart.check, parts, chunksize=1)
            checked = _check_seals(log, seals, _collector(sealed), since or 1, up_to)
            findings = pending.get()
    return AuditReport(
        problems=_each_once(*(part.problems for part in findings), sealed.values()),
        events=sum(part.events for part in findings),
        streams=sum(part.streams for part in findings),
        seals=checked,
        since_seal=since,
        from_position=from_position,
        up_to_position=up_to,
        complete=up_to == last,
    )


def _verify_streamwise(
    log: StreamwiseLog, seals: SealStore, *, since: int | None, max_events: int | None
) -> AuditReport:
    """Every stream's chain by its own rules, then every seal.

    `since=N`: the events after seal N's position, each stream's first of them linked to
    seal N's head for it or else to the event before it; seals N, N + 1, … are checked.
    `max_events` stops at the first stream boundary at or past that many events.
    """
    from_position, link_of = _starting_point(log, seals, since)
    up_to = log.last_position()
    chains = ChainVerifier(_no_global_order, _no_global_order, link_of)
    counted = [0]

    def counting(events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
        for event in events:
            counted[0] += 1
            yield event

    streams, complete = 0, True
    for stream_id, events in log.streams(from_position):
        if max_events is not None and counted[0] >= max_events:
            complete = False
            break
        chains.examine(stream_id, counting(events))
        streams += 1
    sealed: dict[ProblemKey, Problem] = {}
    checked = _check_seals(log, seals, _collector(sealed), since or 1, up_to)
    return AuditReport(
        problems=_each_once(chains.finish(), sealed.values()),
        events=counted[0],
        streams=streams,
        seals=checked,
        since_seal=since,
        from_position=from_position,
        up_to_position=up_to,
        complete=complete,
    )


def _no_global_order(_: object) -> NoReturn:
    raise RuntimeError("a log without a global order is verified stream by stream")


def split_positions(from_position: int, up_to: int, parts: int) -> list[tuple[int, int]]:
    """(after, end] ranges of about equal length covering (`from_position`, `up_to`]."""
    length = up_to - from_position
    count = max(1, min(parts, length // MIN_EVENTS_PER_PROCESS))
    ends = [from_position + length * n // count for n in range(count + 1)]
    return list(pairwise(ends))


@dataclass(frozen=True, slots=True)
class ChainFindings:
    problems: tuple[Problem, ...]
    events: int
    streams: int


@dataclass(frozen=True, slots=True)
class ChainPart:
    """The chains of the events at positions in (`after`, `end`], of a verify of
    (`from_position`, `up_to`]: one process's share.

    Each part remembers only the heads it has seen, so it places every stream's first
    event here against the log as the whole verify would (`Place`, the range starting at
    `from_position`): an event in line with its predecessor in an earlier part is in line,
    one out of line is out of line to the whole verify too. Examining a stream reads it
    over the whole verify's range, as one pass would, so the parts together report exactly
    the problems one pass reports, and on a sound log count each stream once
    (tests/e2e/test_audit_tamper.py splits at every position to hold them to it).
    """

    log: VerifiableLog
    from_position: int
    after: int
    end: int
    up_to: int
    link_of: SealLinker | None

    def check(self) -> ChainFindings:
        log = self.log
        chains = ChainVerifier(
            lambda events: log.places(events, self.from_position),
            lambda stream_id: log.stream(stream_id, self.from_position, self.up_to),
            self.link_of,
        )
        chains.feed(log.links(self.after, self.end))
        return ChainFindings(tuple(chains.finish()), chains.events, chains.streams)


@dataclass(frozen=True, slots=True)
class SealLinker:
    """What a `--since` verify links each stream's first event to: the seal's head for
    the stream, or else the event before it in the log (which earlier seals vouch for)."""

    log: SealedHeads
    sealed: dict[str, Head]

    def __call__(self, stream_id: str, version: int) -> str | None:
        head = self.sealed.get(stream_id)
        if head is not None and head.version == version - 1:
            return head.hash
        return self.log.hash_at(stream_id, version - 1)


def _starting_point(
    log: SealedHeads, seals: SealStore, since: int | None
) -> tuple[int, SealLinker | None]:
    """Where a verify starts, and what it links each stream's first event to: the log's
    beginning and nothing, or seal `since`'s position and its heads."""
    if since is None:
        return 0, None
    start = _seal(seals, since)
    return start.position, SealLinker(log, {head.stream_id: head for head in start.heads})


def _each_once(*found: Iterable[Problem]) -> tuple[Problem, ...]:
    """The problems in the order found, each (stream, version, kind) once."""
    problems: dict[ProblemKey, Problem] = {}
    for problem in chain.from_iterable(found):
        problems.setdefault((problem.stream_id, problem.version, problem.kind), problem)
    return tuple(problems.values())


def _collector(problems: dict[ProblemKey, Problem]) -> Report:
    def report(stream_id: str, version: int, kind: ProblemKind, detail: str) -> None:
        problems.setdefault((stream_id, version, kind), Problem(stream_id, version, kind, detail))

    return report


def _seal(store: SealStore, number: int) -> Seal:
    for stored, text in store.read(number):
        if stored == number:
            try:
                return parse_seal(text)
            except (ValueError, KeyError, TypeError) as error:
                raise NotFound(f"seal {number} cannot be read") from error
        break
    raise NotFound(f"there is no seal {number}")


def _check_seals(log: SealedHeads, store: SealStore, report: Report, first: int, up_to: int) -> int:
    """Checks seals `first`, … that reach no further than `up_to`; how many it checked."""
    previous: Seal | None = None
    checked = 0
    for number, text in store.read(max(1, first - 1)):
        try:
            seal = parse_seal(text)
        except (ValueError, KeyError, TypeError):
            if number >= first:
                report(SEALS_STREAM, number, ProblemKind.SEAL_MISMATCH, "unreadable")
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
            report(SEALS_STREAM, number, ProblemKind.SEAL_MISMATCH, "; ".join(faults))
        else:
            _check_heads(log, seal, report)
        previous = seal
    return checked


def _check_heads(log: SealedHeads, seal: Seal, report: Report) -> None:
    """Each head the seal holds must still be in the log, with the hash it had then."""
    detail = f"sealed in {seal.number}"
    stored = log.hashes_at([(head.stream_id, head.version) for head in seal.heads])
    for head, stored_hash in zip(seal.heads, stored, strict=True):
        if stored_hash is not None and stored_hash != head.hash:
            report(head.stream_id, head.version, ProblemKind.INSERTED, detail)
        elif stored_hash is None:  # the tail is gone: name each version back to what is left
            version = head.version
            while (
                version >= 1
                and head.version - version < MAX_REPORTED_GAP
                and log.hash_at(head.stream_id, version) is None
            ):
                report(head.stream_id, version, ProblemKind.MISSING, detail)
                version -= 1
