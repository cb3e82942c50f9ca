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

from collections.abc import Iterator
from pathlib import Path

from adapters.sqlite_connections import ConnectionPerThread
from domain.audit import Link
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
_LINKS = (
    f"SELECT stream_id, version, prev_hash, hash, {CANONICAL_TEXT} FROM events"  # noqa: S608
    " WHERE position > ? AND position <= ? ORDER BY position"
)
# SQLite takes the bare columns of a MAX() aggregate from the row holding the maximum.
_HEADS = (
    "SELECT stream_id, MAX(version), hash FROM events WHERE position > ? AND position <= ?"
    " GROUP BY stream_id ORDER BY stream_id"
)
_HASH_AT = "SELECT hash FROM events WHERE stream_id = ? AND version = ?"
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
        cursor: Iterator[Link] = self._pool.get().execute(_LINKS, (after_position, up_to_position))
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

    def close(self) -> None:
        self._pool.close()
