"""The embedded event store: one append-only SQLite table, shared by threads and processes.

Implements `services.ports.EventStore` and `services.ports.EventLog`.

Layout: one `events` table. `position` is the global order that catch-up readers follow:
the rowid, which (as no row is ever deleted) is never handed out twice, without the page
write per commit that AUTOINCREMENT costs. `(stream_id, version)` and `event_id` are
unique. Triggers refuse UPDATE and DELETE, so even a stray statement cannot rewrite
history (the hash chain is what proves that nobody with file access did).

Concurrency: appends run in `BEGIN IMMEDIATE` transactions, so reading a stream's head
and inserting after it is one atomic step across threads and processes; the loser of a
race sees the new head and raises `ConcurrencyError`. Because SQLite has one writer at a
time, positions are handed out and committed in the same order: a reader that saw
position N will never later find a smaller position appear (no gaps filled in behind it).

Head hash: an append given the `head_hash` its caller folded the stream up to still
reads the head, under the write lock as always (a few microseconds), and refuses with a
`ValueError` a hash that is not the one recorded at `expected_version`: the Cosmos store
trusts that pair to save its head query, so a caller that pairs them wrongly must fail
here, where the test suite runs.

Group commit: with `synchronous=FULL` every commit waits for an fsync (about 0.3 ms
here), which caps one writer at ~3,500 commits/s whatever the code does. Appends that
arrive from other threads while a commit is in flight therefore wait for it and then
share the next transaction: each runs inside its own SAVEPOINT, so each still succeeds
or fails on its own (its expected version, its event ids), and each returns only after
the shared COMMIT is durable. One append alone behaves exactly as it would without
grouping.

Durability (WAL mode):
- `synchronous="FULL"` (default): the WAL is fsynced at every commit, so an append that
  returned survives a power loss or an OS crash.
- `synchronous="NORMAL"`: the WAL is fsynced only at checkpoints. An append that returned
  survives a crash of the process, but the last commits before a power loss or OS crash
  may be lost. The file is never corrupted either way.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal
from uuid import UUID

from adapters.event_appends import as_this_batch, chain, distinct_event_ids, genesis_or_refused
from adapters.sqlite_connections import ConnectionPerThread
from adapters.sqlite_event_rows import RowDecoder, rows_of
from domain.envelope import (
    GENESIS_HASH,
    Event,
    EventText,
    NewEvent,
    utc_now,
)
from services.ports import ConcurrencyError, PositionedEvent

# Each query spells out the columns in the order `row_of` writes and `RowDecoder` reads.
INSERT = (
    "INSERT INTO events (event_id, stream_id, version, type, schema_version, recorded_at,"
    " correlation_id, causation_id, actor, data, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_READ_STREAM = (
    "SELECT event_id, stream_id, version, type, schema_version, recorded_at,"
    " correlation_id, causation_id, actor, data, prev_hash, hash"
    " FROM events WHERE stream_id = ? AND version >= ? ORDER BY version"
)
_READ_ALL = (
    "SELECT position, event_id, stream_id, version, type, schema_version, recorded_at,"
    " correlation_id, causation_id, actor, data, prev_hash, hash"
    " FROM events WHERE position > ? ORDER BY position LIMIT ?"
)
_READ_BY_EVENT_IDS = (  # the ids come as one JSON array parameter
    "SELECT event_id, stream_id, version, type, schema_version, recorded_at,"
    " correlation_id, causation_id, actor, data, prev_hash, hash"
    " FROM events WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY position"
)
_FIND_EVENT = (
    "SELECT event_id, stream_id, version, type, schema_version, recorded_at,"
    " correlation_id, causation_id, actor, data, prev_hash, hash"
    " FROM events WHERE event_id = ? AND stream_id = ?"
)
_READ_HEAD = "SELECT version, hash FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1"
_READ_LAST_POSITION = "SELECT MAX(position) FROM events"

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id TEXT,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TRIGGER IF NOT EXISTS events_are_never_updated BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_are_never_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END
"""


# What one append of a group can fail with while the others go on: its savepoint is rolled
# back and the rest of the transaction is intact. Anything else (I/O, a full disk, a lock
# that timed out) fails the whole group.
_ONE_APPENDS_OWN_FAILURE = (ConcurrencyError, ValueError, TypeError, sqlite3.IntegrityError)


class _PendingAppend:
    """One caller's append, waiting for the transaction that carries it to commit."""

    __slots__ = (
        "done",
        "error",
        "events",
        "expected_version",
        "head_hash",
        "ids",
        "result",
        "stream_id",
        "texts",
    )

    def __init__(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        head_hash: str | None,
    ) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.events = events
        self.head_hash = (
            genesis_or_refused(stream_id, head_hash) if expected_version == 0 else head_hash
        )
        # Serialised by the caller's thread, before it queues: while a commit waits for its
        # fsync the next group gets ready, and only hashing is left for the write lock.
        self.texts = [EventText.of(event) for event in events]
        self.ids = distinct_event_ids(stream_id, events)
        self.done = False
        self.result: list[Event] = []
        self.error: BaseException | None = None


class SqliteEventStore:
    """Event streams in a SQLite file; safe to share between threads and processes."""

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._clock = clock
        self._pool = ConnectionPerThread(path, synchronous=synchronous, label="event store")
        self._decoder = RowDecoder()
        # Group commit: appends queue here; whoever finds no commit in flight leads the next.
        self._pending: list[_PendingAppend] = []
        self._committing = False
        self._turn = threading.Condition()
        self.commits = 0  # transactions that carried appends: events per commit, measured
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA.split(";\n"):
                conn.execute(statement)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- EventStore --------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        head_hash: str | None = None,
    ) -> list[Event]:
        """Append `events` atomically at `expected_version` + 1, + 2, ...

        Raises `ConcurrencyError` when the stream is not at `expected_version`. Appending
        event ids that are already recorded as exactly this batch returns the recorded
        events and writes nothing; any other reuse of a recorded id raises
        `EventIdConflict`. A `head_hash` that is not the hash recorded at the head it is
        given for raises `ValueError` (see Head hash). Returns once the events are durable
        (see Durability).
        """
        if not events:
            return []
        pending = _PendingAppend(stream_id, expected_version, events, head_hash)
        with self._turn:
            self._pending.append(pending)
            while self._committing and not pending.done:
                self._turn.wait()
            if not pending.done:  # no commit in flight: lead one for everyone queued
                group, self._pending = self._pending, []
                self._committing = True
        if not pending.done:
            try:
                self._commit_group(group)
            finally:
                with self._turn:
                    self.commits += 1
                    self._committing = False
                    self._turn.notify_all()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        rows = self._connection().execute(_READ_STREAM, (stream_id, from_version))
        to_event = self._decoder.event
        return [to_event(row) for row in rows]

    def find_event(self, stream_id: str, event_id: UUID) -> Event | None:
        row = self._connection().execute(_FIND_EVENT, (str(event_id), stream_id)).fetchone()
        return None if row is None else self._decoder.event(row)

    # --- EventLog ----------------------------------------------------------------------

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[PositionedEvent]:
        """Events of every stream after `after_position`, in global order, at most `limit`."""
        rows = self._connection().execute(_READ_ALL, (after_position, limit))
        to_event = self._decoder.event
        return [PositionedEvent(row[0], to_event(row[1:])) for row in rows]

    def last_position(self) -> int:
        (position,) = self._connection().execute(_READ_LAST_POSITION).fetchone()
        return int(position or 0)

    # --- appending ---------------------------------------------------------------------

    def _commit_group(self, group: list[_PendingAppend]) -> None:
        """Run every append of `group` in one transaction, each in its own savepoint."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for pending in group:
                    try:
                        pending.result = self._append_in_savepoint(conn, pending)
                    except _ONE_APPENDS_OWN_FAILURE as error:
                        pending.error = error
                        if not conn.in_transaction:  # SQLite gave up the whole transaction
                            raise
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException as failure:
            # Nothing of this group is durable: every append in it fails, its own caller's
            # exception included, so none returns events that were rolled back.
            for pending in group:
                pending.result, pending.error = [], failure
            raise
        finally:
            for pending in group:
                pending.done = True

    def _append_in_savepoint(
        self, conn: sqlite3.Connection, pending: _PendingAppend
    ) -> list[Event]:
        stream_id, expected_version = pending.stream_id, pending.expected_version
        conn.execute("SAVEPOINT append")
        try:
            head = conn.execute(_READ_HEAD, (stream_id,)).fetchone()
            version, prev_hash = (0, GENESIS_HASH) if head is None else head
            if version == expected_version:
                if pending.head_hash not in (None, prev_hash):
                    raise ValueError(
                        f"append to {stream_id!r} at version {version} with head hash"
                        f" {pending.head_hash!r}: version {version} is recorded with"
                        f" hash {prev_hash!r}"
                    )
                recorded_at = self._clock()
                appended = chain(
                    stream_id, version, prev_hash, pending.events, recorded_at, pending.texts
                )
                conn.executemany(INSERT, rows_of(appended, pending.texts, recorded_at))
                conn.execute("RELEASE append")
                return appended
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO append")
            conn.execute("RELEASE append")
            # Only a recorded event_id can collide: the head was read under the write lock.
            recorded = self._recorded_batch(conn, stream_id, pending.ids)
            if not recorded:
                raise
            return recorded
        except BaseException:
            conn.execute("ROLLBACK TO append")
            conn.execute("RELEASE append")
            raise
        conn.execute("RELEASE append")  # nothing was written
        # A retry of an append that succeeded comes with a stale expected version.
        recorded = self._recorded_batch(conn, stream_id, pending.ids)
        if not recorded:
            raise ConcurrencyError(stream_id, expected_version, version)
        return recorded

    def _recorded_batch(
        self, conn: sqlite3.Connection, stream_id: str, ids: list[str]
    ) -> list[Event]:
        """The events recorded under `ids`: none, or exactly that batch in `stream_id`."""
        rows = conn.execute(_READ_BY_EVENT_IDS, (json.dumps(ids),)).fetchall()
        return as_this_batch(stream_id, ids, [self._decoder.event(row) for row in rows])

    # --- connections -------------------------------------------------------------------

    def close(self) -> None:
        """Close every thread's connection; call it once nothing uses this any more."""
        self._pool.close()

    def _connection(self) -> sqlite3.Connection:
        return self._pool.get()
