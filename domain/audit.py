"""Verifying the log: every stream's hash chain in one pass, and what a problem is.

The verifier is fed the log's events in global order as *links*: `(stream_id, version,
prev_hash, hash, canonical, position)`, where `canonical` is the text the event's hash is
computed over, rebuilt from what is stored (`envelope.hashed_fields` in canonical JSON).
It remembers the head (last version and hash) of a bounded number of recently seen
streams, so memory stays flat however many events and streams the log holds: an event
whose predecessor it remembers is checked against it; one whose predecessor it does not
remember is *placed* by the log (`Place`: the log looks its predecessor up by stream and
version), a few hundred at a time. An event out of line makes it *examine* that stream,
reading just its events (from its first in the range verified on) in version order,
where each rule below is applied. Only tampered streams cost more.

The kinds of problem, and exactly what raises each (`Problem(stream_id, version, kind)`):

- `modified` (s, v): event v's stored hash differs from the hash of its stored content:
  somebody changed the event without recomputing its hash. The chain goes on from the
  stored hash, so the successor is not blamed too.
- `missing` (s, v): no event v, yet its existence is attested: a later version of s is
  in the log while v never appears (one problem per absent version, up to
  `MAX_REPORTED_GAP`; a longer gap is one problem at its first version), or a seal holds
  the head (s, v) and the log has no event v (a tail deleted after the seal).
- `inserted` (s, v): event v is consistent in itself (its hash matches its content) but
  is not the event the rest of the history vouches for: event v + 1, itself consistent,
  links to a different `prev_hash`; or a seal holds the head (s, v) with a different
  hash. That is a forged event with a recomputed hash, added or put in a real one's place.
- `reordered` (s, v): event v appears in global order after a later version of its own
  stream (two events swapped, or one moved later). v is the version found late; the
  links are checked in version order, so nothing else is reported.
- `seal_mismatch` ("$seals", n): seal n is damaged in itself (its hash, its Merkle root,
  its head order) or as a link of the seal chain (its number, its previous-seal hash, its
  position).

One tampering can show as several problems only when it breaks several of these facts
(deleting a sealed head that has successors is both a gap and a missing sealed head, the
same `(s, v, missing)`: problems are reported once each).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from itertools import islice

from domain.envelope import GENESIS_HASH

SEALS_STREAM = "$seals"  # the stream id a `seal_mismatch` names; the version is the seal's number
MAX_REPORTED_GAP = 100
# Streams whose head is remembered; past this many the first remembered half is forgotten,
# and their next events are placed by the log instead (a few microseconds more each).
MAX_REMEMBERED_HEADS = 10_000
# Events to be placed by the log, asked for together.
PLACES_PER_REQUEST = 500
# Streams remembered as examined, so that a stream with many events out of line is read
# once; past this many the oldest is forgotten (examining it again finds the same problems).
MAX_REMEMBERED_EXAMINED = 10_000


class Place(IntEnum):
    """How an event stands to its predecessor, as the log answers it for an event whose
    predecessor the verifier does not remember.

    The predecessor of (s, v) is event (s, v - 1), or the genesis hash for v = 1; *in
    line* means the event's `prev_hash` is its predecessor's stored hash and the
    predecessor came earlier in global order. The *first* event of a stream in the range
    verified is version 1, or one whose predecessor is before the range or absent.
    """

    IN_LINE = 0
    FIRST_IN_LINE = 1
    FIRST_OUT_OF_LINE = 2
    OUT_OF_LINE = 3


# stream_id, version, prev_hash, hash, the canonical text (None: the stored event is not of
# a form that has one, so it cannot match its hash), and its position in global order
Link = tuple[str, int, str, str, str | None, int]
# An event for the log to place: stream_id, version, prev_hash, position
Unplaced = tuple[str, int, str, int]
# One event of a stream being examined: version, global position, prev_hash, hash, and the
# canonical text. A stream is read in descending version order.
StreamEvent = tuple[int, int, str, str, str | None]


class ProblemKind(StrEnum):
    MODIFIED = "modified"
    MISSING = "missing"
    INSERTED = "inserted"
    REORDERED = "reordered"
    SEAL_MISMATCH = "seal_mismatch"


@dataclass(frozen=True, slots=True)
class Problem:
    stream_id: str
    version: int
    kind: ProblemKind
    detail: str = ""

    def line(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind.value} {self.stream_id} v{self.version}{tail}"


def _consistent(hash_: str, canonical: str | None) -> bool:
    return canonical is not None and hashlib.sha256(canonical.encode()).hexdigest() == hash_


class ChainVerifier:
    """Checks every stream's chain as links arrive in global order.

    `place` answers the `Place` of each event given, in order. `read_stream` answers a
    stream's events from its first version in the range verified on, in descending
    version order (later versions before the range included). `link_of` answers, for a
    stream whose first event in the range is version v > 1, the hash event v - 1 carries
    (a `--since` run starts mid-log), or None when there is no event v - 1. Without it a
    stream must start at version 1.
    """

    def __init__(
        self,
        place: Callable[[Sequence[Unplaced]], Sequence[int]],
        read_stream: Callable[[str], Iterable[StreamEvent]],
        link_of: Callable[[str, int], str | None] | None = None,
        remembered_heads: int = MAX_REMEMBERED_HEADS,
    ) -> None:
        self._place = place
        self._remembered_heads = remembered_heads
        self._read_stream = read_stream
        self._link_of = link_of
        self._heads: dict[str, tuple[int, str]] = {}
        self._unplaced: list[Unplaced] = []
        self._examined: dict[str, None] = {}
        self._problems: dict[tuple[str, int, ProblemKind], Problem] = {}
        self.events = 0
        self.streams = 0

    def feed(self, links: Iterable[Link]) -> None:
        heads = self._heads
        sha256 = hashlib.sha256
        count = 0
        for stream_id, version, prev_hash, hash_, canonical, position in links:
            count += 1  # `_consistent`, inlined: a call per event is a tenth of the loop
            if canonical is None or sha256(canonical.encode()).hexdigest() != hash_:
                self.report(stream_id, version, ProblemKind.MODIFIED)
            head = heads.get(stream_id)
            if head is not None and version == head[0] + 1 and prev_hash == head[1]:
                heads[stream_id] = (version, hash_)  # the one path nearly every event takes
                continue
            self._unusual(stream_id, version, prev_hash, hash_, position, head is None)
        self.events += count
        self._place_unplaced()

    def finish(self) -> list[Problem]:
        """Every problem found, once the last link has been fed."""
        return list(self._problems.values())

    def report(self, stream_id: str, version: int, kind: ProblemKind, detail: str = "") -> None:
        self._problems.setdefault(
            (stream_id, version, kind), Problem(stream_id, version, kind, detail)
        )

    # --- the slow path: a stream not remembered, or an event out of line -----------------

    def _unusual(
        self,
        stream_id: str,
        version: int,
        prev_hash: str,
        hash_: str,
        position: int,
        forgotten: bool,
    ) -> None:
        heads = self._heads
        if forgotten:
            if len(heads) >= self._remembered_heads:
                self._forget_older_half()
            if version == 1 and prev_hash == GENESIS_HASH:
                self.streams += 1
            elif version == 1:
                self.streams += 1
                self._examine_once(stream_id)
            else:
                self._unplaced.append((stream_id, version, prev_hash, position))
                if len(self._unplaced) >= PLACES_PER_REQUEST:
                    self._place_unplaced()
        else:
            self._examine_once(stream_id)
        heads[stream_id] = (version, hash_)

    def _forget_older_half(self) -> None:
        # Half at once: taking the first key of a dict one at a time walks past every
        # entry deleted before it, which would make each forgetting cost thousands of steps.
        heads = self._heads
        for stream_id in list(islice(heads, max(1, len(heads) // 2))):
            del heads[stream_id]

    def _place_unplaced(self) -> None:
        unplaced, self._unplaced = self._unplaced, []
        if not unplaced:
            return
        for (stream_id, *_), place in zip(unplaced, self._place(unplaced), strict=True):
            self.streams += place in (Place.FIRST_IN_LINE, Place.FIRST_OUT_OF_LINE)
            if place not in (Place.IN_LINE, Place.FIRST_IN_LINE):
                self._examine_once(stream_id)

    def _examine_once(self, stream_id: str) -> None:
        if stream_id in self._examined:
            return
        if len(self._examined) >= MAX_REMEMBERED_EXAMINED:
            del self._examined[next(iter(self._examined))]
        self._examined[stream_id] = None
        self.examine(stream_id, self._read_stream(stream_id))

    def examine(self, stream_id: str, events: Iterable[StreamEvent]) -> None:
        """Applies every rule to one stream's events, given in descending version order."""
        # the event one version above, as far as its link goes: version, prev_hash, consistent
        above: tuple[int, str, bool] | None = None
        earliest_above: int | None = None  # the least position of any later version
        for version, position, prev_hash, hash_, canonical in events:
            consistent = _consistent(hash_, canonical)
            if not consistent:
                self.report(stream_id, version, ProblemKind.MODIFIED)
            if earliest_above is not None and position > earliest_above:
                self.report(stream_id, version, ProblemKind.REORDERED, "after a later version")
            if earliest_above is None or position < earliest_above:
                earliest_above = position
            if above is not None:
                self._check_link(stream_id, version, hash_, consistent, above)
            above = (version, prev_hash, consistent)
        if above is not None:
            self._check_start(stream_id, *above)

    def _check_link(
        self,
        stream_id: str,
        version: int,
        hash_: str,
        consistent: bool,
        above: tuple[int, str, bool],
    ) -> None:
        """Event `version` against the next one present above it."""
        above_version, above_prev_hash, above_consistent = above
        if above_version > version + 1:
            self._report_gap(stream_id, version + 1, above_version - 1)
        elif above_prev_hash != hash_ and consistent and above_consistent:
            self.report(stream_id, version, ProblemKind.INSERTED, "its successor links elsewhere")

    def _check_start(self, stream_id: str, version: int, prev_hash: str, consistent: bool) -> None:
        """The stream's lowest event present: what it must link to."""
        if version == 1:
            if prev_hash != GENESIS_HASH and consistent:
                self.report(stream_id, 1, ProblemKind.INSERTED, "version 1 does not start a chain")
        elif self._link_of is None:
            self._report_gap(stream_id, 1, version - 1)
        else:
            link = self._link_of(stream_id, version)
            if link is None:
                self.report(stream_id, version - 1, ProblemKind.MISSING)
            elif link != prev_hash and consistent:
                self.report(
                    stream_id, version - 1, ProblemKind.INSERTED, "its successor links elsewhere"
                )

    def _report_gap(self, stream_id: str, first: int, last: int) -> None:
        if last - first + 1 > MAX_REPORTED_GAP:
            self.report(stream_id, first, ProblemKind.MISSING, f"versions {first} to {last}")
            return
        for version in range(first, last + 1):
            self.report(stream_id, version, ProblemKind.MISSING)
