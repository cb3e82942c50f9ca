"""The event envelope and the per-stream hash chain.

A `NewEvent` is what a decider produces; the event store turns it into a recorded
`Event` by assigning the stream position and sealing it into the stream's hash chain
with `record`. Verification recomputes `event_hash` over the same canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

GENESIS_HASH = "0" * 64


class Actor(BaseModel):
    """Who caused an event: a user or a service principal, with the roles it held."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str
    roles: tuple[str, ...] = ()
    department_id: str | None = None


SYSTEM_ACTOR = Actor(user_id="system:donatello", roles=("System",))


class NewEvent(BaseModel):
    """An event a decider wants appended; not yet positioned in a stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    data: dict[str, Any]
    actor: Actor
    correlation_id: UUID
    causation_id: UUID | None = None
    schema_version: int = 1
    event_id: UUID = Field(default_factory=uuid4)


class Event(BaseModel):
    """A recorded event: immutable, positioned and chained to its predecessor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    stream_id: str
    version: int = Field(ge=1)
    type: str
    schema_version: int
    recorded_at: datetime
    correlation_id: UUID
    causation_id: UUID | None
    actor: Actor
    data: dict[str, Any]
    prev_hash: str
    hash: str


def format_timestamp(moment: datetime) -> str:
    """UTC, microsecond precision, fixed width: the one textual form that is hashed."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hashed_fields(
    *,
    event_id: UUID | str,
    stream_id: str,
    version: int,
    type: str,
    schema_version: int,
    recorded_at: datetime,
    correlation_id: UUID | str,
    causation_id: UUID | str | None,
    actor: Actor | dict[str, Any],
    data: dict[str, Any],
    prev_hash: str,
) -> dict[str, Any]:
    """Everything but `hash`, in the JSON form the hash is computed over."""
    actor_json = actor.model_dump(mode="json") if isinstance(actor, Actor) else actor
    return {
        "event_id": str(event_id),
        "stream_id": stream_id,
        "version": version,
        "type": type,
        "schema_version": schema_version,
        "recorded_at": format_timestamp(recorded_at),
        "correlation_id": str(correlation_id),
        "causation_id": None if causation_id is None else str(causation_id),
        "actor": actor_json,
        "data": data,
        "prev_hash": prev_hash,
    }


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8: stable across processes and languages."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def record(
    new: NewEvent, *, stream_id: str, version: int, prev_hash: str, recorded_at: datetime
) -> Event:
    """Position `new` at `version` of `stream_id`, chained after `prev_hash`."""
    fields = hashed_fields(
        event_id=new.event_id,
        stream_id=stream_id,
        version=version,
        type=new.type,
        schema_version=new.schema_version,
        recorded_at=recorded_at,
        correlation_id=new.correlation_id,
        causation_id=new.causation_id,
        actor=new.actor,
        data=new.data,
        prev_hash=prev_hash,
    )
    return Event(
        event_id=new.event_id,
        stream_id=stream_id,
        version=version,
        type=new.type,
        schema_version=new.schema_version,
        recorded_at=recorded_at.astimezone(UTC),
        correlation_id=new.correlation_id,
        causation_id=new.causation_id,
        actor=new.actor,
        data=new.data,
        prev_hash=prev_hash,
        hash=event_hash(fields),
    )


def recompute_hash(event: Event) -> str:
    """The hash `event` should carry given its content; differs if it was tampered with."""
    return event_hash(hashed_fields(**event.model_dump(exclude={"hash"})))


def utc_now() -> datetime:
    return datetime.now(UTC)
