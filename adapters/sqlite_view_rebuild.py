"""Rebuild SQLite projection views from zero beside the live ones, compare, then swap.

The live `views.db` keeps serving and its runner keeps folding while this runs:

1. Replay from zero into a new store file beside it (`views-rebuild-<time>.db`), up to
   exactly the position each live projection had reached when the rebuild began.
2. Open a transaction on the live file: `BEGIN IMMEDIATE` to swap (the live runner's
   next write waits on SQLite's write lock), plain `BEGIN` for a dry run (a read
   snapshot, so nothing waits). Inside it, read the live positions again and fold the
   events appended meanwhile into the rebuilt store, up to exactly those positions.
   Both sides now stand at the same log position.
3. Compare the two row by row, in key order, streaming both sides.
4. Swap, unless a dry run: in that same transaction, delete the live rows the rebuild
   lacks and write the rebuilt rows that differ. One commit: API readers (WAL
   snapshots) see the old view or the new one, never a mix.

The live runner could not write while the swap held the lock, but it may have loaded
documents before the commit and folded the next batch into them; that batch expects
the position the swap compared at. So a projection whose rows the swap changed has its
position moved back by one event: the stale batch then fails its compare-and-set, and
the runner folds again from there onto the swapped documents (`apply` skips the event
they already hold, by its version). A projection that did not differ keeps its position.

Writing only the differing rows makes the live view equal to the rebuilt one row for
row (the comparison covered every row, both sides at one position) while holding the
lock no longer than the comparison and the writes of the differences. The rebuilt file
is deleted afterwards.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from adapters.sqlite_connections import BUSY_TIMEOUT_MS
from adapters.sqlite_views import SqliteViewStore
from projections.base import Projection, Record, StreamRange
from projections.partitioned import PartitionableLog
from projections.rebuild import Difference, merge_by_key
from projections.runner import ProjectionRunner, replay_all

_COLUMNS = "key, partition, user_id, department_id, status, created_at, updated_at, document"
_SELECT_ROWS = f"SELECT {_COLUMNS} FROM view_documents WHERE projection = ? ORDER BY key"  # noqa: S608 (fixed)
_INSERT = f"INSERT OR REPLACE INTO view_documents (projection, {_COLUMNS}) VALUES (?{', ?' * 8})"  # noqa: S608 (fixed)
_DELETE = "DELETE FROM view_documents WHERE projection = ? AND key = ?"
_FETCH = 500

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RebuildReport:
    projections: tuple[str, ...]
    # Where live and rebuilt were compared and swapped; a projection that differed is
    # recorded one event back (see the module's docstring).
    positions: Mapping[str, int]
    events_replayed: int  # log positions the rebuild read, summed over its replays
    documents: Mapping[str, int]  # rebuilt documents per projection
    differences: tuple[Difference, ...]
    seconds: float
    swapped: bool


class RebuildRaced(RuntimeError):
    """A live projection's position went backwards while the rebuild ran (a reset)."""


@dataclass(frozen=True, slots=True)
class LogUpTo:
    """`log` as it stood at `position`: a replay over it stops there exactly."""

    log: PartitionableLog
    position: int

    def last_position(self) -> int:
        return min(self.position, self.log.last_position())

    def read_records(
        self,
        after_position: int,
        up_to_position: int,
        types: Collection[str] | None = None,
        streams: StreamRange | None = None,
    ) -> list[Record]:
        return self.log.read_records(
            after_position, min(up_to_position, self.position), types, streams
        )

    def stream_sample(self, after_position: int, up_to_position: int, size: int) -> list[str]:
        return self.log.stream_sample(after_position, min(up_to_position, self.position), size)


def rebuild_views(
    log: PartitionableLog,
    live_path: Path,
    projections: Sequence[Projection],
    *,
    dry_run: bool = False,
    workers: int = 1,
) -> RebuildReport:
    """Rebuild `projections` from zero beside the views at `live_path`; swap unless a dry run."""
    started = time.monotonic()
    names = tuple(p.name for p in projections)
    shadow_path = live_path.with_name(f"views-rebuild-{time.time_ns()}.db")
    live = SqliteViewStore(live_path)
    shadow = SqliteViewStore(shadow_path, synchronous="NORMAL")
    try:
        replayed = _replay(log, shadow, projections, live.positions(names), workers)
        conn = sqlite3.connect(live_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute("BEGIN" if dry_run else "BEGIN IMMEDIATE")
            try:
                positions = _positions(conn, names)
                replayed += _catch_up(log, shadow, projections, positions)
                differences, documents = _compare(conn, shadow_path, names, write=not dry_run)
                if not dry_run:
                    _invalidate_folded_batches(conn, {d.projection for d in differences})
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("ROLLBACK" if dry_run else "COMMIT")
        finally:
            conn.close()
    finally:
        shadow.close()
        live.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{shadow_path}{suffix}").unlink(missing_ok=True)
    return RebuildReport(
        projections=names,
        positions=positions,
        events_replayed=replayed,
        documents=documents,
        differences=tuple(differences),
        seconds=time.monotonic() - started,
        swapped=not dry_run,
    )


def _replay(
    log: PartitionableLog,
    shadow: SqliteViewStore,
    projections: Sequence[Projection],
    positions: Mapping[str, int],
    workers: int,
) -> int:
    """Replay each group of projections that stand at one live position, up to it."""
    by_position: dict[int, list[Projection]] = {}
    for projection in projections:
        by_position.setdefault(positions[projection.name], []).append(projection)
    return sum(
        replay_all(LogUpTo(log, position), shadow, group, workers=workers)
        for position, group in sorted(by_position.items())
    )


def _catch_up(
    log: PartitionableLog,
    shadow: SqliteViewStore,
    projections: Sequence[Projection],
    positions: Mapping[str, int],
) -> int:
    done = 0
    rebuilt = shadow.positions(positions)
    for projection in projections:
        target, reached = positions[projection.name], rebuilt[projection.name]
        if reached > target:
            raise RebuildRaced(
                f"live {projection.name!r} moved back to {target} from at least {reached}"
            )
        runner = ProjectionRunner(LogUpTo(log, target), shadow, [projection])
        done += runner.run_until_caught_up()
    return done


def _positions(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, int]:
    found = dict(conn.execute("SELECT projection, position FROM view_positions").fetchall())
    return {name: int(found.get(name, 0)) for name in names}


def _invalidate_folded_batches(conn: sqlite3.Connection, changed: Collection[str]) -> None:
    conn.executemany(
        "UPDATE view_positions SET position = position - 1 WHERE projection = ? AND position > 0",
        [(name,) for name in changed],
    )


def _compare(
    live: sqlite3.Connection, shadow_path: Path, names: Sequence[str], *, write: bool
) -> tuple[list[Difference], dict[str, int]]:
    """Differences between the live rows and the rebuilt ones; with `write`, make the
    live rows the rebuilt ones (in the caller's transaction)."""
    differences: list[Difference] = []
    documents: dict[str, int] = {}
    shadow = sqlite3.connect(shadow_path, isolation_level=None)
    try:
        for name in names:
            documents[name] = 0
            # Written once both sides are read: a cursor over rows being changed may
            # skip or repeat some.
            writes: list[tuple[str, Row | None]] = []
            rows = merge_by_key(_rows(live, name), _rows(shadow, name), itemgetter(0), _alike)
            for key, kind, _live, rebuilt in rows:
                if rebuilt is not None:
                    documents[name] += 1
                if kind is not None:
                    differences.append(Difference(name, key, kind))
                    writes.append((key, rebuilt))
            for key, rebuilt in writes if write else ():
                if rebuilt is None:
                    live.execute(_DELETE, (name, key))
                else:
                    live.execute(_INSERT, (name, *rebuilt))
    finally:
        shadow.close()
    return differences, documents


def _rows(conn: sqlite3.Connection, projection: str) -> Iterator[Row]:
    cursor = conn.execute(_SELECT_ROWS, (projection,))
    while rows := cursor.fetchmany(_FETCH):
        yield from rows


def _alike(live: Row, rebuilt: Row) -> bool:
    # Documents are compared decoded: the same document may be encoded with its keys
    # in another order, depending on which fold path last wrote it.
    return live[:-1] == rebuilt[:-1] and json.loads(live[-1]) == json.loads(rebuilt[-1])
