"""How the SQLite event store writes an event as a row, and reads rows back.

Rows come from our own store, so reading skips re-validation: the hash chain verify, not
a check on every read, is what detects a tampered row. Replay and append speed are
bounded by this code, so each step below is the cheapest stdlib form measured (see
benchmarks/).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID, SafeUUID

from domain.envelope import Actor, Event, EventText, format_timestamp, trusted

_new = object.__new__
_set = object.__setattr__
_UUID_UNKNOWN = SafeUUID.unknown
# The C scanner without `json.loads`' type checks and whitespace skipping: our JSON is
# written compact (canonical) by `row_of`, so it starts with its first token.
_scan_json: Callable[[str, int], tuple[Any, int]] = cast(Any, json.JSONDecoder()).scan_once
_from_iso = datetime.fromisoformat
_MAX_CACHED_ACTORS = 10_000  # bounded: actors are users, not events


def _uuid(text: str) -> UUID:
    # UUID(text) normalises prefixes and braces we never write; this is twice as fast.
    uuid = _new(UUID)
    _set(uuid, "int", int(text.replace("-", ""), 16))
    _set(uuid, "is_safe", _UUID_UNKNOWN)
    return uuid


def _json(text: str) -> Any:
    return _scan_json(text, 0)[0]


def row_of(event: Event, text: EventText, recorded_at: str) -> tuple[Any, ...]:
    """The row of `event`: the texts `record` hashed, nothing serialised twice."""
    return (
        text.event_id,
        event.stream_id,
        event.version,
        event.type,
        event.schema_version,
        recorded_at,
        text.correlation_id,
        text.causation_id,
        text.actor,
        text.data,
        event.prev_hash,
        event.hash,
    )


def rows_of(
    appended: Sequence[Event], texts: Sequence[EventText], recorded_at: datetime
) -> list[tuple[Any, ...]]:
    """The rows of a chained batch, `texts` being its events' `EventText`s."""
    stamp = format_timestamp(recorded_at)
    return [row_of(event, text, stamp) for event, text in zip(appended, texts, strict=True)]


class RowDecoder:
    """Rows (columns in `row_of` order) back into `Event`s.

    Readers see the same actor again and again; `Actor` is frozen, so one instance per
    distinct JSON text is shared by every event that carries it.
    """

    def __init__(self) -> None:
        self._actors: dict[str, Actor] = {}

    def event(self, row: Sequence[Any]) -> Event:
        (
            event_id,
            stream_id,
            version,
            type_,
            schema_version,
            recorded_at,
            correlation_id,
            causation_id,
            actor_json,
            data_json,
            prev_hash,
            hash_,
        ) = row
        return trusted(
            Event,
            {
                "event_id": _uuid(event_id),
                "stream_id": stream_id,
                "version": version,
                "type": type_,
                "schema_version": schema_version,
                "recorded_at": _from_iso(recorded_at),
                "correlation_id": _uuid(correlation_id),
                "causation_id": None if causation_id is None else _uuid(causation_id),
                "actor": self._actors.get(actor_json) or self._actor(actor_json),
                "data": _json(data_json),
                "prev_hash": prev_hash,
                "hash": hash_,
            },
        )

    def _actor(self, actor_json: str) -> Actor:
        fields = _json(actor_json)
        fields["roles"] = tuple(fields["roles"])
        actor = trusted(Actor, fields)
        if len(self._actors) < _MAX_CACHED_ACTORS:
            self._actors[actor_json] = actor
        return actor
