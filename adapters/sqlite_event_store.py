"""The embedded event store: one append-only SQLite table, shared by threads and processes.

Implements `services.ports.EventStore` and `services.ports.EventLog`.

Layout: one `events` table. `position` is the global order that catch-up readers follow;
`(stream_id, version)` and `event_id` are unique. Triggers refuse UPDATE and DELETE, so
even a stray statement cannot rewrite history (the hash chain is what proves that nobody
with file access did).

Concurrency: every append runs in a `BEGIN IMMEDIATE` transaction, so reading the stream
head and inserting after it is one atomic step across threads and processes; the loser of
a race sees the new head and raises `ConcurrencyError`. Because SQLite has one writer at a
time, positions are handed out and committed in the same order: a reader that saw
position N will never later find a smaller position appear (no gaps filled in behind it).

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
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast
from uuid import UUID, SafeUUID

from adapters.sqlite_connections import ConnectionPerThread
from domain.envelope import (
    GENESIS_HASH,
    Actor,
    Event,
    NewEvent,
    format_timestamp,
    record,
    utc_now,
)
from services.ports import ConcurrencyError, PositionedEvent

# Each query spells out the columns, in the order `_row_of` writes and
# `_event_from_row` reads them.
_INSERT = (
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
_READ_ALL_RECORDS = (
    "SELECT position, stream_id, version, type, recorded_at, actor, data"
    " FROM events WHERE position > ? ORDER BY position LIMIT ?"
)
_READ_BY_EVENT_IDS = (  # the ids come as one JSON array parameter
    "SELECT event_id, stream_id, version, type, schema_version, recorded_at,"
    " correlation_id, causation_id, actor, data, prev_hash, hash"
    " FROM events WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY position"
)
_READ_HEAD = "SELECT version, hash FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1"
_READ_LAST_POSITION = "SELECT MAX(position) FROM events"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
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


class EventRecord(NamedTuple):
    """What a projection reads of a recorded event (`projections.base.PositionedFact`).

    Without ids, hashes and the pydantic model, it costs a fraction of an `Event` to
    build, which is most of the cost of a replay.
    """

    position: int
    stream_id: str
    version: int
    type: str
    recorded_at: datetime
    actor: Actor
    data: dict[str, Any]


class EventIdConflict(ValueError):
    """Some of an append's `event_id`s are recorded, but not as exactly this append.

    Either only part of the batch is recorded, or an id is recorded in another stream or
    at other versions: retrying cannot make it succeed, so it is not a concurrency error.
    """


# --- trusted decoding ------------------------------------------------------------------
# Rows come from our own store, so reading skips re-validation: the hash chain verify, not
# a check on every read, is what detects a tampered row. Replay speed is bounded by this
# decoding, so each step below is the cheapest stdlib form measured (see benchmarks/).

_EVENT_FIELDS = set(Event.model_fields)
_ACTOR_FIELDS = set(Actor.model_fields)
_new = object.__new__
_set = object.__setattr__
_UUID_UNKNOWN = SafeUUID.unknown
# The C scanner without `json.loads`' type checks and whitespace skipping: our JSON is
# written compact by `_row_of`, so it starts with its first token.
_scan_json: Callable[[str, int], tuple[Any, int]] = cast(Any, json.JSONDecoder()).scan_once
_from_iso = datetime.fromisoformat
# Building the tuple directly skips the NamedTuple constructor's argument handling.
_new_tuple = tuple.__new__


def _trusted(model: type[Any], fields_set: set[str], values: dict[str, Any]) -> Any:
    # What `model_construct` does, minus the alias and default handling these models
    # do not use.
    instance = _new(model)
    _set(instance, "__dict__", values)
    # Shared by every instance: pydantic copies it before it changes it (model_copy).
    _set(instance, "__pydantic_fields_set__", fields_set)
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


def _uuid(text: str) -> UUID:
    # UUID(text) normalises prefixes and braces we never write; this is twice as fast.
    uuid = _new(UUID)
    _set(uuid, "int", int(text.replace("-", ""), 16))
    _set(uuid, "is_safe", _UUID_UNKNOWN)
    return uuid


def _json(text: str) -> Any:
    return _scan_json(text, 0)[0]


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
        # Readers see the same actor again and again; Actor is frozen, so one instance
        # per distinct JSON text can be shared by every event that carries it.
        self._actors: dict[str, Actor] = {}
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";\n"):
                conn.execute(statement)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- EventStore --------------------------------------------------------------------

    def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[Event]:
        """Append `events` atomically at `expected_version` + 1, + 2, ...

        Raises `ConcurrencyError` when the stream is not at `expected_version`. Appending
        event ids that are already recorded as exactly this batch returns the recorded
        events and writes nothing; any other reuse of a recorded id raises
        `EventIdConflict`.
        """
        if not events:
            return []
        ids = [str(event.event_id) for event in events]
        if len(set(ids)) != len(ids):
            raise EventIdConflict(f"append to {stream_id!r} repeats an event id: {ids}")
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            head = conn.execute(_READ_HEAD, (stream_id,)).fetchone()
            version, prev_hash = (0, GENESIS_HASH) if head is None else head
            appended = None
            if version == expected_version:
                appended = self._chain(stream_id, version, prev_hash, events)
                conn.executemany(_INSERT, [_row_of(event) for event in appended])
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK")
            # Only a recorded event_id can collide: the head was read under the write lock.
            recorded = self._recorded_batch(stream_id, ids)
            if not recorded:
                raise
            return recorded
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if appended is None:
            conn.execute("ROLLBACK")
            # A retry of an append that succeeded comes with a stale expected version.
            recorded = self._recorded_batch(stream_id, ids)
            if not recorded:
                raise ConcurrencyError(stream_id, expected_version, version)
            return recorded
        conn.execute("COMMIT")
        return appended

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        rows = self._connection().execute(_READ_STREAM, (stream_id, from_version))
        to_event = self._event_from_row
        return [to_event(row) for row in rows]

    # --- EventLog ----------------------------------------------------------------------

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[PositionedEvent]:
        """Events of every stream after `after_position`, in global order, at most `limit`."""
        rows = self._connection().execute(_READ_ALL, (after_position, limit))
        to_event = self._event_from_row
        return [PositionedEvent(row[0], to_event(row[1:])) for row in rows]

    def read_all_records(self, after_position: int = 0, limit: int = 1000) -> list[EventRecord]:
        """`read_all` as lightweight records, for folding into projections."""
        rows = self._connection().execute(_READ_ALL_RECORDS, (after_position, limit))
        actors = self._actors
        actor_of = self._actor_from_json
        return [
            _new_tuple(
                EventRecord,
                (
                    position,
                    stream_id,
                    version,
                    type_,
                    _from_iso(recorded_at),
                    actors.get(actor_json) or actor_of(actor_json),
                    _json(data_json),
                ),
            )
            for position, stream_id, version, type_, recorded_at, actor_json, data_json in rows
        ]

    def last_position(self) -> int:
        (position,) = self._connection().execute(_READ_LAST_POSITION).fetchone()
        return int(position or 0)

    # --- appending ---------------------------------------------------------------------

    def _recorded_batch(self, stream_id: str, ids: list[str]) -> list[Event]:
        """The events recorded under `ids`: none, or exactly that batch in `stream_id`.

        Called outside the append's transaction: recorded events never change, so what
        it finds stays true.
        """
        rows = self._connection().execute(_READ_BY_EVENT_IDS, (json.dumps(ids),)).fetchall()
        recorded = [self._event_from_row(row) for row in rows]
        if not recorded:
            return recorded
        first_version = recorded[0].version
        is_this_batch = [str(e.event_id) for e in recorded] == ids and all(
            e.stream_id == stream_id and e.version == first_version + i
            for i, e in enumerate(recorded)
        )
        if not is_this_batch:
            where = ", ".join(f"{e.event_id} at {e.stream_id!r} v{e.version}" for e in recorded)
            raise EventIdConflict(
                f"append of {len(ids)} event(s) to {stream_id!r} reuses recorded ids"
                f" that are not exactly this batch: {where}"
            )
        return recorded

    def _chain(
        self, stream_id: str, version: int, prev_hash: str, events: Sequence[NewEvent]
    ) -> list[Event]:
        """`events` positioned after `version` and chained after `prev_hash`."""
        recorded_at = self._clock()
        if recorded_at.tzinfo is None:
            raise ValueError("the event store clock must return timezone-aware datetimes")
        chained = []
        for new in events:
            version += 1
            event = record(
                new,
                stream_id=stream_id,
                version=version,
                prev_hash=prev_hash,
                recorded_at=recorded_at,
            )
            chained.append(event)
            prev_hash = event.hash
        return chained

    # --- reading -----------------------------------------------------------------------

    def _event_from_row(self, row: Sequence[Any]) -> Event:
        (
            event_id,
            stream_id,
            version,
            type_,
            schema_version,
            recorded_at,
            correlation_id,
            causation_id,
            actor_json,
            data_json,
            prev_hash,
            hash_,
        ) = row
        actor = self._actors.get(actor_json)
        if actor is None:
            actor = self._actor_from_json(actor_json)
        event: Event = _trusted(
            Event,
            _EVENT_FIELDS,
            {
                "event_id": _uuid(event_id),
                "stream_id": stream_id,
                "version": version,
                "type": type_,
                "schema_version": schema_version,
                "recorded_at": _from_iso(recorded_at),
                "correlation_id": _uuid(correlation_id),
                "causation_id": None if causation_id is None else _uuid(causation_id),
                "actor": actor,
                "data": _json(data_json),
                "prev_hash": prev_hash,
                "hash": hash_,
            },
        )
        return event

    def _actor_from_json(self, actor_json: str) -> Actor:
        fields = _json(actor_json)
        fields["roles"] = tuple(fields["roles"])
        actor: Actor = _trusted(Actor, _ACTOR_FIELDS, fields)
        if len(self._actors) < 10_000:  # bounded: actors are users, not events
            self._actors[actor_json] = actor
        return actor

    # --- connections -------------------------------------------------------------------

    def close(self) -> None:
        """Close every thread's connection; call it once nothing uses this any more."""
        self._pool.close()

    def _connection(self) -> sqlite3.Connection:
        return self._pool.get()


def _row_of(event: Event) -> tuple[Any, ...]:
    return (
        str(event.event_id),
        event.stream_id,
        event.version,
        event.type,
        event.schema_version,
        format_timestamp(event.recorded_at),
        str(event.correlation_id),
        None if event.causation_id is None else str(event.causation_id),
        json.dumps(event.actor.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False),
        json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
        event.prev_hash,
        event.hash,
    )
