"""The SQLite event store's file read as `Record`s: the replay side of the log.

Implements `projections.base.RecordLog` over the `events` table that
`adapters.sqlite_event_store` writes (its columns and its fixed-width `recorded_at`
text are that module's; this one only reads them, on its own connections). A replay
is bounded by how fast rows become records, so the work is pushed into SQLite where it
can be: the time is turned into view text by `substr`, unread types and streams outside
a range are skipped before they reach Python, and only `data` is decoded.

Rows come from our own store, so nothing is re-validated here: the hash chain verify,
not a check on every read, is what detects a tampered row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, cast

from adapters.sqlite_connections import ConnectionPerThread
from projections.base import Record, StreamRange

# `recorded_at` is stored as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (`format_timestamp`, the form
# the hash covers, so it never changes); views write `...ffffff+00:00` (`timestamp`).
_SELECT = (
    "SELECT position, stream_id, version, type, substr(recorded_at, 1, 26) || '+00:00',"
    " actor, data FROM events WHERE position > ? AND position <= ?"
)
# The C scanner without `json.loads`' type checks and whitespace skipping: the store
# writes compact JSON, so it starts with its first token. A third of the decoding time.
_scan_json: Callable[[str, int], tuple[Any, int]] = cast(Any, json.JSONDecoder()).scan_once
# Building the tuple directly skips the NamedTuple constructor's argument handling.
_new_tuple = tuple.__new__


class SqliteRecordLog:
    """Reads an event store file; safe to share between threads, and to pickle.

    A pickled copy reopens the same file, which is how the processes of a partitioned
    replay (`projections.partitioned`) each get their own connection.
    """

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._pool = ConnectionPerThread(path, synchronous="FULL", label="event log reader")

    def __reduce__(self) -> tuple[type[SqliteRecordLog], tuple[str]]:
        return (SqliteRecordLog, (self._path,))

    def last_position(self) -> int:
        (position,) = self._pool.get().execute("SELECT MAX(position) FROM events").fetchone()
        return int(position or 0)

    def read_records(
        self,
        after_position: int,
        up_to_position: int,
        types: Collection[str] | None = None,
        streams: StreamRange | None = None,
    ) -> list[Record]:
        """The events at positions in (`after_position`, `up_to_position`], in order."""
        sql = _SELECT
        params: list[Any] = [after_position, up_to_position]
        if types is not None:
            wanted = sorted(types)
            sql += f" AND type IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        if streams is not None and streams.low is not None:
            sql += " AND stream_id >= ?"
            params.append(streams.low)
        if streams is not None and streams.high is not None:
            sql += " AND stream_id < ?"
            params.append(streams.high)
        rows = self._pool.get().execute(sql + " ORDER BY position", params)
        return [
            _new_tuple(
                Record, (position, stream, version, type_, at, actor, _scan_json(data, 0)[0])
            )
            for position, stream, version, type_, at, actor, data in rows
        ]

    def stream_sample(self, after_position: int, up_to_position: int, size: int) -> list[str]:
        """The stream ids of about `size` events spread evenly over the range, sorted.

        Reads by position, so it costs `size` lookups however long the log is.
        """
        step = max(1, (up_to_position - after_position) // max(1, size))
        rows = self._pool.get().execute(
            "WITH RECURSIVE p(x) AS (SELECT ? UNION ALL SELECT x + ? FROM p WHERE x + ? <= ?)"
            " SELECT stream_id FROM p JOIN events ON position = x",
            (after_position + 1, step, step, up_to_position),
        )
        return sorted(stream for (stream,) in rows)

    def close(self) -> None:
        self._pool.close()
