"""The SQLite event store's file read for audit: hash-chain links, heads and positions.

Implements `services.seals.SealableLog` and `services.audit_verify.VerifiableLog` over the
`events` table that `adapters.sqlite_event_store` writes, on connections of its own.

Verifying is bounded by rebuilding each event's hashed text, so SQLite assembles it: the
stored `actor` and `data` columns are the canonical JSON texts `envelope.record` hashed
(`sqlite_event_rows.row_of` writes them, never re-serialised), and the rest are ids, a
fixed-width timestamp and integers. The strings that may need JSON escaping go through
`json_quote`, which escapes exactly as `canonical_json` does (a contract test holds the
two equal over control characters, quotes and non-ASCII text). A row whose stored text
is not byte for byte what was hashed, semantically equal JSON included, fails to verify:
the row is not what was written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from adapters.sqlite_connections import ConnectionPerThread
from domain.audit import PLACES_PER_REQUEST, Link, StreamEvent, Unplaced
from domain.seals import Head

# Keys in sorted order, as `canonical_json` writes them (see `envelope.record`). NULL for a
# row whose columns are not of the forms written, so that no two different rows give the
# same text (a row could otherwise split the same bytes differently between its columns
# and keep its hash): ids, hashes and the timestamp at their fixed lengths, integers as
# integers, free strings through `json_quote` (its output's extent is fixed by its
# quotes), `actor` a whole JSON value (one that had absorbed the next columns would be
# followed by more text). That leaves `data` exactly the bytes between, so checking it
# too (`json_valid`, a quarter of the query) would add nothing. `format` builds the text
# in one allocation where `||` copies it once per operand, but it stops a `%s` at a NUL,
# so `actor` and `data`, whose bytes a tamperer chooses, are joined with `||` (a NUL
# after the JSON then changes the text, and so fails the hash, instead of vanishing).
CANONICAL_TEXT = """CASE WHEN length(event_id) = 36 AND length(correlation_id) = 36
 AND (causation_id IS NULL OR length(causation_id) = 36) AND length(prev_hash) = 64
 AND length(recorded_at) = 27 AND typeof(version) = 'integer'
 AND typeof(schema_version) = 'integer' AND json_valid(actor)
 THEN '{"actor":' || actor || format(',"causation_id":%s,"correlation_id":"%s","data":',
 ifnull('"' || causation_id || '"', 'null'), correlation_id) || data || format(
 ',"event_id":"%s","prev_hash":"%s","recorded_at":"%s","schema_version":%d,"stream_id":%s,'
 || '"type":%s,"version":%d}', event_id, prev_hash, recorded_at, schema_version,
 json_quote(stream_id), json_quote(type), version) END"""
_LINKS = (
    f"SELECT stream_id, version, prev_hash, hash, {CANONICAL_TEXT}, position"  # noqa: S608
    " FROM events WHERE position > ? AND position <= ? ORDER BY position"
)
# The `Place` (domain.audit) of each event of `k`, found by a lookup of its predecessor in
# the (stream_id, version) index. `after` is where the range starts: mid-log an event whose
# successor is before the range is out of line too (moved across the range's start). One
# statement text whatever the count, padded as `_HASHES_AT` says why.
_PLACES = (
    "WITH f(after) AS (VALUES (?)), k(n, stream_id, version, prev_hash, position) AS (VALUES "  # noqa: S608
    + ",".join(["(?,?,?,?,?)"] * PLACES_PER_REQUEST)
    + """) SELECT CASE WHEN after > 0 AND EXISTS (SELECT 1 FROM events s
 WHERE s.stream_id = k.stream_id AND s.version = k.version + 1 AND s.position <= after) THEN 3
 WHEN p.position IS NULL THEN 2
 WHEN p.position <= after THEN CASE WHEN p.hash = k.prev_hash THEN 1 ELSE 2 END
 WHEN p.position < k.position AND p.hash = k.prev_hash THEN 0 ELSE 3 END
 FROM k CROSS JOIN f LEFT JOIN events p ON p.stream_id = k.stream_id AND p.version = k.version - 1
 ORDER BY k.n"""
)
_STREAM = (
    f"SELECT version, position, prev_hash, hash, {CANONICAL_TEXT} FROM events"  # noqa: S608
    " WHERE stream_id = ?1 AND position <= ?3 AND version >= (SELECT MIN(version) FROM events"
    " WHERE stream_id = ?1 AND position > ?2 AND position <= ?3) ORDER BY version DESC"
)
# SQLite takes the bare columns of a MAX() aggregate from the row holding the maximum.
_HEADS = (
    "SELECT stream_id, MAX(version), hash FROM events WHERE position > ? AND position <= ?"
    " GROUP BY stream_id ORDER BY stream_id"
)
_HASH_AT = "SELECT hash FROM events WHERE stream_id = ? AND version = ?"
# A statement per few hundred of a seal's heads: a call per head costs more than its lookup.
# Keys are bound, not sent as JSON text, so that a stream id holding NUL still matches. The
# last batch is padded (version 0 is never stored) so that there is one statement text:
# the sqlite3 module caches each text it prepares, and texts of many lengths held
# prepared grow memory with the number of seals.
HASHES_PER_STATEMENT = 500
_HASHES_AT = (
    "WITH k(n, stream_id, version) AS (VALUES "  # noqa: S608
    + ",".join(["(?,?,?)"] * HASHES_PER_STATEMENT)
    + ") SELECT e.hash FROM k LEFT JOIN events e"
    " ON e.stream_id = k.stream_id AND e.version = k.version ORDER BY k.n"
)
_LAST_POSITION = "SELECT MAX(position) FROM events"


class SqliteAuditLog:
    """Reads an event store file for audit; safe to share between threads.

    Pickles as its file's path, so that a verify split between processes sends it.
    """

    def __init__(self, path: Path | str) -> None:
        self._pool = ConnectionPerThread(path, synchronous="FULL", label="audit log reader")

    def __reduce__(self) -> tuple[type[SqliteAuditLog], tuple[str]]:
        return (SqliteAuditLog, (self._pool.path,))

    def last_position(self) -> int:
        (position,) = self._pool.get().execute(_LAST_POSITION).fetchone()
        return int(position or 0)

    def links(self, after_position: int, up_to_position: int) -> Iterator[Link]:
        """The events at positions in (`after_position`, `up_to_position`], in order.

        The cursor itself: rows stream from one read transaction, so memory stays flat
        however long the log, and no Python frame sits between SQLite and the verifier.
        """
        cursor: Iterator[Link] = self._pool.get().execute(_LINKS, (after_position, up_to_position))
        return cursor

    def places(self, events: Sequence[Unplaced], after_position: int) -> list[int]:
        """The `Place` of each event, its range starting after `after_position`."""
        places: list[int] = []
        for start in range(0, len(events), PLACES_PER_REQUEST):
            part = [*events[start : start + PLACES_PER_REQUEST]]
            wanted = len(part)
            part += [("", 0, "", 0)] * (PLACES_PER_REQUEST - wanted)
            values: list[int | str] = [after_position]
            values += [value for n, event in enumerate(part) for value in (n, *event)]
            rows = self._pool.get().execute(_PLACES, values).fetchall()
            places += [place for (place,) in rows[:wanted]]
        return places

    def stream(
        self, stream_id: str, after_position: int, up_to_position: int
    ) -> Iterator[StreamEvent]:
        """A stream's events from its first version in the range on, by descending version.

        Those later versions that sit before the range come too, so that an event moved
        across the range's start shows as reordered.
        """
        cursor: Iterator[StreamEvent] = self._pool.get().execute(
            _STREAM, (stream_id, after_position, up_to_position)
        )
        return cursor

    def heads(self, after_position: int, up_to_position: int) -> list[Head]:
        """The head of every stream with an event in the range, as of its end.

        A range scan of the primary key: the cost follows the events in the range.
        """
        rows = self._pool.get().execute(_HEADS, (after_position, up_to_position))
        return [Head(stream_id, version, hash_) for stream_id, version, hash_ in rows]

    def hash_at(self, stream_id: str, version: int) -> str | None:
        row = self._pool.get().execute(_HASH_AT, (stream_id, version)).fetchone()
        return None if row is None else str(row[0])

    def hashes_at(self, keys: Sequence[tuple[str, int]]) -> list[str | None]:
        hashes: list[str | None] = []
        for start in range(0, len(keys), HASHES_PER_STATEMENT):
            part = [*keys[start : start + HASHES_PER_STATEMENT]]
            wanted = len(part)
            part += [("", 0)] * (HASHES_PER_STATEMENT - wanted)
            values = [value for n, (s, v) in enumerate(part) for value in (n, s, v)]
            rows = self._pool.get().execute(_HASHES_AT, values).fetchall()
            hashes += [hash_ for (hash_,) in rows[:wanted]]
        return hashes

    def close(self) -> None:
        self._pool.close()
