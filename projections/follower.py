"""A checkpointed log follower: reads the event log a batch at a time from a checkpoint,
and moves the checkpoint past a batch only once what the batch called for is durable.

The projection runner (the views) and the embedded host's webhook dispatcher (the
notifications) are both one, as the change feed with its leases is on Azure. What a
batch does is each follower's own `run_once`; the loops around it are here, so both
answer a failure and a rival the same way.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import ClassVar

from projections.base import StalePosition

_RETRY_AFTER_FAILURE_SECONDS = 1.0


class CheckpointedFollower(ABC):
    # What failed, for the log: "projection batch", "webhook dispatch".
    work: ClassVar[str]

    @abstractmethod
    def run_once(self) -> int:
        """Handle at most one batch after the checkpoint and move the checkpoint past it;
        answer how many log positions it moved (0 when caught up).

        Raises `StalePosition` when another follower moved the checkpoint meanwhile."""

    def run_until_caught_up(self) -> int:
        total = 0
        while moved := self.run_once():
            total += moved
        return total

    def run_forever(self, stop: threading.Event, poll_interval: float) -> None:
        """Keep following until `stop` is set; a failing batch is retried."""
        log = logging.getLogger(type(self).__module__)
        while not stop.is_set():
            try:
                moved = self.run_once()
            except StalePosition as stale:
                # The batch was handled by the other follower too (both are idempotent).
                log.info("another follower moved the checkpoint on: %s", stale)
                continue
            except Exception:
                # A bug, a locked file or a full queue must not end the thread.
                log.exception("%s failed; retrying", self.work)
                stop.wait(_RETRY_AFTER_FAILURE_SECONDS)
                continue
            if moved == 0:
                stop.wait(poll_interval)
