"""The embedded work queue: a SQLite table with Azure Service Bus queue semantics.

It stands in for a Service Bus queue on one machine, so the worker code sees the same
behaviour in both shapes: peek-lock receive, lock expiry and redelivery with a growing
delivery count, abandon, lock renewal, a dead-letter sub-queue fed by explicit
dead-lettering and by `max_delivery_count`, scheduled messages and duplicate detection
on `message_id`.

Concurrency: many threads and processes may share the file. Every state change runs in
a `BEGIN IMMEDIATE` transaction, so selecting and locking messages is one atomic step
and two receivers never lock the same message. WAL lets readers proceed beside the one
writer; `synchronous=FULL` makes a returned `send` survive a crash.

Lock rule, stricter than Service Bus needs to be: completing, abandoning, renewing or
dead-lettering with an expired lock raises `MessageLockLost` even when nobody else has
taken the message yet, so a worker never acts on a lock it no longer holds.

Times are stored as integer microseconds since the Unix epoch (UTC): they compare
exactly in SQL, whatever the text format of a datetime would be.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.sqlite_connections import ConnectionPerThread
from services.ports import OutgoingMessage
from services.tracing import with_trace_context

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# A waiting receiver looks again this often: a message waits 5 ms for it on average. The
# host's pump is one receiver a queue (devhost/queue_workers.py), so an idle queue costs
# a hundred cheap reads a second.
_POLL_INTERVAL_SECONDS = 0.01
MAX_DELIVERY_COUNT_EXCEEDED = "MaxDeliveryCountExceeded"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    sequence_number INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_name TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body BLOB NOT NULL,
    application_properties TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    scheduled_at INTEGER,
    visible_at INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lock_token TEXT,
    locked_until INTEGER
);
CREATE INDEX IF NOT EXISTS queue_messages_by_queue
    ON queue_messages (queue_name, sequence_number);
CREATE TABLE IF NOT EXISTS queue_message_ids (
    queue_name TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (queue_name, message_id)
);
CREATE INDEX IF NOT EXISTS queue_message_ids_by_time ON queue_message_ids (queue_name, sent_at);
CREATE TABLE IF NOT EXISTS queue_dead_letters (
    sequence_number INTEGER PRIMARY KEY,
    queue_name TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body BLOB NOT NULL,
    application_properties TEXT NOT NULL,
    delivery_count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    description TEXT NOT NULL,
    dead_lettered_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_dead_letters_by_queue
    ON queue_dead_letters (queue_name, sequence_number);
"""


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    message_id: str
    body: bytes
    delivery_count: int
    sequence_number: int
    enqueued_time_utc: datetime
    scheduled_enqueue_time_utc: datetime | None
    lock_token: str
    locked_until: datetime
    application_properties: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    body: bytes
    delivery_count: int
    reason: str
    description: str
    dead_lettered_at: datetime


class MessageLockLost(Exception):
    """The lock expired, or another receiver holds the message, or it is gone."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: queue times must be timezone-aware")
    return (moment - _EPOCH) // _MICROSECOND


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class SqliteQueue:
    """One named queue in a SQLite file; implements `services.ports.WorkQueue` and
    `services.ports.QueueProbe`."""

    def __init__(
        self,
        path: Path | str,
        queue_name: str,
        *,
        lock_duration: timedelta = timedelta(seconds=60),
        max_delivery_count: int = 10,
        duplicate_detection_window: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if lock_duration <= timedelta(0):
            raise ValueError("lock_duration must be positive")
        if max_delivery_count < 1:
            raise ValueError("max_delivery_count must be at least 1")
        self.queue_name = queue_name
        self._lock_duration = lock_duration
        self._max_delivery_count = max_delivery_count
        self._duplicate_window = duplicate_detection_window
        self._clock = clock
        self._pool = ConnectionPerThread(path, synchronous="FULL", label="queue")
        with self._transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    # --- sending -----------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> None:
        """Enqueue `message`; a `message_id` seen within the window is dropped silently."""
        scheduled = message.scheduled_enqueue_time
        scheduled_micros = None if scheduled is None else _to_micros(scheduled)
        properties = json.dumps(with_trace_context(message.application_properties), sort_keys=True)
        with self._transaction() as conn:
            now = self._now_micros()
            window_start = now - self._duplicate_window // _MICROSECOND
            conn.execute(
                "DELETE FROM queue_message_ids WHERE queue_name = ? AND sent_at <= ?",
                (self.queue_name, window_start),
            )
            remembered = conn.execute(
                "INSERT OR IGNORE INTO queue_message_ids (queue_name, message_id, sent_at)"
                " VALUES (?, ?, ?)",
                (self.queue_name, message.message_id, now),
            )
            if remembered.rowcount == 0:
                return
            conn.execute(
                "INSERT INTO queue_messages (queue_name, message_id, body,"
                " application_properties, enqueued_at, scheduled_at, visible_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.queue_name,
                    message.message_id,
                    bytes(message.body),
                    properties,
                    now,
                    scheduled_micros,
                    max(now, scheduled_micros or now),
                ),
            )

    # --- receiving ---------------------------------------------------------------------

    def receive(self, max_messages: int = 1, max_wait_time: float = 0.0) -> list[ReceivedMessage]:
        """Peek-lock up to `max_messages`, waiting up to `max_wait_time` s for the first."""
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        deadline = time.monotonic() + max_wait_time
        while True:
            received = self._lock_available(max_messages)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            time.sleep(min(_POLL_INTERVAL_SECONDS, remaining))

    def _lock_available(self, max_messages: int) -> list[ReceivedMessage]:
        # A read needs no lock under WAL: idle pollers stay out of the senders' way.
        if not self._any_visible():
            return []
        received: list[ReceivedMessage] = []
        with self._transaction() as conn:
            now = self._now_micros()
            locked_until = now + self._lock_duration // _MICROSECOND
            # Dead-lettering frees room in the batch, so look again until it is full.
            while len(received) < max_messages:
                rows = conn.execute(
                    "SELECT sequence_number, message_id, body, application_properties,"
                    " enqueued_at, scheduled_at, delivery_count FROM queue_messages"
                    " WHERE queue_name = ? AND visible_at <= ?"
                    " ORDER BY sequence_number LIMIT ?",
                    (self.queue_name, now, max_messages - len(received)),
                ).fetchall()
                if not rows:
                    break
                for sequence, message_id, body, props, enqueued, scheduled, count in rows:
                    if count + 1 > self._max_delivery_count:
                        self._move_to_dead_letters(
                            conn,
                            sequence,
                            MAX_DELIVERY_COUNT_EXCEEDED,
                            f"Message could not be consumed after {count} delivery attempts.",
                            now,
                        )
                        continue
                    token = str(uuid.uuid4())
                    conn.execute(
                        "UPDATE queue_messages SET delivery_count = ?, lock_token = ?,"
                        " locked_until = ?, visible_at = ? WHERE sequence_number = ?",
                        (count + 1, token, locked_until, locked_until, sequence),
                    )
                    received.append(
                        ReceivedMessage(
                            message_id=message_id,
                            body=bytes(body),
                            delivery_count=count + 1,
                            sequence_number=sequence,
                            enqueued_time_utc=_from_micros(enqueued),
                            scheduled_enqueue_time_utc=(
                                None if scheduled is None else _from_micros(scheduled)
                            ),
                            lock_token=token,
                            locked_until=_from_micros(locked_until),
                            application_properties=json.loads(props),
                        )
                    )
        return received

    def _any_visible(self) -> bool:
        row = (
            self._connection()
            .execute(
                "SELECT 1 FROM queue_messages WHERE queue_name = ? AND visible_at <= ? LIMIT 1",
                (self.queue_name, self._now_micros()),
            )
            .fetchone()
        )
        return row is not None

    # --- settling ----------------------------------------------------------------------

    def complete(self, message: ReceivedMessage) -> None:
        """Remove the message for good."""
        with self._transaction() as conn:
            self._check_lock(conn, message)
            conn.execute(
                "DELETE FROM queue_messages WHERE sequence_number = ?", (message.sequence_number,)
            )

    def abandon(self, message: ReceivedMessage) -> None:
        """Give the message back for immediate redelivery (its delivery count stays)."""
        with self._transaction() as conn:
            now = self._check_lock(conn, message)
            conn.execute(
                "UPDATE queue_messages SET lock_token = NULL, locked_until = NULL,"
                " visible_at = ? WHERE sequence_number = ?",
                (now, message.sequence_number),
            )

    def renew_lock(self, message: ReceivedMessage) -> ReceivedMessage:
        """Extend the lock by a full `lock_duration` from now."""
        with self._transaction() as conn:
            now = self._check_lock(conn, message)
            locked_until = now + self._lock_duration // _MICROSECOND
            conn.execute(
                "UPDATE queue_messages SET locked_until = ?, visible_at = ?"
                " WHERE sequence_number = ?",
                (locked_until, locked_until, message.sequence_number),
            )
        return replace(message, locked_until=_from_micros(locked_until))

    def dead_letter(self, message: ReceivedMessage, reason: str, description: str = "") -> None:
        """Move the message to the dead-letter sub-queue; it is never delivered again."""
        with self._transaction() as conn:
            now = self._check_lock(conn, message)
            self._move_to_dead_letters(conn, message.sequence_number, reason, description, now)

    def _check_lock(self, conn: sqlite3.Connection, message: ReceivedMessage) -> int:
        now = self._now_micros()
        held = conn.execute(
            "SELECT 1 FROM queue_messages WHERE sequence_number = ? AND queue_name = ?"
            " AND lock_token = ? AND locked_until > ?",
            (message.sequence_number, self.queue_name, message.lock_token, now),
        ).fetchone()
        if held is None:
            raise MessageLockLost(
                f"lock {message.lock_token} on message {message.message_id!r}"
                f" in queue {self.queue_name!r} expired or is held by another receiver"
            )
        return now

    def _move_to_dead_letters(
        self, conn: sqlite3.Connection, sequence: int, reason: str, description: str, now: int
    ) -> None:
        conn.execute(
            "INSERT INTO queue_dead_letters (sequence_number, queue_name, message_id, body,"
            " application_properties, delivery_count, reason, description, dead_lettered_at)"
            " SELECT sequence_number, queue_name, message_id, body, application_properties,"
            " delivery_count, ?, ?, ? FROM queue_messages WHERE sequence_number = ?",
            (reason, description, now, sequence),
        )
        conn.execute("DELETE FROM queue_messages WHERE sequence_number = ?", (sequence,))

    # --- inspection --------------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        rows = (
            self._connection()
            .execute(
                "SELECT message_id, body, delivery_count, reason, description, dead_lettered_at"
                " FROM queue_dead_letters WHERE queue_name = ? ORDER BY sequence_number",
                (self.queue_name,),
            )
            .fetchall()
        )
        return [
            DeadLetter(
                message_id=message_id,
                body=bytes(body),
                delivery_count=count,
                reason=reason,
                description=description,
                dead_lettered_at=_from_micros(at),
            )
            for message_id, body, count, reason, description, at in rows
        ]

    def active_count(self) -> int:
        """Messages not dead-lettered, locked and scheduled ones included."""
        (count,) = (
            self._connection()
            .execute("SELECT COUNT(*) FROM queue_messages WHERE queue_name = ?", (self.queue_name,))
            .fetchone()
        )
        return int(count)

    def oldest_unsettled(self) -> datetime | None:
        """Implements `services.ports.QueueProbe`: the oldest message not yet completed
        whose time has come, waiting or in flight, counted from when it came due."""
        now = self._now_micros()
        (oldest,) = (
            self._connection()
            .execute(
                "SELECT MIN(MAX(enqueued_at, COALESCE(scheduled_at, 0))) FROM queue_messages"
                " WHERE queue_name = ? AND COALESCE(scheduled_at, 0) <= ?",
                (self.queue_name, now),
            )
            .fetchone()
        )
        return None if oldest is None else _from_micros(int(oldest))

    # --- connections -------------------------------------------------------------------

    def close(self) -> None:
        """Close every thread's connection; call it once the workers have stopped."""
        self._pool.close()

    def _now_micros(self) -> int:
        return _to_micros(self._clock())

    def _connection(self) -> sqlite3.Connection:
        return self._pool.get()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
