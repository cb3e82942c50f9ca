"""What an event store does around an append, whatever it stores the events in.

Positioning and chaining new events, and deciding whether ids that are already recorded
are a retry of this very append (a no-op) or a reuse that no retry explains.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.envelope import GENESIS_HASH, Event, EventText, NewEvent, record
from services.ports import EventIdConflict


def distinct_event_ids(stream_id: str, events: Sequence[NewEvent]) -> list[str]:
    """The events' ids as text; raises `EventIdConflict` when one repeats."""
    ids = [str(event.event_id) for event in events]
    if len(set(ids)) != len(ids):
        raise EventIdConflict(f"append to {stream_id!r} repeats an event id: {ids}")
    return ids


def genesis_or_refused(stream_id: str, head_hash: str | None) -> str:
    """The hash a new stream chains from; a `head_hash` given for version 0 must be it."""
    if head_hash not in (None, GENESIS_HASH):
        raise ValueError(
            f"append to {stream_id!r} at version 0 with head hash {head_hash!r}:"
            " a new stream chains from the genesis hash"
        )
    return GENESIS_HASH


def chain(
    stream_id: str,
    version: int,
    prev_hash: str,
    events: Sequence[NewEvent],
    recorded_at: datetime,
    texts: Sequence[EventText] | None = None,
) -> list[Event]:
    """`events` positioned after `version` and chained after `prev_hash`.

    `texts` are the events' `EventText`s when the store prepared them already.
    """
    if recorded_at.tzinfo is None:
        raise ValueError("the event store clock must return timezone-aware datetimes")
    chained = []
    for n, new in enumerate(events):
        version += 1
        event = record(
            new,
            stream_id=stream_id,
            version=version,
            prev_hash=prev_hash,
            recorded_at=recorded_at,
            text=None if texts is None else texts[n],
        )
        chained.append(event)
        prev_hash = event.hash
    return chained


def as_this_batch(stream_id: str, ids: list[str], recorded: list[Event]) -> list[Event]:
    """`recorded` (the events found under any of `ids`, in append order) if it is exactly
    the batch `ids` appended to `stream_id`; [] if nothing is recorded.

    Raises `EventIdConflict` when only part of the batch is recorded, or an id is recorded
    elsewhere or at other versions: retrying cannot make such an append succeed.
    """
    if not recorded:
        return recorded
    first_version = recorded[0].version
    is_this_batch = [str(e.event_id) for e in recorded] == ids and all(
        e.stream_id == stream_id and e.version == first_version + i for i, e in enumerate(recorded)
    )
    if not is_this_batch:
        where = ", ".join(f"{e.event_id} at {e.stream_id!r} v{e.version}" for e in recorded)
        raise EventIdConflict(
            f"append of {len(ids)} event(s) to {stream_id!r} reuses recorded ids"
            f" that are not exactly this batch: {where}"
        )
    return recorded
