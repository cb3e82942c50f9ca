"""Projecting a change-feed batch: the use case behind each Cosmos DB trigger.

On the Azure shape the views are fed by the events container's change feed, one
trigger (and one lease prefix) per projection, at least once and in order within each
stream only. The view store does the folding (`ChangeFeedViews`); this names the
projection and checks that the platform's views can be fed that way.

It also records the projection's lag in seconds: how long ago the oldest event of the
batch was recorded, as the batch arrives (so a batch that fails and is retried reports
a growing lag). How many events are behind is not known here: the change feed tells a
trigger nothing about what it has not delivered yet.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from projections import ALL_PROJECTIONS
from projections.base import Projection
from services.context import Platform
from services.metrics import PROJECTION_LAG_SECONDS

log = logging.getLogger(__name__)

PROJECTIONS: dict[str, Projection] = {p.name: p for p in ALL_PROJECTIONS}


@runtime_checkable
class ChangeFeedViews(Protocol):
    """Views that fold change-feed batches of event items idempotently."""

    def apply_changes(self, projection: Projection, items: Sequence[Mapping[str, Any]]) -> int:
        """Fold the batch; answer how many documents were written. A redelivered event
        changes nothing; a failure raises, so that the batch is retried, not skipped."""
        ...

    def oldest_recorded(self, items: Sequence[Mapping[str, Any]]) -> datetime | None:
        """When the batch's oldest event was recorded; None for a batch without events."""
        ...


class NotFedByChangeFeed(RuntimeError):
    """The platform's views are not the kind a change feed feeds (the embedded shape)."""


def project_changes(platform: Platform, projection: str, items: Sequence[Mapping[str, Any]]) -> int:
    views = platform.views
    if not isinstance(views, ChangeFeedViews):
        raise NotFedByChangeFeed(
            f"{type(views).__name__} is fed by the projection runner, not a change feed"
        )
    oldest = views.oldest_recorded(items)
    if oldest is not None:
        lag = max((platform.clock() - oldest).total_seconds(), 0.0)
        platform.meter.set(PROJECTION_LAG_SECONDS, lag, projection=projection)
    written = views.apply_changes(PROJECTIONS[projection], items)
    log.debug("%s: %d events in, %d documents written", projection, len(items), written)
    return written
