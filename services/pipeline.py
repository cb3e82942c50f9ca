"""Advancing a generation, one idempotent step at a time, to a terminal state.

The generation stream is the checkpoint. Each step reads the stream, does its work,
and appends its event at the version it read. A redelivered or duplicated message
folds the same events and resumes after the last recorded step; a worker that lost a
race simply re-reads. Effects on the budget stream are keyed by generation id, so a
step repeated after a crash finds its earlier effect and adds nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from domain import budget
from domain.budget import Budget
from domain.generation import (
    Generation,
    GenerationCharged,
    GenerationFailed,
    GenerationRejected,
    GenerationRouted,
    ImageGenerated,
    Payload,
    PromptRejected,
    PromptScreened,
    Status,
    Step,
    next_step,
)
from domain.periods import budget_period
from domain.routing import rank_models
from domain.streams import budget_stream, generation_stream
from services.budget_ledger import decide_and_append, standing_policy, to_new_events
from services.context import Platform
from services.generations import load_generation
from services.personal_data import open_text, seal_text
from services.ports import ConcurrencyError, ImageRequest, ProviderError
from services.screening import screen_text

log = logging.getLogger(__name__)
MAX_RETRY_AFTER_SECONDS = 60.0

MAX_STEPS = 16


def advance_generation(platform: Platform, generation_id: UUID) -> Generation:
    """Run steps until the generation is terminal; safe to call any number of times."""
    for _ in range(MAX_STEPS):
        state = load_generation(platform, generation_id)
        step = next_step(state)
        if step is None:
            release_if_abandoned(platform, state)
            return state
        payloads = _STEPS[step](platform, state)
        try:
            platform.store.append(
                generation_stream(generation_id),
                state.version,
                to_new_events(
                    payloads,
                    correlation_id=generation_id,
                    deterministic_key=f"{generation_id}/v{state.version}",
                ),
            )
        except ConcurrencyError:
            log.info("generation advanced by another worker; re-reading")
    raise RuntimeError(f"generation {generation_id} did not settle in {MAX_STEPS} steps")


def screen_prompt(platform: Platform, state: Generation) -> Sequence[Payload]:
    request = state.requested
    prompt = open_text(platform.keys, request.prompt)
    policy = platform.screening_policies.for_department(request.department_id)
    if prompt is None:
        return [PromptRejected(reason="subject_erased", findings=(), policy_version=policy.version)]
    outcome = screen_text(
        prompt,
        policy,
        analyzer=platform.analyzer,
        redactor=platform.redactor,
        moderators=platform.moderators,
    )
    if outcome.rejected:
        return [
            PromptRejected(
                reason=outcome.reason,
                findings=outcome.findings,
                policy_version=policy.version,
                entity_counts=outcome.entity_counts,
            )
        ]
    return [
        PromptScreened(
            findings=outcome.findings,
            redacted_prompt=seal_text(platform.keys, request.user_id, outcome.redacted_prompt),
            policy_version=policy.version,
            entity_counts=outcome.entity_counts,
            moderated_by=outcome.moderated_by,
            moderation_skipped=outcome.moderation_skipped,
        )
    ]


@dataclass
class _ReservationAttempt:
    model_id: str | None = None
    reason: str = ""


def route_generation(platform: Platform, state: Generation) -> Sequence[Payload]:
    request = state.requested
    policy = standing_policy(
        platform.store, request.department_id, platform.settings.default_policy
    )
    now = platform.clock()
    candidates = rank_models(
        platform.catalogue,
        size=request.size,
        quality=request.quality,
        strategy=policy.strategy,
        enabled_providers=frozenset(platform.settings.enabled_providers),
        today=now.date(),
        requested_model=request.model,
    )
    if not candidates:
        return [
            GenerationRejected(
                reason="no_eligible_model",
                detail=f"no enabled model serves {request.size} at {request.quality} quality"
                + (f" as {request.model}" if request.model else ""),
            )
        ]
    period = budget_period(now)
    stream_id = budget_stream(request.department_id, period)
    attempt = _ReservationAttempt()

    def reserve(current: Budget) -> Sequence[Payload]:
        held = current.reservations.get(request.generation_id)
        if held is not None:  # an earlier delivery reserved before it crashed
            attempt.model_id = held.model_id
            return ()
        for candidate in candidates:
            decision = budget.reserve(
                current,
                department_id=request.department_id,
                period=period,
                policy=policy,
                generation_id=request.generation_id,
                user_id=request.user_id,
                model_id=candidate.model.id,
                estimate=candidate.price,
            )
            if decision.allowed:
                attempt.model_id = candidate.model.id
                return decision.events
            attempt.reason = decision.reason
        attempt.model_id = None
        return ()

    decide_and_append(platform.store, stream_id, reserve, correlation_id=request.generation_id)
    if attempt.model_id is None:
        return [GenerationRejected(reason="budget_exceeded", detail=attempt.reason)]
    chosen = next(c for c in candidates if c.model.id == attempt.model_id)
    return [
        GenerationRouted(
            model_id=chosen.model.id,
            provider=chosen.model.provider,
            ranked_models=tuple(c.model.id for c in candidates),
            estimated_cost_aud=chosen.price,
            budget_stream_id=stream_id,
            budget_period=period,
            catalogue_version=platform.catalogue.version,
        )
    ]


def generate_image(platform: Platform, state: Generation) -> Sequence[Payload]:
    request, routed = state.requested, _routed(state)
    screened = state.screened
    prompt = None if screened is None else open_text(platform.keys, screened.redacted_prompt)
    if prompt is None:
        return _fail(state, "subject_erased")
    provider = platform.providers.get(routed.provider)
    if provider is None:
        return _fail(state, f"provider {routed.provider} is not configured")
    image_request = ImageRequest(
        generation_id=str(request.generation_id),
        model_id=routed.model_id,
        prompt=prompt,
        size=request.size,
        quality=request.quality,
        style=request.style,
    )
    settings = platform.settings
    for attempt in range(1, settings.provider_attempts + 1):
        try:
            generated = provider.generate(image_request)
            break
        except ProviderError as error:
            log.warning("provider %s failed (attempt %d): %s", routed.provider, attempt, error)
            if not error.retryable or attempt == settings.provider_attempts:
                return _fail(state, f"provider_error: {error}")
            platform.sleep(_retry_delay(settings.provider_backoff_seconds, attempt, error))
    requested_at = state.requested_at or platform.clock()
    # The content hash in the name keeps two racing deliveries from overwriting each
    # other's image: whichever ImageGenerated wins names bytes that match its sha256.
    digest = hashlib.sha256(generated.png).hexdigest()
    ref = f"{request.department_id}/{requested_at:%Y/%m}/{request.generation_id}-{digest[:12]}.png"
    stored = platform.images.put(
        ref,
        generated.png,
        "image/png",
        {"generation_id": str(request.generation_id), "model_id": routed.model_id},
    )
    return [
        ImageGenerated(
            model_id=routed.model_id,
            image_ref=stored.ref,
            sha256=stored.sha256,
            content_type=stored.content_type,
            bytes=stored.bytes,
            cost_aud=routed.estimated_cost_aud,
        )
    ]


def charge_generation(platform: Platform, state: Generation) -> Sequence[Payload]:
    request, routed = state.requested, _routed(state)
    image = state.image
    if image is None:
        raise ValueError("charging a generation without an image")
    decide_and_append(
        platform.store,
        routed.budget_stream_id,
        lambda current: budget.charge(
            current,
            department_id=request.department_id,
            period=routed.budget_period,
            generation_id=request.generation_id,
            user_id=request.user_id,
            model_id=image.model_id,
            amount=image.cost_aud,
        ),
        correlation_id=request.generation_id,
    )
    return [GenerationCharged(cost_aud=image.cost_aud, budget_stream_id=routed.budget_stream_id)]


def release_if_abandoned(platform: Platform, state: Generation) -> None:
    """A failed or rejected generation holds no reservation (repairs a crash mid-failure)."""
    if state.status not in (Status.FAILED, Status.REJECTED) or state.routed is None:
        return
    request, routed = state.requested, state.routed
    decide_and_append(
        platform.store,
        routed.budget_stream_id,
        lambda current: budget.release(
            current,
            department_id=request.department_id,
            period=routed.budget_period,
            generation_id=request.generation_id,
            reason=state.reason or "failed",
        ),
        correlation_id=request.generation_id,
    )


def _retry_delay(backoff: Sequence[float], attempt: int, error: ProviderError) -> float:
    """The provider's own `Retry-After` when it gave one (at most a minute: a longer wait
    would hold the worker, and the job is better failed over), else our backoff."""
    if error.retry_after is not None:
        return min(max(error.retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
    return backoff[min(attempt - 1, len(backoff) - 1)] if backoff else 0.0


def _fail(state: Generation, reason: str) -> Sequence[Payload]:
    # The release happens when the terminal state is next read (release_if_abandoned),
    # after GenerationFailed is durable, so a crash in between cannot leak a reservation.
    return [
        GenerationFailed(reason=reason, model_id=state.routed.model_id if state.routed else None)
    ]


def _routed(state: Generation) -> GenerationRouted:
    if state.routed is None:
        raise ValueError("the generation has not been routed")
    return state.routed


_STEPS = {
    Step.SCREEN: screen_prompt,
    Step.ROUTE: route_generation,
    Step.GENERATE: generate_image,
    Step.CHARGE: charge_generation,
}
