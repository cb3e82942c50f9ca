"""The checkpointed runner: folds the event log into the views, batch by batch.

Projections at the same position share one read of the log. For each batch the runner
loads the documents the batch touches, folds the events into them in memory, and
writes the changed documents together with the new position in one transaction. A
crash before that commit leaves the views exactly at their old position; the next run
reads the same events again. Because `apply` skips events at or below a document's
version, even a run from an older position (a reset checkpoint, a second runner)
does not count anything twice.

When the log can hand out lightweight records (`FactLog`), the runner reads those rather
than `Event` models, and a projection that can fold a whole batch (`Projection.fold`)
copies each document once per batch rather than once per event.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Sequence
from typing import cast

from projections import ALL_PROJECTIONS
from projections.base import (
    Fact,
    FactLog,
    Projection,
    StalePosition,
    View,
    ViewBatch,
    ViewWriter,
)
from services.ports import EventLog

logger = logging.getLogger(__name__)

_RETRY_AFTER_FAILURE_SECONDS = 1.0


class ProjectionRunner:
    def __init__(
        self,
        log: EventLog,
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
        self._read: Callable[[int, int], tuple[int, Sequence[Fact]]] = (
            self._read_records if isinstance(log, FactLog) else self._read_events
        )

    def run_once(self) -> int:
        """Fold at most one batch into every projection; answer how many events were read.

        Raises `StalePosition` if another runner moved a projection meanwhile (nothing of
        that batch is written; the next run starts from the new position).
        """
        positions = self._views.positions([p.name for p in self._projections])
        by_position: dict[int, list[Projection]] = {}
        for projection in self._projections:
            by_position.setdefault(positions[projection.name], []).append(projection)
        processed = 0
        for start, projections in sorted(by_position.items()):
            end, batch = self._read(start, self._batch_size)
            if not batch:
                continue
            self._views.apply_batches(
                [
                    ViewBatch(
                        projection=p.name,
                        documents=self._fold(p, batch),
                        position=end,
                        expected_position=start,
                        partition_field=p.partition_field,
                    )
                    for p in projections
                ]
            )
            processed += len(batch)
        return processed

    def run_until_caught_up(self) -> int:
        total = 0
        while processed := self.run_once():
            total += processed
        return total

    def run_forever(self, stop: threading.Event, poll_interval: float = 0.05) -> None:
        """Keep the views caught up until `stop` is set; a failing batch is retried."""
        while not stop.is_set():
            try:
                processed = self.run_once()
            except StalePosition as stale:
                logger.info("another runner moved the views on: %s", stale)
                continue
            except Exception:
                # A bug or a locked file must not end the thread; the batch is retried.
                logger.exception("projection batch failed; retrying")
                stop.wait(_RETRY_AFTER_FAILURE_SECONDS)
                continue
            if processed == 0:
                stop.wait(poll_interval)

    def _read_records(self, after_position: int, limit: int) -> tuple[int, Sequence[Fact]]:
        records = cast(FactLog, self._log).read_all_records(after_position, limit)
        return (records[-1].position if records else after_position), records

    def _read_events(self, after_position: int, limit: int) -> tuple[int, Sequence[Fact]]:
        batch = self._log.read_all(after_position, limit)
        return (batch[-1].position if batch else after_position), [i.event for i in batch]

    def _fold(self, projection: Projection, batch: Sequence[Fact]) -> dict[str, View]:
        keys_of, types = projection.keys, projection.types
        if types is not None:
            batch = [fact for fact in batch if fact.type in types]
        touched = [(key, fact) for fact in batch for key in keys_of(fact)]
        if not touched:
            return {}
        views = self._views.get_many(projection.name, {key for key, _ in touched})
        if projection.fold is not None:
            return projection.fold(views, touched)
        apply = projection.apply
        changed: dict[str, View] = {}
        for key, fact in touched:
            current = views.get(key)
            folded = apply(current, fact)
            if folded is not current:
                views[key] = folded
                changed[key] = folded
        return changed


def replay_all(
    log: EventLog,
    views: ViewWriter,
    projections: Sequence[Projection] = ALL_PROJECTIONS,
    batch_size: int = 20_000,
) -> int:
    """Fold the whole log into `views` (a rebuild, or a benchmark); answer events read.

    The cycle collector is paused meanwhile: a replay allocates millions of short-lived
    dicts, which keep triggering collections that walk every live batch to find no
    cycles (decoded JSON and view documents have none; reference counting frees them).
    That was a third of the fold's time.
    """
    runner = ProjectionRunner(log, views, projections, batch_size)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return runner.run_until_caught_up()
    finally:
        if collecting:
            gc.enable()
