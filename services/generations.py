"""Accepting a generation request and reading one back.

Submitting takes a unit of the requester's daily quota, screens the prompt and asks
the door's decider (domain/admission.py) whether it may proceed: a refused request
raises GenerationRefused (a rejected prompt recorded in its redacted form only), an
admitted one is appended as `GenerationRequested` + `PromptScreened` in one append and
its id enqueued. If the enqueue is lost, the stuck-generation timer re-enqueues it; if
the process dies after the quota unit, the unit stays spent (a retry with the same
Idempotency-Key on the same day finds it and takes no other).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain import admission, generation
from domain.access import (
    AccessDenied,
    Action,
    DenialReason,
    Principal,
    authorize,
    granted_scopes,
    home_department,
)
from domain.admission import Admitted, Door, Refusal, Refused
from domain.generation import (
    Generation,
    GenerationRequested,
    ImageGenerated,
    Quality,
    Size,
    Status,
    Style,
)
from domain.periods import budget_period
from domain.streams import budget_stream, generation_stream, privacy_stream
from services.aggregates import GENERATION, PRIVACY
from services.budget_reads import current_budget, standing_policy
from services.commands import Stamp, execute
from services.context import Platform
from services.errors import IdempotencyConflict, NotFound
from services.generation_metrics import record_refused
from services.personal_data import seal_text
from services.ports import OutgoingMessage
from services.quota import consume_quota
from services.refusals import checked_destination
from services.screening import screen_for

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 4000
# The Service Bus queue (and local queue) that carries generation jobs.
JOB_QUEUE = "generation-jobs"
# The platform secret that keys generation ids derived from an Idempotency-Key.
GENERATION_ID_KEY_SECRET = "generation-id-key"  # noqa: S105 (a name, not a secret)


class GenerationRequest(BaseModel):
    """The body of `POST /generations`."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="no control characters but newline and tab; no unpaired surrogates",
        # `printable` below enforces it; the pattern tells clients (surrogates it cannot).
        json_schema_extra={"pattern": r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"},
    )
    size: Size = "1024x1024"
    quality: Quality = "standard"
    style: Style | None = None
    model: str | None = Field(default=None, max_length=100)
    callback_url: str | None = Field(default=None, max_length=2048)

    @field_validator("prompt")
    @classmethod
    def printable(cls, prompt: str) -> str:
        # Control characters (NUL among them) have no place in a prompt and can smuggle
        # content past review; a lone surrogate (JSON's "\\ud800") is not text at all and
        # cannot be encoded to be sealed, screened or sent on.
        for c in prompt:
            category = unicodedata.category(c)
            if category == "Cc" and c not in "\n\t":
                raise ValueError("prompt contains control characters")
            if category == "Cs":
                raise ValueError("prompt contains an unpaired surrogate")
        return prompt

    def fingerprint(self, key: bytes | None = None) -> str:
        """The body's SHA-256, or its HMAC under `key` (for a body that must not be
        recoverable by guessing: one whose prompt was refused)."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        if key is None:
            return hashlib.sha256(body.encode("utf-8")).hexdigest()
        return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Submission:
    generation_id: UUID
    status: str
    created: bool


def job_message(generation_id: UUID, *, message_id: str | None = None) -> OutgoingMessage:
    body = json.dumps({"generation_id": str(generation_id)}).encode("utf-8")
    return OutgoingMessage(message_id=message_id or str(generation_id), body=body)


class GenerationRefused(Exception):
    """The door refused the request (domain.admission.Refusal says why); when the log
    records it (a rejected prompt, redacted), `generation_id` names its stream."""

    def __init__(self, refusal: Refusal, detail: str, generation_id: UUID | None) -> None:
        super().__init__(detail)
        self.refusal, self.detail, self.generation_id = refusal, detail, generation_id


def submit_generation(
    platform: Platform,
    principal: Principal,
    request: GenerationRequest,
    idempotency_key: str | None,
) -> Submission:
    """Screen and admit `request`, record it with its screening and enqueue it; or raise
    GenerationRefused, having recorded a rejected prompt in its redacted form only."""
    department = home_department(principal)
    authorize(principal, Action.GENERATION_CREATE, department_id=department)
    if department is None:
        # Someone must pay: an org-wide admin without a (valid) department cannot generate.
        raise AccessDenied(DenialReason.OTHER_DEPARTMENT, Action.GENERATION_CREATE)
    if request.callback_url is not None:  # refused here, before the request is recorded
        checked_destination(platform, principal, "callback_url", request.callback_url)
    generation_id = (
        keyed_generation_id(platform.generation_id_key(), principal.user_id, idempotency_key)
        if idempotency_key
        else uuid4()
    )
    stream_id = generation_stream(generation_id)
    if idempotency_key is not None and load_generation(platform, generation_id).version:
        # A replay took its unit when first answered, perhaps on an earlier day.
        return _replayed(platform, request, generation_id)
    # Before screening, so every answer (refusals too) costs the caller a unit: probing
    # the policy costs what generating does, and stops at the same limit.
    consume_quota(platform, principal, generation_id)
    decision = _decide(platform, principal, department, generation_id, request)
    if isinstance(decision, Refused) and not decision.events:
        record_refused(platform, decision)
        raise GenerationRefused(decision.refusal, decision.detail, None)
    # The request is the requester's act; its screening, as every later step, the
    # platform's (so the feed's `user_id` filter finds what people did).
    events = decision.events
    decided = execute(
        platform.repository,
        GENERATION,
        stream_id,
        # A stream there already is this request's replay, racing this one and ahead.
        lambda current: [] if current.version else events,
        Stamp(generation_id, actors={GenerationRequested.TYPE: principal.to_actor()}),
        new_stream=True,
    )
    if not decided.recorded:
        return _replayed(platform, request, generation_id)
    if isinstance(decision, Refused):
        record_refused(platform, decision)
        log.info("prompt refused at the door", extra={"generation_id": str(generation_id)})
        raise GenerationRefused(decision.refusal, decision.detail, generation_id)
    platform.queue.send(job_message(generation_id))
    log.info("generation accepted", extra={"generation_id": str(generation_id)})
    return Submission(generation_id, Status.SCREENED.value, created=True)


def _decide(
    platform: Platform,
    principal: Principal,
    department: str,
    generation_id: UUID,
    request: GenerationRequest,
) -> Admitted | Refused:
    policy = platform.screening_policies.for_department(department)
    screening = screen_for(platform, request.prompt, policy)
    now = platform.clock()
    period = budget_period(now)
    door = Door(
        budget=current_budget(platform.repository, budget_stream(department, period)),
        budget_policy=standing_policy(
            platform.repository, department, platform.settings.default_policy
        ),
        period=period,
        catalogue=platform.catalogue,
        enabled_providers=frozenset(platform.settings.enabled_providers),
        today=now.date(),
    )
    requested = GenerationRequested(
        generation_id=generation_id,
        user_id=principal.user_id,
        department_id=department,
        prompt=seal_text(platform.keys, principal.user_id, request.prompt),
        size=request.size,
        quality=request.quality,
        style=request.style,
        model=request.model,
        callback_url=request.callback_url,
        request_hash=request.fingerprint(),
    )
    return admission.admit(
        requested,
        screening,
        policy.version,
        door,
        seal=lambda text: seal_text(platform.keys, principal.user_id, text),
        keyed_request_hash=request.fingerprint(platform.generation_id_key()),
    )


def _replayed(platform: Platform, request: GenerationRequest, generation_id: UUID) -> Submission:
    """The answer first given to this Idempotency-Key, if it was for the same request."""
    existing = load_generation(platform, generation_id)
    recorded = existing.requested
    key = platform.generation_id_key() if recorded.prompt_redacted else None
    if not hmac.compare_digest(recorded.request_hash, request.fingerprint(key)):
        raise IdempotencyConflict("this Idempotency-Key was already used with a different request")
    if recorded.prompt_redacted:
        raise GenerationRefused(Refusal.PROMPT_REJECTED, existing.reason or "", generation_id)
    # Re-sending is harmless and repairs a lost first enqueue.
    platform.queue.send(job_message(generation_id))
    return Submission(generation_id, existing.status.value, created=False)


def keyed_generation_id(key: bytes, user_id: str, idempotency_key: str) -> UUID:
    """The generation that (user, Idempotency-Key) names: the same every time, and, keyed
    with a platform secret, not computable by anyone else (a random-looking version 4)."""
    named = json.dumps([user_id, idempotency_key]).encode("utf-8")  # unambiguous pairs
    return UUID(bytes=hmac.new(key, named, hashlib.sha256).digest()[:16], version=4)


def load_generation(platform: Platform, generation_id: UUID) -> Generation:
    return platform.repository.load(GENERATION, generation_stream(generation_id)).state


def read_generation(platform: Platform, principal: Principal, generation_id: UUID) -> Generation:
    """The generation as its stream says now (not the eventually consistent view)."""
    return authorized_generation(platform, principal, generation_id, Action.GENERATION_READ)


@dataclass(frozen=True, slots=True)
class ImageBytes:
    data: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class ImageRedirect:
    url: str  # short-lived and read-only


def open_image(
    platform: Platform, principal: Principal, generation_id: UUID
) -> ImageBytes | ImageRedirect:
    """The image, or where to fetch it when the store hands out its own URLs."""
    state = authorized_generation(platform, principal, generation_id, Action.IMAGE_READ)
    if platform.image_links is not None:
        ttl = timedelta(seconds=platform.settings.image_url_ttl_seconds)
        return ImageRedirect(
            platform.image_links.read_url(kept_image(platform, state).image_ref, ttl)
        )
    return stored_image(platform, state)


def kept_image(platform: Platform, state: Generation) -> ImageGenerated:
    """The generation's image event, if its image is stored and still kept."""
    generation_id = state.requested.generation_id
    if state.image is None:
        raise NotFound(f"generation {generation_id} has no image (status {state.status})")
    if not image_kept(platform, state):
        raise NotFound(f"generation {generation_id}'s image was deleted when its owner was erased")
    return state.image


def stored_image(platform: Platform, state: Generation) -> ImageBytes:
    """The generation's image as stored, with its media type (see `kept_image`)."""
    image = kept_image(platform, state)
    return ImageBytes(platform.images.get(image.image_ref), image.content_type)


def image_kept(platform: Platform, state: Generation) -> bool:
    """Whether the generation's image is still stored: not when erasing its owner
    deleted it (`erase_images`), decided from the log, not from the store."""
    if state.image is None or state.requested_at is None or not platform.settings.erase_images:
        return state.image is not None
    record = platform.repository.load(PRIVACY, privacy_stream(state.requested.user_id)).state
    return not record.erased_since(state.requested_at)


def authorized_generation(
    platform: Platform, principal: Principal, generation_id: UUID, action: Action
) -> Generation:
    """The generation, if the caller may see it. One that exists but is not theirs to see
    answers as a missing one, so an id (an Idempotency-Key's, say) cannot be confirmed."""
    if not granted_scopes(principal, action):  # decided before the read: says nothing of it
        raise AccessDenied(DenialReason.NO_ROLE, action)
    state = load_generation(platform, generation_id)
    missing = f"no generation {generation_id}"
    if state.request is None:
        raise NotFound(missing)
    try:
        authorize(
            principal,
            action,
            department_id=state.request.department_id,
            owner_id=state.request.user_id,
        )
    except AccessDenied as denied:
        raise NotFound(missing, denied=denied) from None
    return state


def describe(state: Generation) -> dict[str, Any]:
    """The API's view of one generation; never the prompt."""
    request = state.requested
    screening: dict[str, Any] | None = None
    if state.screened is not None:
        types = sorted({f.entity_type for f in state.screened.findings if f.action == "redact"})
        screening = {"outcome": "redacted" if types else "passed", "entity_types": types}
    elif state.status is generation.Status.REJECTED and state.routed is None:
        screening = {"outcome": "rejected", "reason": state.reason}
    return {
        "id": str(request.generation_id),
        "status": state.status.value,
        "user_id": request.user_id,
        "department_id": request.department_id,
        "size": request.size,
        "quality": request.quality,
        "style": request.style,
        "model_id": state.routed.model_id if state.routed else None,
        "estimated_cost_aud": str(state.routed.estimated_cost_aud) if state.routed else None,
        "cost_aud": None if state.cost_aud is None else str(state.cost_aud),
        "screening": screening,
        "reason": state.reason,
        "image_sha256": state.image.sha256 if state.image else None,
        # What became of the provider's own Content Credentials, and why when invalid.
        "provider_credential": state.image.provider_credential if state.image else None,
        "credential_warnings": list(state.image.credential_warnings) if state.image else [],
        "created_at": state.requested_at.isoformat() if state.requested_at else None,
        "updated_at": state.updated_at.isoformat() if state.updated_at else None,
    }
