"""The gauges read when metrics are scraped: queue backlog, projection lag, seal age.

They describe shared state (a queue, the views, the seal store), not this process's
work, so the process serving `/metrics` reads them just before it answers.
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
from services.ports import Meter
from services.seals import SealStore, parse_seal

log = logging.getLogger(__name__)


class Backlog(Protocol):
    queue_name: str

    def backlog(self) -> tuple[int, datetime | None]: ...


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
                depth, oldest = queue.backlog()
                self.meter.set(QUEUE_DEPTH, depth, queue=queue.queue_name)
                age = _seconds_since(now, oldest)
                self.meter.set(QUEUE_OLDEST_SECONDS, age, queue=queue.queue_name)
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


def _seconds_since(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max((now - then).total_seconds(), 0.0)


@contextmanager
def _reading(what: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        log.exception("reading %s for the metrics failed", what)
