"""The event envelope and the per-stream hash chain.

A `NewEvent` is what a decider produces; the event store turns it into a recorded
`Event` by assigning the stream position and sealing it into the stream's hash chain
with `record`. Verification recomputes `event_hash` over the same canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar
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
    """UTC, microsecond precision, fixed width: the one textual form that is hashed.

    `2025-01-30T22:30:00.000005Z`. (isoformat is the fast C path; it always writes the
    microseconds when asked to and always ends in `+00:00` for UTC.)
    """
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def hashed_fields(
    *,
    event_id: UUID | str,
    stream_id: str,
    version: int,
    type: str,
    schema_version: int,
    recorded_at: datetime | str,
    correlation_id: UUID | str,
    causation_id: UUID | str | None,
    actor: Actor | dict[str, Any],
    data: dict[str, Any],
    prev_hash: str,
) -> dict[str, Any]:
    """Everything but `hash`, in the JSON form the hash is computed over.

    `recorded_at` as text is the stored form, taken as it is (a verifier must hash what
    is stored, not a normalised copy of it)."""
    actor_json = actor.model_dump(mode="json") if isinstance(actor, Actor) else actor
    stamp = recorded_at if isinstance(recorded_at, str) else format_timestamp(recorded_at)
    return {
        "event_id": str(event_id),
        "stream_id": stream_id,
        "version": version,
        "type": type,
        "schema_version": schema_version,
        "recorded_at": stamp,
        "correlation_id": str(correlation_id),
        "causation_id": None if causation_id is None else str(causation_id),
        "actor": actor_json,
        "data": data,
        "prev_hash": prev_hash,
    }


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8: stable across processes and languages."""
    return _canonical_encode(value)


# What `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
# builds on every call, built once.
_canonical_encode: Callable[[Any], str] = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False
).encode


def event_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class EventText:
    """A `NewEvent`'s fields as the canonical JSON text that the hash covers.

    Computing it needs no stream position, so a store can do it before it takes its
    write lock, and write these texts rather than serialise the event a second time.
    """

    event_id: str
    correlation_id: str
    causation_id: str | None
    actor: str
    data: str

    @classmethod
    def of(cls, new: NewEvent) -> EventText:
        return cls(
            event_id=str(new.event_id),
            correlation_id=str(new.correlation_id),
            causation_id=None if new.causation_id is None else str(new.causation_id),
            actor=_actor_json(new.actor),
            data=_canonical_encode(new.data),
        )


def record(
    new: NewEvent,
    *,
    stream_id: str,
    version: int,
    prev_hash: str,
    recorded_at: datetime,
    text: EventText | None = None,
) -> Event:
    """Position `new` at `version` of `stream_id`, chained after `prev_hash`.

    `text` is `EventText.of(new)` when the caller has it already. Appending is bounded by
    this function, so it assembles the canonical JSON of `hashed_fields` from those parts
    rather than building and serialising the dict; a unit test holds the two equal, and
    `recompute_hash` (so verification) takes the plain path.
    """
    if version < 1:
        raise ValueError(f"versions start at 1, not {version}")
    text = text or EventText.of(new)
    causation = "null" if text.causation_id is None else f'"{text.causation_id}"'
    canonical = (  # keys in sorted order; ids and the timestamp never need escaping
        f'{{"actor":{text.actor},"causation_id":{causation},'
        f'"correlation_id":"{text.correlation_id}","data":{text.data},'
        f'"event_id":"{text.event_id}","prev_hash":{_json_string(prev_hash)},'
        f'"recorded_at":"{format_timestamp(recorded_at)}",'
        f'"schema_version":{int(new.schema_version)},'
        f'"stream_id":{_json_string(stream_id)},"type":{_json_string(new.type)},'
        f'"version":{int(version)}}}'
    )
    return trusted(
        Event,
        {
            "event_id": new.event_id,
            "stream_id": stream_id,
            "version": version,
            "type": new.type,
            "schema_version": new.schema_version,
            "recorded_at": recorded_at.astimezone(UTC),
            "correlation_id": new.correlation_id,
            "causation_id": new.causation_id,
            "actor": new.actor,
            "data": new.data,
            "prev_hash": prev_hash,
            "hash": hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        },
    )


_Trusted = TypeVar("_Trusted", Event, Actor)
# Shared by every instance: pydantic copies the set before it changes it (model_copy).
_FIELDS_SET = {Event: set(Event.model_fields), Actor: set(Actor.model_fields)}


def trusted(model: type[_Trusted], values: dict[str, Any]) -> _Trusted:
    """An `Event` or `Actor` from values of the right types, without validating again.

    For values that were validated already (a `NewEvent`'s) or come from the store's own
    rows; the hash chain, not a check on every read, is what detects tampering. This is
    what `model_construct` does, minus the alias and default handling these models do
    not use, at a fraction of its cost.
    """
    instance = object.__new__(model)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", _FIELDS_SET[model])
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


# `json.dumps`' own encoder for a str, with ensure_ascii=False as `canonical_json` uses.
_json_string: Callable[[str], str] = json.encoder.encode_basestring


@lru_cache(maxsize=4096)  # actors are users and services: few, and reused by every event
def _actor_json(actor: Actor) -> str:
    return canonical_json(actor.model_dump(mode="json"))


def recompute_hash(event: Event) -> str:
    """The hash `event` should carry given its content; differs if it was tampered with."""
    return event_hash(hashed_fields(**event.model_dump(exclude={"hash"})))


def utc_now() -> datetime:
    return datetime.now(UTC)
