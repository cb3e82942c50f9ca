"""The checkpointed runner: folds the event log into the views, batch by batch.

Projections at the same position share one read of the log. For each batch the runner
loads the documents the batch touches, folds the events into them in memory, and
writes the changed documents together with the new position in one transaction. A
crash before that commit leaves the views exactly at their old position; the next run
reads the same events again. Because `apply` skips events at or below a document's
version, even a run from an older position (a reset checkpoint, a second runner)
does not count anything twice.

The log is read in the cheapest form it offers: `Record`s by position range, only of
the types the projections handle (`RecordLog`); else `Event` models. A projection that
can fold a whole batch (`Projection.fold`) copies each document once per batch rather
than once per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime

from projections import ALL_PROJECTIONS
from projections.base import (
    BulkLoading,
    EventLog,
    Fact,
    Projection,
    RecordLog,
    ViewBatch,
    ViewWriter,
    fold_batch,
    types_read,
    without_cycle_collection,
)
from projections.follower import CheckpointedFollower
from projections.partitioned import replay_partitioned


class ProjectionRunner(CheckpointedFollower):
    work = "projection batch"

    def __init__(
        self,
        log: EventLog | RecordLog,
        views: ViewWriter,
        projections: Sequence[Projection] = ALL_PROJECTIONS,
        batch_size: int = 1000,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        self._log = log
        self._views = views
        self._projections = tuple(projections)
        self._batch_size = batch_size

    def run_once(self) -> int:
        """Fold at most one batch into every projection; answer how many log positions
        the views moved past (events, as the store leaves no gaps).

        Raises `StalePosition` if another runner moved a projection meanwhile (nothing of
        that batch is written; the next run starts from the new position).
        """
        positions = self._views.positions([p.name for p in self._projections])
        by_position: dict[int, list[Projection]] = {}
        for projection in self._projections:
            by_position.setdefault(positions[projection.name], []).append(projection)
        processed = 0
        for start, projections in sorted(by_position.items()):
            end, batch = self._read(start, projections)
            if end == start:
                continue
            self._views.apply_batches(
                [
                    ViewBatch(
                        projection=p.name,
                        documents=fold_batch(p, batch, self._views.get_many),
                        position=end,
                        expected_position=start,
                        partition_field=p.partition_field,
                    )
                    for p in projections
                ]
            )
            processed += end - start
        return processed

    def lag(self) -> dict[str, tuple[int, datetime | None]]:
        """Per projection: how many events it has still to fold, and when the first of
        them was recorded (None when it is caught up)."""
        positions = self._views.positions([p.name for p in self._projections])
        last = self._log.last_position()
        lag: dict[str, tuple[int, datetime | None]] = {}
        for projection in self._projections:
            position = positions[projection.name]
            lag[projection.name] = (last - position, self._recorded_after(position, last))
        return lag

    def _recorded_after(self, position: int, last: int) -> datetime | None:
        if position >= last:
            return None
        log = self._log
        if isinstance(log, RecordLog):
            first = log.read_records(position, position + 1)
            return first[0].recorded_at if first else None
        events = log.read_all(position, 1)
        return events[0].event.recorded_at if events else None

    def _read(self, start: int, projections: Sequence[Projection]) -> tuple[int, Sequence[Fact]]:
        """The batch after `start`: the position it ends at, and its events."""
        log = self._log
        if isinstance(log, RecordLog):
            end = min(start + self._batch_size, log.last_position())
            if end <= start:
                return start, []
            return end, log.read_records(start, end, types_read(projections))
        events = log.read_all(start, self._batch_size)
        return (events[-1].position if events else start), [i.event for i in events]


def replay_all(
    log: EventLog | RecordLog,
    views: ViewWriter,
    projections: Sequence[Projection] = ALL_PROJECTIONS,
    batch_size: int = 20_000,
    workers: int = 1,
) -> int:
    """Fold the whole log into `views` (a rebuild, or a benchmark); answer positions read.

    With `workers` > 1 the log is split by stream between that many processes
    (`projections.partitioned`); each batch is still written in one transaction, with
    its positions, by this process. Events appended meanwhile are folded in afterwards.
    """
    loading = views.bulk_load() if isinstance(views, BulkLoading) else nullcontext()
    with without_cycle_collection(), loading:
        done = 0
        if workers > 1:
            done = replay_partitioned(log, views, projections, batch_size, workers)
        runner = ProjectionRunner(log, views, projections, batch_size)
        return done + runner.run_until_caught_up()
