"""Snapshots of folded stream states in a SQLite file of their own (`snapshots.db`).

Kept apart from `events.db` so that the audit trail's file holds only the log, and
deleting this file is always safe: every snapshot is a cache of a fold of the log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from adapters.sqlite_connections import ConnectionPerThread
from services.ports import Snapshot

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    shape INTEGER NOT NULL,
    version INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (aggregate, stream_id)
)
"""
_GET = (
    "SELECT shape, version, head_hash, state FROM snapshots WHERE aggregate = ? AND stream_id = ?"
)
# A snapshot never replaces a newer one: two instances may fold the same stream.
_PUT = (
    "INSERT INTO snapshots (aggregate, stream_id, shape, version, head_hash, state)"
    " VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (aggregate, stream_id) DO UPDATE SET shape = excluded.shape,"
    " version = excluded.version, head_hash = excluded.head_hash, state = excluded.state"
    " WHERE excluded.version > snapshots.version OR excluded.shape != snapshots.shape"
)


class SqliteSnapshotStore:
    """Thread- and process-safe."""

    def __init__(
        self, path: Path | str, *, synchronous: Literal["FULL", "NORMAL"] = "NORMAL"
    ) -> None:
        self._pool = ConnectionPerThread(path, synchronous=synchronous, label="snapshots")
        self._pool.get().execute(SCHEMA)

    def get(self, aggregate: str, stream_id: str) -> Snapshot | None:
        row = self._pool.get().execute(_GET, (aggregate, stream_id)).fetchone()
        if row is None:
            return None
        shape, version, head_hash, state = row
        return Snapshot(aggregate, stream_id, shape, version, head_hash, json.loads(state))

    def put(self, snapshot: Snapshot) -> None:
        row = (
            snapshot.aggregate,
            snapshot.stream_id,
            snapshot.shape,
            snapshot.version,
            snapshot.head_hash,
            json.dumps(snapshot.state, separators=(",", ":")),
        )
        self._pool.get().execute(_PUT, row)

    def clear(self) -> int:
        return self._pool.get().execute("DELETE FROM snapshots").rowcount

    def close(self) -> None:
        self._pool.close()
