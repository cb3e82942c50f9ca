"""The embedded shape's webhook dispatcher: reads the log from a checkpoint, enqueues.

On Azure the events container's change feed feeds `dispatch` (functions/webhooks.py);
locally this reader plays that role, as the projection runner does for the views. Its
checkpoint is a position beside the projections' in the view store, moved only after a
batch's messages were sent: a crash re-reads the batch, and the deterministic message
ids and the delivery streams make that harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from projections.base import ViewBatch
from projections.follower import CheckpointedFollower
from services.context import Platform
from services.ports import EventLog
from services.webhook_delivery import DISPATCHED_TYPES, dispatch
from services.webhooks import WebhookPorts

CHECKPOINT = "webhook-dispatch"


class Checkpoints(Protocol):
    """Where the reader keeps its place (the view store's positions)."""

    def positions(self, projections: Collection[str]) -> dict[str, int]: ...

    def apply_batches(self, batches: Sequence[ViewBatch]) -> None: ...


class WebhookDispatcher(CheckpointedFollower):
    """`platform` is called when an event needs it, so building it (the screening model
    loads with it) does not hold up whoever starts the dispatcher."""

    work = "webhook dispatch"

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
