"""Advancing a generation, one idempotent step at a time, to a terminal state.

The generation stream is the checkpoint. Each step reads the stream, does its work,
and appends its event at the version it read. A redelivered or duplicated message
folds the same events and resumes after the last recorded step; a worker that lost a
race simply re-reads. Effects on the budget stream are keyed by generation id, so a
step repeated after a crash finds its earlier effect and adds nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from domain import budget, generation
from domain.budget import Budget
from domain.generation import (
    Generation,
    GenerationCharged,
    GenerationRejected,
    GenerationRouted,
    Payload,
    PromptRejected,
    PromptScreened,
    Status,
    Step,
    next_step,
)
from domain.periods import budget_period
from domain.provider_health import Admission
from domain.routing import Eligibility, rank_models
from domain.streams import budget_stream, generation_stream
from services.budget_ledger import decide_and_append, standing_policy, to_new_events
from services.context import Platform
from services.generation_metrics import record_charge, record_pickup, record_settled
from services.generations import load_generation
from services.metrics import provider_time
from services.personal_data import open_text, seal_text
from services.ports import ConcurrencyError
from services.provider_calls import generate_image, routed_of
from services.provider_health import current_health
from services.screening import screen_for
from services.tracing import GENERATION_ID, tracer

log = logging.getLogger(__name__)

MAX_STEPS = 16


def advance_generation(platform: Platform, generation_id: UUID) -> Generation:
    """Run steps until the generation is terminal; safe to call any number of times.

    The stream is read once; each step's recorded events are folded onto the state it
    was decided on, and only a conflict (another worker moved on) reads it again.
    """
    state = load_generation(platform, generation_id)
    record_pickup(platform, state)
    started, spent = time.monotonic(), provider_time()
    for _ in range(MAX_STEPS):
        step = next_step(state)
        if step is None:
            release_if_abandoned(platform, state)
            return state
        with tracer.start_as_current_span(f"generation.{step.value}") as span:
            span.set_attribute(GENERATION_ID, str(generation_id))
            payloads = _STEPS[step](platform, state)
        try:
            recorded = platform.store.append(
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
            state = load_generation(platform, generation_id)
            continue
        state = generation.fold(recorded, state)
        if state.is_terminal:
            record_settled(platform, state, time.monotonic() - started, spent.seconds)
    raise RuntimeError(f"generation {generation_id} did not settle in {MAX_STEPS} steps")


def screen_prompt(platform: Platform, state: Generation) -> Sequence[Payload]:
    """Screen a stream recorded before prompts were screened at the door (it holds
    `GenerationRequested` alone); today's `POST /generations` records the screening with
    the request, so a new stream starts at routing."""
    request = state.requested
    prompt = open_text(platform.keys, request.prompt)
    policy = platform.screening_policies.for_department(request.department_id)
    if prompt is None:
        return [PromptRejected(reason="subject_erased", findings=(), policy_version=policy.version)]
    outcome = screen_for(platform, prompt, policy)
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
    enabled = frozenset(platform.settings.enabled_providers)
    health = {provider: current_health(platform, provider) for provider in enabled}
    candidates = rank_models(
        platform.catalogue,
        Eligibility(enabled, now.date(), request.model, policy.requirements),
        size=request.size,
        quality=request.quality,
        strategy=policy.strategy,
        success_rates={provider: h.success_rate(now) for provider, h in health.items()},
    )
    if not candidates:
        return [
            GenerationRejected(
                reason="no_eligible_model",
                detail=f"no enabled model serves {request.size} at {request.quality} quality"
                + (f" as {request.model}" if request.model else "")
                + " within the department's requirements",
            )
        ]
    # Every eligible model stays in the ranking, so failover can still reach one whose
    # circuit closes meanwhile; only the first choice must be callable now.
    callable_now = [
        c
        for c in candidates
        if health[c.model.provider].admission(now, request.generation_id) is not Admission.SKIP
    ]
    if not callable_now:
        open_circuits = ", ".join(sorted({c.model.provider for c in candidates}))
        return [
            GenerationRejected(
                reason="providers_unavailable",
                detail=f"the circuit of every eligible provider is open: {open_circuits}",
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
        for candidate in callable_now:
            decision = budget.reserve(
                current,
                budget.CostLine.of(request, period, candidate.model.id),
                policy=policy,
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


def charge_generation(platform: Platform, state: Generation) -> Sequence[Payload]:
    request, routed = state.requested, routed_of(state)
    image = state.image
    if image is None:
        raise ValueError("charging a generation without an image")
    appended: list[Payload] = []

    def charge(current: Budget) -> Sequence[Payload]:
        appended[:] = budget.charge(
            current,
            budget.CostLine.of(request, routed.budget_period, image.model_id),
            amount=image.cost_aud,
        )
        return appended

    before = decide_and_append(
        platform.store, routed.budget_stream_id, charge, correlation_id=request.generation_id
    )
    record_charge(platform, request.department_id, before, appended)
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


_STEPS = {
    Step.SCREEN: screen_prompt,
    Step.ROUTE: route_generation,
    Step.GENERATE: generate_image,
    Step.CHARGE: charge_generation,
}
