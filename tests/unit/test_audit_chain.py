"""The chain verifier on hand-made logs: each kind of problem, raised exactly where defined.

`MemoryLog` answers links and streams as the SQLite audit log does (the contract tests
hold that adapter to the same places), from events listed in global order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence

from domain.audit import (
    MAX_REMEMBERED_HEADS,
    ChainVerifier,
    Link,
    Place,
    Problem,
    ProblemKind,
    StreamEvent,
    Unplaced,
)
from domain.envelope import GENESIS_HASH

# stream_id, version, prev_hash, hash, hashed text: an event as stored
Event = tuple[str, int, str, str, str | None]


class MemoryLog:
    def __init__(self, events: list[Event]) -> None:
        self.events = events  # position n is events[n - 1]
        self.streams_read: list[str] = []
        self.placed: list[tuple[str, int]] = []

    def links(self, after: int = 0) -> Iterator[Link]:
        for position, event in enumerate(self.events, 1):
            if position > after:
                yield (*event, position)

    def places(self, events: Sequence[Unplaced], after: int) -> list[int]:
        at = {(e[0], e[1]): (n, e) for n, e in enumerate(self.events, 1)}
        self.placed += [(stream_id, version) for stream_id, version, _, _ in events]
        return [self._place(at, *event, after) for event in events]

    def _place(
        self,
        at: dict[tuple[str, int], tuple[int, Event]],
        stream_id: str,
        version: int,
        prev_hash: str,
        position: int,
        after: int,
    ) -> int:
        successor = at.get((stream_id, version + 1))
        if after and successor is not None and successor[0] <= after:
            return Place.OUT_OF_LINE
        found = at.get((stream_id, version - 1))
        if found is None:
            return Place.FIRST_OUT_OF_LINE
        previous_position, previous = found
        linked = previous[3] == prev_hash
        if previous_position <= after:
            return Place.FIRST_IN_LINE if linked else Place.FIRST_OUT_OF_LINE
        return Place.IN_LINE if linked and previous_position < position else Place.OUT_OF_LINE

    def stream(self, stream_id: str, after: int = 0) -> Iterator[StreamEvent]:
        self.streams_read.append(stream_id)
        found = [
            (version, position, prev_hash, hash_, text)
            for position, (s, version, prev_hash, hash_, text) in enumerate(self.events, 1)
            if s == stream_id
        ]
        first = min(version for version, position, *_ in found if position > after)
        return iter(sorted((e for e in found if e[0] >= first), reverse=True))


def chain(stream_id: str, count: int) -> list[Event]:
    events: list[Event] = []
    prev = GENESIS_HASH
    for version in range(1, count + 1):
        text = f"{stream_id}|{version}|{prev}|payload {version}"
        hash_ = hashlib.sha256(text.encode()).hexdigest()
        events.append((stream_id, version, prev, hash_, text))
        prev = hash_
    return events


def interleave(*streams: list[Event]) -> list[Event]:
    merged: list[Event] = []
    for i in range(max(len(s) for s in streams)):
        merged.extend(s[i] for s in streams if i < len(s))
    return merged


def verifier_of(
    log: MemoryLog,
    after: int = 0,
    link_of: Callable[[str, int], str | None] | None = None,
    remembered_heads: int = MAX_REMEMBERED_HEADS,
) -> ChainVerifier:
    verifier = ChainVerifier(
        lambda events: log.places(events, after),
        lambda stream_id: log.stream(stream_id, after),
        link_of,
        remembered_heads,
    )
    verifier.feed(log.links(after))
    return verifier


def verify(events: list[Event]) -> list[tuple[str, int, ProblemKind]]:
    """The problems found, the same whether the verifier remembers every stream or one."""
    found = []
    for remembered_heads in (MAX_REMEMBERED_HEADS, 1):
        verifier = verifier_of(MemoryLog(events), remembered_heads=remembered_heads)
        found.append([(p.stream_id, p.version, p.kind) for p in verifier.finish()])
    assert found[0] == found[1]
    return found[0]


def forged(event: Event, prev: str, payload: str) -> Event:
    stream_id, version, _, _, _ = event
    text = f"{stream_id}|{version}|{prev}|{payload}"
    return (stream_id, version, prev, hashlib.sha256(text.encode()).hexdigest(), text)


def test_intact_chains_pass_without_reading_any_stream() -> None:
    log = MemoryLog(interleave(chain("a", 50), chain("b", 30), chain("c", 1)))
    verifier = verifier_of(log)
    assert verifier.finish() == []
    assert (verifier.events, verifier.streams) == (81, 3)
    assert (log.streams_read, log.placed) == ([], [])


def test_streams_past_those_remembered_are_placed_by_the_log() -> None:
    log = MemoryLog(interleave(chain("a", 3), chain("b", 3), chain("c", 3)))
    verifier = verifier_of(log, remembered_heads=2)
    assert verifier.finish() == []
    assert (verifier.events, verifier.streams) == (9, 3)
    assert log.placed == [("a", 2), ("b", 2), ("c", 2), ("a", 3), ("b", 3), ("c", 3)]
    assert log.streams_read == []


def test_changed_content_is_modified_and_only_there() -> None:
    a = chain("a", 5)
    stream_id, version, prev, hash_, text = a[2]
    a[2] = (stream_id, version, prev, hash_, str(text).replace("payload", "paylaod"))
    assert verify(interleave(a, chain("b", 5))) == [("a", 3, ProblemKind.MODIFIED)]


def test_an_unreadable_event_is_modified() -> None:
    a = chain("a", 3)
    a[1] = (*a[1][:4], None)
    assert verify(a) == [("a", 2, ProblemKind.MODIFIED)]


def test_a_deleted_event_is_missing_and_only_its_stream_is_read() -> None:
    a = chain("a", 6)
    del a[2]
    log = MemoryLog(interleave(a, chain("b", 6)))
    problems = verifier_of(log).finish()
    assert [(p.stream_id, p.version, p.kind) for p in problems] == [("a", 3, ProblemKind.MISSING)]
    assert log.streams_read == ["a"]


def test_a_deleted_run_names_every_version() -> None:
    a = chain("a", 8)
    del a[2:5]
    assert verify(a) == [("a", v, ProblemKind.MISSING) for v in (3, 4, 5)]


def test_a_gap_longer_than_reported_is_one_problem_at_its_start() -> None:
    a = chain("a", 205)
    del a[1:201]  # versions 2 to 201
    assert verifier_of(MemoryLog(a)).finish() == [
        Problem("a", 2, ProblemKind.MISSING, "versions 2 to 201")
    ]


def test_a_stream_that_does_not_start_at_one_is_missing_its_start() -> None:
    assert verify(chain("a", 3)[1:]) == [("a", 1, ProblemKind.MISSING)]


def test_a_forgery_in_a_real_events_place_is_inserted() -> None:
    a = chain("a", 5)
    a[2] = forged(a[2], prev=a[1][3], payload="a forged order")  # its own hash is right
    assert verify(a) == [("a", 3, ProblemKind.INSERTED)]


def test_a_first_event_that_links_to_something_is_inserted() -> None:
    a = chain("a", 2)
    a[0] = forged(a[0], prev="1" * 64, payload="x")
    a[1] = forged(a[1], prev=a[0][3], payload="y")
    assert verify(a) == [("a", 1, ProblemKind.INSERTED)]


def test_two_swapped_events_are_reordered_once() -> None:
    a = chain("a", 6)
    a[2], a[3] = a[3], a[2]
    assert verify(interleave(a, chain("b", 6))) == [("a", 3, ProblemKind.REORDERED)]


def test_an_event_far_out_of_place_is_reordered_and_nothing_else() -> None:
    a = chain("a", 6)
    late = a.pop(1)
    a.append(late)
    assert verify(a) == [("a", 2, ProblemKind.REORDERED)]


def test_a_stream_with_many_events_out_of_line_is_read_once() -> None:
    a = chain("a", 9)
    for n in (1, 4, 7):  # three swaps
        a[n], a[n + 1] = a[n + 1], a[n]
    log = MemoryLog(interleave(a, chain("b", 9)))
    problems = verifier_of(log).finish()
    assert [(p.version, p.kind) for p in problems] == [
        (v, ProblemKind.REORDERED) for v in (8, 5, 2)
    ]
    assert log.streams_read == ["a"]


def test_a_tampered_link_with_a_stale_hash_is_modified_not_blamed_on_its_predecessor() -> None:
    a = chain("a", 4)
    stream_id, version, prev, hash_, text = a[2]
    edited = "2" * 64  # the hashed text holds prev_hash, as the envelope's does
    a[2] = (stream_id, version, edited, hash_, str(text).replace(prev, edited))
    assert verify(a) == [("a", 3, ProblemKind.MODIFIED)]


def test_a_verify_from_mid_log_links_each_stream_to_what_came_before() -> None:
    log = MemoryLog(chain("a", 6))
    hashes = {(s, v): h for s, v, _, h, _ in log.events}
    verifier = verifier_of(log, 3, lambda stream_id, version: hashes.get((stream_id, version - 1)))
    assert verifier.finish() == []
    assert (verifier.events, verifier.streams) == (3, 1)
    wrong = verifier_of(log, 3, lambda stream_id, version: "9" * 64)
    assert wrong.finish() == []  # in line with the log's own event 3: nothing to examine


def test_a_verify_from_mid_log_checks_a_first_event_out_of_line_against_its_link() -> None:
    a = chain("a", 6)
    a[3] = forged(a[3], prev="8" * 64, payload="x")  # v4, the first after the start
    for n in (4, 5):  # the rest of the stream chained to it
        a[n] = forged(a[n], prev=a[n - 1][3], payload="y")
    log = MemoryLog(a)
    hashes = {(s, v): h for s, v, _, h, _ in chain("a", 6)}
    verifier = verifier_of(log, 3, lambda stream_id, version: hashes.get((stream_id, version - 1)))
    assert verifier.finish() == [
        Problem("a", 3, ProblemKind.INSERTED, "its successor links elsewhere")
    ]
    lost = verifier_of(log, 3, lambda stream_id, version: None)
    assert lost.finish() == [Problem("a", 3, ProblemKind.MISSING)]


def test_an_event_moved_across_the_start_of_a_verify_from_mid_log_is_reordered() -> None:
    a = chain("a", 6)
    a[2], a[3] = a[3], a[2]  # v4 now sits before position 4, v3 after it
    log = MemoryLog(a)
    hashes = {(s, v): h for s, v, _, h, _ in a}
    verifier = verifier_of(log, 3, lambda stream_id, version: hashes.get((stream_id, version - 1)))
    assert verifier.finish() == [Problem("a", 3, ProblemKind.REORDERED, "after a later version")]
