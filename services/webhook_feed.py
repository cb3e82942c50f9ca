"""The embedded shape's webhook dispatcher: reads the log from a checkpoint, enqueues.

On Azure the events container's change feed feeds `dispatch` (functions/webhooks.py);
locally this reader plays that role, as the projection runner does for the views. Its
checkpoint is a position beside the projections' in the view store, moved only after a
batch's messages were sent: a crash re-reads the batch, and the deterministic message
ids and the delivery streams make that harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from projections.base import ViewBatch
from services.context import Platform
from services.ports import EventLog
from services.webhook_delivery import DISPATCHED_TYPES, dispatch
from services.webhooks import WebhookPorts

log = logging.getLogger(__name__)

CHECKPOINT = "webhook-dispatch"
_RETRY_AFTER_FAILURE_SECONDS = 1.0


class Checkpoints(Protocol):
    """Where the reader keeps its place (the view store's positions)."""

    def positions(self, projections: Collection[str]) -> dict[str, int]: ...

    def apply_batches(self, batches: Sequence[ViewBatch]) -> None: ...


class WebhookDispatcher:
    """`platform` is called when an event needs it, so building it (the screening model
    loads with it) does not hold up whoever starts the dispatcher."""

    def __init__(
        self,
        platform: Callable[[], Platform],
        ports: WebhookPorts,
        events: EventLog,
        checkpoints: Checkpoints,
        batch_size: int = 500,
    ) -> None:
        self._platform = platform
        self._ports = ports
        self._events = events
        self._checkpoints = checkpoints
        self._batch_size = batch_size

    def run_once(self) -> int:
        """Dispatch at most one batch; answer how many log positions it moved past."""
        start = self._checkpoints.positions([CHECKPOINT])[CHECKPOINT]
        batch = self._events.read_all(start, self._batch_size)
        if not batch:
            return 0
        for positioned in batch:
            if positioned.event.type in DISPATCHED_TYPES:
                dispatch(self._platform(), self._ports, positioned.event)
        end = batch[-1].position
        self._checkpoints.apply_batches([ViewBatch(CHECKPOINT, {}, end, expected_position=start)])
        return end - start

    def run_until_caught_up(self) -> int:
        total = 0
        while moved := self.run_once():
            total += moved
        return total

    def run_forever(self, stop: threading.Event, poll_interval: float = 0.1) -> None:
        while not stop.is_set():
            try:
                moved = self.run_once()
            except Exception:
                # A full queue file or a bug must not end the thread; the batch is retried.
                log.exception("webhook dispatch failed; retrying")
                stop.wait(_RETRY_AFTER_FAILURE_SECONDS)
                continue
            if moved == 0:
                stop.wait(poll_interval)
