"""The SQLite event store's file read for audit: hash-chain links, heads and positions.

Implements `services.seals.SealableLog` and `services.audit_verify.VerifiableLog` over the
`events` table that `adapters.sqlite_event_store` writes, on connections of its own.

Verifying is bounded by rebuilding each event's hashed text, so SQLite assembles it: the
stored `actor` and `data` columns are the canonical JSON texts `envelope.record` hashed
(`sqlite_event_rows.row_of` writes them, never re-serialised), and the rest are ids, a
fixed-width timestamp and integers. The strings that may need JSON escaping go through
`json_quote`, which escapes exactly as `canonical_json` does (a contract test holds the
two equal over control characters, quotes and non-ASCII text). Checking the columns'
forms costs about a fifth of the query; `CANONICAL_TEXT` says why it stays. A row whose
stored text is not byte for byte what was hashed, semantically equal JSON included,
fails to verify: the row is not what was written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from adapters.sqlite_connections import ConnectionPerThread
from domain.audit import Link, StreamEvent
from domain.envelope import GENESIS_HASH
from domain.seals import Head

# Keys in sorted order, as `canonical_json` writes them (see `envelope.record`). NULL for a
# row whose columns are not of the forms written, so that the text is a function of the
# columns that no two different rows share: ids, hashes and the timestamp at their fixed
# lengths, integers as integers, `actor` and `data` as whole JSON values (an object's end
# is found by its braces), free strings escaped by `json_quote`. A row could otherwise
# split the same bytes differently between its columns and keep its hash.
CANONICAL_TEXT = """CASE WHEN length(event_id) = 36 AND length(correlation_id) = 36
 AND (causation_id IS NULL OR length(causation_id) = 36) AND length(prev_hash) = 64
 AND length(recorded_at) = 27 AND typeof(version) = 'integer'
 AND typeof(schema_version) = 'integer' AND json_valid(actor) AND json_valid(data)
 THEN '{"actor":' || actor || ',"causation_id":' || ifnull('"' || causation_id || '"', 'null')
 || ',"correlation_id":"' || correlation_id || '","data":' || data || ',"event_id":"' || event_id
 || '","prev_hash":"' || prev_hash || '","recorded_at":"' || recorded_at || '","schema_version":'
 || schema_version || ',"stream_id":' || json_quote(stream_id) || ',"type":' || json_quote(type)
 || ',"version":' || version || '}' END"""
# Each event's `Place` (domain.audit), found by a lookup of its predecessor in the
# (stream_id, version) index, so that the pass over the log needs no state per stream.
# Unqualified columns are the event's own; ?1 is the genesis hash, ?2 where the range
# starts. Mid-log (?2 > 0) an event whose successor is before the range is out of line
# too: it was moved across the range's start, which nothing inside the range shows.
_PLACE = """CASE WHEN ?2 > 0 AND EXISTS (SELECT 1 FROM events n WHERE n.stream_id = events.stream_id
 AND n.version = events.version + 1 AND n.position <= ?2) THEN 3
 WHEN version = 1 THEN CASE WHEN prev_hash = ?1 THEN 1 ELSE 2 END
 ELSE ifnull((SELECT CASE WHEN p.position <= ?2 THEN CASE WHEN p.hash = events.prev_hash
 THEN 1 ELSE 2 END WHEN p.position < events.position AND p.hash = events.prev_hash THEN 0
 ELSE 3 END FROM events p WHERE p.stream_id = events.stream_id
 AND p.version = events.version - 1), 2) END"""
_LINKS = (
    f"SELECT stream_id, version, hash, {CANONICAL_TEXT}, {_PLACE} FROM events"  # noqa: S608
    " WHERE position > ?2 AND position <= ?3 ORDER BY position"
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
# A statement per few thousand of a seal's heads: a call per head costs more than its lookup.
# Keys are bound, not sent as JSON text, so that a stream id holding NUL still matches.
HASHES_PER_STATEMENT = 5_000
_HASHES_AT = (
    "WITH k(n, stream_id, version) AS (VALUES {keys}) SELECT e.hash FROM k"
    " LEFT JOIN events e ON e.stream_id = k.stream_id AND e.version = k.version ORDER BY k.n"
)
_LAST_POSITION = "SELECT MAX(position) FROM events"


class SqliteAuditLog:
    """Reads an event store file for audit; safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self._pool = ConnectionPerThread(path, synchronous="FULL", label="audit log reader")

    def last_position(self) -> int:
        (position,) = self._pool.get().execute(_LAST_POSITION).fetchone()
        return int(position or 0)

    def links(self, after_position: int, up_to_position: int) -> Iterator[Link]:
        """The events at positions in (`after_position`, `up_to_position`], in order.

        The cursor itself: rows stream from one read transaction, so memory stays flat
        however long the log, and no Python frame sits between SQLite and the verifier.
        """
        cursor: Iterator[Link] = self._pool.get().execute(
            _LINKS, (GENESIS_HASH, after_position, up_to_position)
        )
        return cursor

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
            part = keys[start : start + HASHES_PER_STATEMENT]
            query = _HASHES_AT.format(keys=",".join(["(?,?,?)"] * len(part)))
            values = [value for n, (s, v) in enumerate(part) for value in (n, s, v)]
            hashes += [hash_ for (hash_,) in self._pool.get().execute(query, values)]
        return hashes

    def close(self) -> None:
        self._pool.close()
