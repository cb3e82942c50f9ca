"""Verifying the log: every stream's hash chain in one pass, and what a problem is.

The verifier is fed the log's events in global order as *links*: `(stream_id, version,
prev_hash, hash, canonical)`, where `canonical` is the text the event's hash is computed
over, rebuilt from what is stored (`envelope.hashed_fields` in canonical JSON). It keeps
one small entry per stream (its last version and hash), so memory grows with the number
of streams, never with the number of events.

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
  stream (two events swapped). v is the version found late; after an adjacent swap the
  pair's links are checked in version order, so nothing else is reported.
- `seal_mismatch` ("$seals", n): seal n is damaged in itself (its hash, its Merkle root,
  its head order) or as a link of the seal chain (its number, its previous-seal hash, its
  position).

One tampering can show as several problems only when it breaks several of these facts
(deleting a sealed head that has successors is both a gap and a missing sealed head, the
same `(s, v, missing)`: problems are reported once each).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.envelope import GENESIS_HASH

SEALS_STREAM = "$seals"  # the stream id a `seal_mismatch` names; the version is the seal's number
MAX_REPORTED_GAP = 100

# stream_id, version, prev_hash, hash, and the canonical text (None: the stored event is not
# of a form that has one, so it cannot match its hash)
Link = tuple[str, int, str, str, str | None]


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


# One stream's place in the pass: its last version, that event's stored hash, whether that
# event was consistent in itself, and an event that arrived one version early (or None).
_Held = tuple[int, str, str, bool]  # version, prev_hash, hash, consistent
_Place = tuple[int, str, bool, _Held | None]


class ChainVerifier:
    """Checks every stream's chain as links arrive in global order.

    `link_of` answers, for the first event of a stream seen at version v > 1, the hash
    event v - 1 carries (a `--since` run starts mid-log), or None when there is no event
    v - 1. Without it a stream must start at version 1.
    """

    def __init__(self, link_of: Callable[[str, int], str | None] | None = None) -> None:
        self._places: dict[str, _Place] = {}
        self._link_of = link_of
        self._problems: dict[tuple[str, int, ProblemKind], Problem] = {}
        self.events = 0

    @property
    def streams(self) -> int:
        return len(self._places)

    def feed(self, links: Iterable[Link]) -> None:
        places = self._places
        sha256 = hashlib.sha256
        count = 0
        for stream_id, version, prev_hash, hash_, canonical in links:
            count += 1
            consistent = canonical is not None and sha256(canonical.encode()).hexdigest() == hash_
            place = places.get(stream_id)
            if (  # the one path nearly every event takes
                consistent
                and place is not None
                and version == place[0] + 1
                and prev_hash == place[1]
                and place[3] is None
            ):
                places[stream_id] = (version, hash_, True, None)
                continue
            if not consistent:
                self.report(stream_id, version, ProblemKind.MODIFIED)
            self._unusual(stream_id, version, prev_hash, hash_, consistent, place)
        self.events += count

    def finish(self) -> list[Problem]:
        """Every problem found, once the last link has been fed."""
        for stream_id, (version, _, _, held) in self._places.items():
            if held is not None:
                self.report(stream_id, version + 1, ProblemKind.MISSING)
        return list(self._problems.values())

    def report(self, stream_id: str, version: int, kind: ProblemKind, detail: str = "") -> None:
        self._problems.setdefault(
            (stream_id, version, kind), Problem(stream_id, version, kind, detail)
        )

    # --- the slow path: a stream's first event, or anything out of line -------------------

    def _unusual(
        self,
        stream_id: str,
        version: int,
        prev_hash: str,
        hash_: str,
        consistent: bool,
        place: _Place | None,
    ) -> None:
        if place is None:
            place = self._start(stream_id, version)
        last_version, _, _, held = place
        expected = last_version + 1
        if held is not None:
            if version == expected:  # the event its successor came before: a swap
                self.report(stream_id, version, ProblemKind.REORDERED)
                place = self._step(stream_id, place, version, prev_hash, hash_, consistent)
                self._places[stream_id] = self._step(stream_id, place, *held)
                return
            self.report(stream_id, expected, ProblemKind.MISSING)
            held_version, _, held_hash, held_consistent = held
            place = (held_version, held_hash, held_consistent, None)
            last_version, expected = held_version, held_version + 1
        if version < expected:
            self.report(stream_id, version, ProblemKind.REORDERED, "after a later version")
            self._places[stream_id] = place
        elif version == expected + 1:  # one early: the next event says whether it is a swap
            self._places[stream_id] = (*place[:3], (version, prev_hash, hash_, consistent))
        elif version > expected:
            self._report_gap(stream_id, expected, version - 1)
            self._places[stream_id] = (version, hash_, consistent, None)
        else:
            self._places[stream_id] = self._step(
                stream_id, place, version, prev_hash, hash_, consistent
            )

    def _step(
        self,
        stream_id: str,
        place: _Place,
        version: int,
        prev_hash: str,
        hash_: str,
        consistent: bool,
    ) -> _Place:
        """`place` advanced by the event at its next version, its link checked."""
        last_version, last_hash, last_consistent, _ = place
        if prev_hash != last_hash and consistent and last_consistent and last_version > 0:
            self.report(
                stream_id, last_version, ProblemKind.INSERTED, "its successor links elsewhere"
            )
        elif prev_hash != last_hash and consistent and last_version == 0:
            self.report(
                stream_id, version, ProblemKind.INSERTED, "version 1 does not start a chain"
            )
        return (version, hash_, consistent, None)

    def _start(self, stream_id: str, version: int) -> _Place:
        if version == 1 or self._link_of is None:
            return (0, GENESIS_HASH, True, None)
        link = self._link_of(stream_id, version)
        if link is None:
            self.report(stream_id, version - 1, ProblemKind.MISSING)
            return (version - 1, "", False, None)  # no link to check against
        return (version - 1, link, True, None)

    def _report_gap(self, stream_id: str, first: int, last: int) -> None:
        if last - first + 1 > MAX_REPORTED_GAP:
            self.report(stream_id, first, ProblemKind.MISSING, f"versions {first} to {last}")
            return
        for version in range(first, last + 1):
            self.report(stream_id, version, ProblemKind.MISSING)
