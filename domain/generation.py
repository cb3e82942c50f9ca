"""The generation aggregate: its events, the state folded from them, and its decider.

A generation moves requested → screened → routed → generated → charged, or ends
`rejected` / `failed`. The door (domain/admission.py) records the first two steps in one
append, or the request and its rejection; `requested` alone is found only on streams
recorded before it. The worker asks `next_step` what to do; the functions here
turn the outcome of that step into the events to append. The stream is the
checkpoint: a redelivered message folds the same events and resumes where the last
delivery stopped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.envelope import Event
from domain.money import AUD

Size = Literal["1024x1024", "1024x1792", "1792x1024"]
Quality = Literal["standard", "hd"]
Style = Literal["vivid", "natural"]


class Status(StrEnum):
    NEW = "new"
    REQUESTED = "requested"
    SCREENED = "screened"
    ROUTED = "routed"
    GENERATED = "generated"
    CHARGED = "charged"
    REJECTED = "rejected"
    FAILED = "failed"


TERMINAL = frozenset({Status.CHARGED, Status.REJECTED, Status.FAILED})


class Step(StrEnum):
    SCREEN = "screen"
    ROUTE = "route"
    GENERATE = "generate"
    CHARGE = "charge"


class Payload(BaseModel):
    """Base of every event's `data`: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]


class SealedText(BaseModel):
    """Personal text encrypted with its subject's key; the log holds only this."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_id: str
    nonce: str
    ciphertext: str


class FindingSummary(BaseModel):
    """Where personal data was found; never the value itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_type: str
    start: int
    end: int
    score: float
    action: Literal["block", "redact", "allow"]


class GenerationRequested(Payload):
    TYPE: ClassVar[str] = "GenerationRequested"

    generation_id: UUID
    user_id: str
    department_id: str
    prompt: SealedText
    size: Size
    quality: Quality
    style: Style | None = None
    model: str | None = None
    callback_url: str | None = None
    request_hash: str
    # Added later, with a default. True when screening refused the prompt at the door:
    # `prompt` then holds only its redacted form and `request_hash` is keyed, so
    # nothing on the log can give back what the policy blocked.
    prompt_redacted: bool = False


class PromptScreened(Payload):
    TYPE: ClassVar[str] = "PromptScreened"

    findings: tuple[FindingSummary, ...]
    redacted_prompt: SealedText
    policy_version: str
    # Added later, with defaults, so that earlier events still parse.
    entity_counts: dict[str, int] = {}  # findings per entity type
    moderated_by: tuple[str, ...] = ()  # the moderators that cleared the prompt
    moderation_skipped: tuple[str, ...] = ()  # unavailable, skipped as the policy allows


class PromptRejected(Payload):
    TYPE: ClassVar[str] = "PromptRejected"

    reason: str
    findings: tuple[FindingSummary, ...]
    policy_version: str
    entity_counts: dict[str, int] = {}  # added later, with a default, as in PromptScreened


class GenerationRouted(Payload):
    TYPE: ClassVar[str] = "GenerationRouted"

    model_id: str
    provider: str
    ranked_models: tuple[str, ...]
    estimated_cost_aud: AUD
    budget_stream_id: str
    budget_period: str
    catalogue_version: str


class GenerationRerouted(Payload):
    """The model in use failed, or its provider's circuit is open: the next-ranked model
    takes over, its estimate reserved in place of the failed model's."""

    TYPE: ClassVar[str] = "GenerationRerouted"

    failed_model_id: str
    reason: str
    model_id: str
    provider: str
    estimated_cost_aud: AUD


class GenerationRejected(Payload):
    TYPE: ClassVar[str] = "GenerationRejected"

    reason: Literal["budget_exceeded", "no_eligible_model", "providers_unavailable"]
    detail: str


class ImageGenerated(Payload):
    TYPE: ClassVar[str] = "ImageGenerated"

    model_id: str
    image_ref: str
    sha256: str  # of the exact bytes stored and served, Content Credentials included
    content_type: str
    bytes: int
    cost_aud: AUD
    # What became of the provider's own Content Credentials: "valid", "invalid" (kept as
    # an ingredient with its failure recorded) or "absent". None on events recorded
    # before images were signed.
    provider_credential: str | None = None
    credential_warnings: tuple[str, ...] = ()


class GenerationFailed(Payload):
    TYPE: ClassVar[str] = "GenerationFailed"

    reason: str
    model_id: str | None


class GenerationCharged(Payload):
    TYPE: ClassVar[str] = "GenerationCharged"

    cost_aud: AUD
    budget_stream_id: str


GENERATION_EVENTS: dict[str, type[Payload]] = {
    cls.TYPE: cls
    for cls in (
        GenerationRequested,
        PromptScreened,
        PromptRejected,
        GenerationRouted,
        GenerationRerouted,
        GenerationRejected,
        ImageGenerated,
        GenerationFailed,
        GenerationCharged,
    )
}


@dataclass(frozen=True, slots=True)
class Generation:
    """What the stream says about one generation so far."""

    version: int = 0
    status: Status = Status.NEW
    requested_at: datetime | None = None
    updated_at: datetime | None = None
    request: GenerationRequested | None = None
    screened: PromptScreened | None = None
    # The route in force: a reroute replaces its model, provider and estimate.
    routed: GenerationRouted | None = None
    tried_models: tuple[str, ...] = ()
    image: ImageGenerated | None = None
    cost_aud: Decimal | None = None
    reason: str | None = None
    head_hash: str = ""  # the hash of the stream's last event: what an image's manifest names

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def requested(self) -> GenerationRequested:
        if self.request is None:
            raise InvalidTransition("the generation has not been requested")
        return self.request


class InvalidTransition(Exception):
    """An event or step that the generation's current state does not allow."""


def parse_payload(event_type: str, data: dict[str, Any]) -> Payload:
    return GENERATION_EVENTS[event_type].model_validate(data)


def evolve(state: Generation, event: Event) -> Generation:
    """Fold one recorded event into the state."""
    payload = parse_payload(event.type, event.data)
    version = event.version
    state = replace(state, updated_at=event.recorded_at, head_hash=event.hash)
    match payload:
        case GenerationRequested():
            return Generation(
                version=version,
                status=Status.REQUESTED,
                requested_at=event.recorded_at,
                updated_at=event.recorded_at,
                request=payload,
                head_hash=event.hash,
            )
        case PromptScreened():
            return replace(state, version=version, status=Status.SCREENED, screened=payload)
        case PromptRejected(reason=reason) | GenerationRejected(reason=reason):
            return replace(state, version=version, status=Status.REJECTED, reason=reason)
        case GenerationRouted(model_id=model_id):
            return replace(
                state,
                version=version,
                status=Status.ROUTED,
                routed=payload,
                tried_models=(model_id,),
            )
        case GenerationRerouted(model_id=model_id) if state.routed is not None:
            routed = state.routed.model_copy(
                update={
                    "model_id": model_id,
                    "provider": payload.provider,
                    "estimated_cost_aud": payload.estimated_cost_aud,
                }
            )
            tried = (*state.tried_models, model_id)
            return replace(state, version=version, routed=routed, tried_models=tried)
        case ImageGenerated():
            return replace(state, version=version, status=Status.GENERATED, image=payload)
        case GenerationFailed(reason=reason):
            return replace(state, version=version, status=Status.FAILED, reason=reason)
        case GenerationCharged(cost_aud=cost):
            return replace(state, version=version, status=Status.CHARGED, cost_aud=cost)
    raise InvalidTransition(f"unexpected event {event.type}")


def fold(events: Iterable[Event], state: Generation | None = None) -> Generation:
    """`state` (by default, nothing yet) with `events` folded in."""
    state = state if state is not None else Generation()
    for event in events:
        state = evolve(state, event)
    return state


_NEXT_STEP: dict[Status, Step] = {
    Status.REQUESTED: Step.SCREEN,
    Status.SCREENED: Step.ROUTE,
    Status.ROUTED: Step.GENERATE,
    Status.GENERATED: Step.CHARGE,
}


def next_step(state: Generation) -> Step | None:
    """The one step that moves the generation on, or None when it is terminal."""
    if state.status is Status.NEW:
        raise InvalidTransition("no such generation")
    return _NEXT_STEP.get(state.status)
