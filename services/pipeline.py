"""Advancing a generation, one idempotent step at a time, to a terminal state.

The generation stream is the checkpoint. Each step is a decision on its state, appended
at that state's version through the command path (services/commands.py). A redelivered
or duplicated message folds the same events and resumes after the last recorded step; a
worker that lost a race decides again on what the winner recorded. Effects on the budget
stream are keyed by generation id (a charge by its own event id), so a step repeated
after a crash finds its earlier effect and adds nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from uuid import UUID

from domain import budget
from domain.budget import Budget, CostCharged
from domain.generation import (
    Generation,
    GenerationCharged,
    Payload,
    PromptRejected,
    PromptScreened,
    Status,
    Step,
    next_step,
)
from domain.generation_steps import (
    Placement,
    callable_now,
    over_budget,
    place,
    route_refusal,
    routed,
)
from domain.periods import budget_period
from domain.provider_health import Admission
from domain.routing import Eligibility, rank_models
from domain.streams import budget_stream, generation_stream
from services.aggregates import BUDGET_MONTH, GENERATION
from services.budget_reads import standing_policy
from services.commands import Stamp, execute
from services.context import Platform
from services.generation_metrics import record_charge, record_pickup, record_settled
from services.metrics import provider_time
from services.personal_data import open_text, seal_text
from services.provider_calls import generate_image, routed_of
from services.provider_health import current_health
from services.screening import screen_for
from services.tracing import GENERATION_ID, tracer

log = logging.getLogger(__name__)

MAX_STEPS = 16


def advance_generation(platform: Platform, generation_id: UUID) -> Generation:
    """Run steps until the generation is terminal; safe to call any number of times.

    Each step is a decision on the generation's state, appended at its version through
    the command path; losing a race to another worker decides the next step on what
    that worker recorded.
    """
    stream_id = generation_stream(generation_id)
    loaded = platform.repository.load(GENERATION, stream_id)
    record_pickup(platform, loaded.state)
    started, spent = time.monotonic(), provider_time()
    for _ in range(MAX_STEPS):
        if next_step(loaded.state) is None:
            release_if_abandoned(platform, loaded.state)
            return loaded.state
        loaded = execute(
            platform.repository,
            GENERATION,
            stream_id,
            lambda current: _take_step(platform, current),
            # Ids follow from the version decided on, so a step repeated after a crash
            # makes the same ids and the store's idempotent append applies.
            lambda at: Stamp(generation_id, key=f"{generation_id}/v{at.version}"),
            start=loaded,
            attempts=MAX_STEPS,
        ).after
        if loaded.state.is_terminal:
            record_settled(platform, loaded.state, time.monotonic() - started, spent.seconds)
    raise RuntimeError(f"generation {generation_id} did not settle in {MAX_STEPS} steps")


def _take_step(platform: Platform, state: Generation) -> Sequence[Payload]:
    step = next_step(state)
    if step is None:  # another worker finished it while this one decided
        return ()
    with tracer.start_as_current_span(f"generation.{step.value}") as span:
        span.set_attribute(GENERATION_ID, str(state.requested.generation_id))
        return _STEPS[step](platform, state)


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


def route_generation(platform: Platform, state: Generation) -> Sequence[Payload]:
    request = state.requested
    policy = standing_policy(
        platform.repository, request.department_id, platform.settings.default_policy
    )
    now = platform.clock()
    enabled = frozenset(platform.settings.enabled_providers)
    health = {provider: current_health(platform, provider).state for provider in enabled}
    candidates = rank_models(
        platform.catalogue,
        Eligibility(enabled, now.date(), request.model, policy.requirements),
        size=request.size,
        quality=request.quality,
        strategy=policy.strategy,
        success_rates={provider: h.success_rate(now) for provider, h in health.items()},
    )

    def admission_of(provider: str) -> Admission:
        return health[provider].admission(now, request.generation_id)

    refusal = route_refusal(request, candidates, admission_of)
    if refusal is not None:
        return [refusal]
    callable_first = callable_now(candidates, admission_of)
    period = budget_period(now)
    stream_id = budget_stream(request.department_id, period)

    def placement(month: Budget) -> Placement:
        return place(month, callable_first, request=request, period=period, policy=policy)

    decided = execute(
        platform.repository,
        BUDGET_MONTH,
        stream_id,
        lambda month: placement(month).events,
        Stamp(request.generation_id),
    )
    # Asked again on the month after its own events, the decider names the model it held.
    placed = placement(decided.after.state)
    if placed.model_id is None:
        return [over_budget(placed)]
    chosen = next(c for c in candidates if c.model.id == placed.model_id)
    return [
        routed(
            chosen,
            candidates,
            budget_stream_id=stream_id,
            period=period,
            catalogue_version=platform.catalogue.version,
        )
    ]


def charge_generation(platform: Platform, state: Generation) -> Sequence[Payload]:
    request, routed_to = state.requested, routed_of(state)
    image = state.image
    if image is None:
        raise ValueError("charging a generation without an image")
    generation_id = request.generation_id
    charge_id = budget.charge_event_id(generation_id)
    stream_id = routed_to.budget_stream_id

    def charge(month: Budget) -> Sequence[Payload]:
        return budget.charge(
            month,
            budget.CostLine.of(request, routed_to.budget_period, image.model_id),
            # Asked on every attempt: a racing delivery may have charged meanwhile.
            charged=platform.store.find_event(stream_id, charge_id) is not None,
            amount=image.cost_aud,
        )

    decided = execute(
        platform.repository,
        BUDGET_MONTH,
        stream_id,
        charge,
        Stamp(generation_id, fixed_ids={CostCharged.TYPE: charge_id}),
    )
    record_charge(platform, request.department_id, decided.before.state, decided.recorded)
    return [GenerationCharged(cost_aud=image.cost_aud, budget_stream_id=stream_id)]


def release_if_abandoned(platform: Platform, state: Generation) -> None:
    """A failed or rejected generation holds no reservation (repairs a crash mid-failure)."""
    if state.status not in (Status.FAILED, Status.REJECTED) or state.routed is None:
        return
    request, routed_to = state.requested, state.routed
    execute(
        platform.repository,
        BUDGET_MONTH,
        routed_to.budget_stream_id,
        lambda month: budget.release(
            month,
            department_id=request.department_id,
            period=routed_to.budget_period,
            generation_id=request.generation_id,
            reason=state.reason or "failed",
        ),
        Stamp(request.generation_id),
    )


_STEPS = {
    Step.SCREEN: screen_prompt,
    Step.ROUTE: route_generation,
    Step.GENERATE: generate_image,
    Step.CHARGE: charge_generation,
}
