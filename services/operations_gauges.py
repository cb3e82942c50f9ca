"""The gauges of shared state: queue backlog, projection lag, seal age.

They describe shared state (a queue, the views, the seal store), not this process's
work. On the embedded host the process serving `/metrics` reads them just before it
answers (`OperationsGauges`); on Azure, where nothing is scraped, a timer function
records the queues' ages every minute (`record_queue_ages`) and the change-feed
projector the lag of each batch it folds (`record_projection_lag`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.metrics import (
    PROJECTION_LAG_EVENTS,
    PROJECTION_LAG_SECONDS,
    QUEUE_DEPTH,
    QUEUE_OLDEST_SECONDS,
    SEAL_AGE_SECONDS,
)
from services.ports import Meter, QueueProbe
from services.seals import SealStore, parse_seal

log = logging.getLogger(__name__)


class Backlog(QueueProbe, Protocol):
    def active_count(self) -> int: ...


class Lagging(Protocol):
    def lag(self) -> Mapping[str, tuple[int, datetime | None]]: ...


@dataclass(frozen=True)
class OperationsGauges:
    meter: Meter
    clock: Callable[[], datetime]
    queues: Sequence[Backlog] = ()
    projections: Lagging | None = None  # None where the change feed feeds the views
    seals: SealStore | None = None

    def sample(self) -> None:
        """Read every source now; one that fails is logged and leaves its gauges as
        they were, so the rest are still answered."""
        now = self.clock()
        for queue in self.queues:
            with _reading(f"queue {queue.queue_name}"):
                self.meter.set(QUEUE_DEPTH, queue.active_count(), queue=queue.queue_name)
        record_queue_ages(self.meter, now, self.queues)
        if self.projections is not None:
            with _reading("projection positions"):
                for name, (behind, first) in self.projections.lag().items():
                    self.meter.set(PROJECTION_LAG_EVENTS, behind, projection=name)
                    self.meter.set(
                        PROJECTION_LAG_SECONDS, _seconds_since(now, first), projection=name
                    )
        if self.seals is not None:
            with _reading("the last seal"):
                last = self.seals.last()
                if last is not None:
                    sealed_at = parse_seal(last[1]).sealed_at
                    self.meter.set(SEAL_AGE_SECONDS, _seconds_since(now, sealed_at))


def record_queue_ages(meter: Meter, now: datetime, queues: Sequence[QueueProbe]) -> None:
    """Each queue's oldest unsettled message's age, 0 when none is due; a queue that
    cannot be read is logged and skipped, so the others are still measured."""
    for queue in queues:
        with _reading(f"queue {queue.queue_name}"):
            age = _seconds_since(now, queue.oldest_unsettled())
            meter.set(QUEUE_OLDEST_SECONDS, age, queue=queue.queue_name)


def _seconds_since(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max((now - then).total_seconds(), 0.0)


@contextmanager
def _reading(what: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        log.exception("reading %s for the metrics failed", what)
