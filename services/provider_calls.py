"""The generate step: call the routed model's provider, or fail over to the next model.

A call goes ahead only if the provider's circuit admits it (a half-open circuit's trial
slot is claimed on the provider's stream first). Each attempt's outcome is recorded on
that stream, which is what opens and closes the circuit for every worker. Timeouts,
429s and 5xx are retried with backoff (the provider's `Retry-After` when it gave one);
when the attempts run out, the provider refuses the model, or the circuit opens
meanwhile, the next-ranked model takes over (`GenerationRerouted`, its estimate
reserved in place of the old one). A content refusal is final: the prompt is at fault,
so no other model is asked and the provider's health is not held against it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from opentelemetry.trace import StatusCode

from domain import budget
from domain.budget import Budget, BudgetPolicy
from domain.generation import (
    Generation,
    GenerationFailed,
    GenerationRerouted,
    GenerationRouted,
    ImageGenerated,
    Payload,
)
from domain.generation_steps import takeovers
from domain.provider_health import Admission, ProviderCallFailed, ProviderCallSucceeded
from services.aggregates import BUDGET_MONTH
from services.budget_reads import standing_policy
from services.commands import Stamp, execute
from services.context import Platform
from services.metrics import (
    PROVIDER_CALL_SECONDS,
    PROVIDER_ERRORS,
    PROVIDER_RETRIES,
    REROUTES,
    add_provider_time,
)
from services.personal_data import open_text
from services.ports import (
    CredentialClaim,
    GeneratedImage,
    ImageProvider,
    ImageRequest,
    ProviderError,
)
from services.provider_health import admit, current_health, record_call
from services.tracing import tracer

log = logging.getLogger(__name__)
MAX_RETRY_AFTER_SECONDS = 60.0
IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True, slots=True)
class _Unavailable:
    """The model cannot serve this generation now; `reason` says why."""

    reason: str


def generate_image(platform: Platform, state: Generation) -> Sequence[Payload]:
    request, routed = state.requested, routed_of(state)
    screened = state.screened
    prompt = None if screened is None else open_text(platform.keys, screened.redacted_prompt)
    if prompt is None:
        return fail(state, "subject_erased")
    image_request = ImageRequest(
        generation_id=str(request.generation_id),
        model_id=routed.model_id,
        prompt=prompt,
        size=request.size,
        quality=request.quality,
        style=request.style,
    )
    outcome = _call(platform, state, image_request)
    if isinstance(outcome, _Unavailable):
        return reroute(platform, state, outcome.reason)
    if isinstance(outcome, ProviderError):
        return fail(state, f"provider_error: {outcome}")
    signed = platform.credentials.sign(outcome, _claim(platform, state))
    if signed.provider_credential == "invalid":
        log.warning("provider %s's Content Credentials fail validation", routed.provider)
    requested_at = state.requested_at or platform.clock()
    # The content hash in the name keeps two racing deliveries from overwriting each
    # other's image: whichever ImageGenerated wins names bytes that match its sha256.
    digest = hashlib.sha256(signed.data).hexdigest()
    name = f"{request.generation_id}-{digest[:12]}.{IMAGE_EXTENSIONS[signed.content_type]}"
    stored = platform.images.put(
        f"{request.department_id}/{requested_at:%Y/%m}/{name}",
        signed.data,
        signed.content_type,
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
            provider_credential=signed.provider_credential,
            credential_warnings=tuple(
                f"provider credential: {code}" for code in signed.provider_failures
            ),
        )
    ]


def _claim(platform: Platform, state: Generation) -> CredentialClaim:
    """What the image's manifest says. Its log anchor is the stream's head now, which the
    ImageGenerated event appended next carries as its `prev_hash`: a race lost to another
    worker appends nothing, so no recorded image names a head its event does not follow."""
    request, routed = state.requested, routed_of(state)
    return CredentialClaim(
        generation_id=str(request.generation_id),
        model_id=routed.model_id,
        provider=routed.provider,
        department_id=request.department_id,
        created_at=platform.clock(),
        log_anchor=state.head_hash,
    )


def _call(
    platform: Platform, state: Generation, image_request: ImageRequest
) -> GeneratedImage | ProviderError | _Unavailable:
    """The image, a content refusal, or why this model cannot serve the generation."""
    routed, generation_id = routed_of(state), state.requested.generation_id
    provider = platform.providers.get(routed.provider)
    if provider is None:
        return _Unavailable(f"provider {routed.provider} is not configured")
    settings = platform.settings
    for attempt in range(1, settings.provider_attempts + 1):
        health, admission = admit(platform, routed.provider, generation_id, routed.model_id)
        if admission is Admission.SKIP:
            return _Unavailable(f"circuit_open: {routed.provider}")
        call_key = f"{routed.model_id}/attempt-{attempt}"
        result = _attempt(platform, provider, image_request, routed.provider, attempt)
        if isinstance(result, GeneratedImage):
            succeeded = ProviderCallSucceeded(
                provider=routed.provider, model_id=routed.model_id, generation_id=generation_id
            )
            record_call(platform, health, succeeded, generation_id, call_key)
            return result
        if result.refused:
            return result
        log.warning("provider %s failed (attempt %d): %s", routed.provider, attempt, result)
        failed = ProviderCallFailed(
            provider=routed.provider,
            model_id=routed.model_id,
            generation_id=generation_id,
            attempt=attempt,
            reason=str(result),
            retryable=result.retryable,
        )
        record_call(platform, health, failed, generation_id, call_key)
        if not result.retryable or attempt == settings.provider_attempts:
            return _Unavailable(f"provider_error: {result}")
        platform.meter.add(PROVIDER_RETRIES, provider=routed.provider)
        platform.sleep(retry_delay(settings.provider_backoff_seconds, attempt, result))
    raise AssertionError("unreachable: the last attempt returns")


def _attempt(
    platform: Platform, provider: ImageProvider, request: ImageRequest, name: str, attempt: int
) -> GeneratedImage | ProviderError:
    """One call to the provider, traced and measured: its image, or how it failed."""
    attributes = {"donatello.provider": name, "donatello.model": request.model_id}
    with tracer.start_as_current_span("provider.call", attributes=attributes) as span:
        span.set_attribute("donatello.attempt", attempt)
        started = time.monotonic()
        try:
            generated: GeneratedImage | ProviderError = provider.generate(request)
        except ProviderError as error:
            generated = error
        elapsed = time.monotonic() - started
        outcome = "ok" if isinstance(generated, GeneratedImage) else error_kind(generated)
        span.set_attribute("donatello.outcome", outcome)
        if isinstance(generated, ProviderError):
            span.set_status(StatusCode.ERROR, outcome)
            platform.meter.add(PROVIDER_ERRORS, provider=name, kind=outcome)
    add_provider_time(elapsed)
    platform.meter.observe(PROVIDER_CALL_SECONDS, elapsed, provider=name, outcome=outcome)
    return generated


def error_kind(error: ProviderError) -> str:
    """A bounded name for how a call failed (its message is the provider's own text)."""
    if error.refused:
        return "refused"
    if error.retry_after is not None:
        return "throttled"
    return "retryable" if error.retryable else "permanent"


def reroute(platform: Platform, state: Generation, reason: str) -> Sequence[Payload]:
    """Hand the generation to the next-ranked model that may serve it, or fail it."""
    request, routed = state.requested, routed_of(state)
    policy = standing_policy(
        platform.repository, request.department_id, platform.settings.default_policy
    )
    now = platform.clock()
    candidates = takeovers(
        routed,
        request,
        tried=state.tried_models,
        catalogue=platform.catalogue,
        today=now.date(),
        configured_providers=frozenset(platform.providers),
        admission_of=lambda provider: current_health(platform, provider).state.admission(
            now, request.generation_id
        ),
    )
    for takeover in candidates:
        model_id, provider = takeover.model.id, takeover.model.provider
        if not _move_reservation(platform, state, policy, model_id, takeover.price):
            continue  # a hard budget refused the dearer model
        log.warning("generation rerouted from %s to %s: %s", routed.model_id, model_id, reason)
        platform.meter.add(REROUTES, from_provider=routed.provider, to_provider=provider)
        return [
            GenerationRerouted(
                failed_model_id=routed.model_id,
                reason=reason,
                model_id=model_id,
                provider=provider,
                estimated_cost_aud=takeover.price,
            )
        ]
    return fail(state, f"{reason}; no other model could take over")


def _move_reservation(
    platform: Platform, state: Generation, policy: BudgetPolicy, model_id: str, price: Decimal
) -> bool:
    """Reserve `price` for `model_id` in place of the generation's hold; False if refused."""
    request, routed = state.requested, routed_of(state)

    def move(month: Budget) -> budget.Reservation:
        return budget.move_reservation(
            month,
            budget.CostLine.of(request, routed.budget_period, model_id),
            policy=policy,
            estimate=price,
            reason=f"rerouted to {model_id}",
        )

    decided = execute(
        platform.repository,
        BUDGET_MONTH,
        routed.budget_stream_id,
        lambda month: move(month).events,
        Stamp(request.generation_id),
    )
    # Asked again on the month after its own events: moved (nothing more to do) or refused.
    return move(decided.after.state).allowed


def retry_delay(backoff: Sequence[float], attempt: int, error: ProviderError) -> float:
    """The provider's own `Retry-After` when it gave one (at most a minute: a longer wait
    would hold the worker, and the job is better failed over), else our backoff."""
    if error.retry_after is not None:
        return min(max(error.retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
    return backoff[min(attempt - 1, len(backoff) - 1)] if backoff else 0.0


def fail(state: Generation, reason: str) -> Sequence[Payload]:
    # The release happens when the terminal state is next read (release_if_abandoned),
    # after GenerationFailed is durable, so a crash in between cannot leak a reservation.
    return [
        GenerationFailed(reason=reason, model_id=state.routed.model_id if state.routed else None)
    ]


def routed_of(state: Generation) -> GenerationRouted:
    if state.routed is None:
        raise ValueError("the generation has not been routed")
    return state.routed
