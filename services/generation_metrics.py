"""The measurements of a generation's progress through the pipeline (services/metrics.py).

Recorded when this worker appended the step that settled the generation, so a
redelivered message that finds it settled counts nothing again; a request the door
refused, when `POST /generations` refused it (a replayed refusal counts nothing again).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from domain.admission import Refused
from domain.budget import BUDGET_EVENTS, Budget, BudgetThresholdCrossed, CostCharged
from domain.envelope import Event
from domain.generation import Generation, PromptRejected, Status
from services.context import Platform
from services.metrics import (
    BUDGET_THRESHOLDS,
    BUDGET_UTILISATION,
    GENERATION_SECONDS,
    GENERATIONS,
    PLATFORM_SECONDS,
    PROVIDER_SECONDS,
    QUEUE_WAIT_SECONDS,
    REJECTIONS,
    reason_kind,
)


def record_pickup(platform: Platform, state: Generation) -> None:
    """A worker took a generation not yet routed (screened at the door, or requested
    before the door screened): its wait in the queue ends."""
    queued = state.status in (Status.REQUESTED, Status.SCREENED)
    if queued and state.requested_at is not None:
        waited = (platform.clock() - state.requested_at).total_seconds()
        platform.meter.observe(QUEUE_WAIT_SECONDS, max(waited, 0.0))


def record_refused(platform: Platform, refused: Refused) -> None:
    """A request refused at the door: with the rejections, by reason; one it recorded (a
    blocked prompt) is also a generation that ended rejected, with no model."""
    rejected = next((e for e in refused.events if isinstance(e, PromptRejected)), None)
    if rejected is None:
        platform.meter.add(REJECTIONS, reason=refused.refusal.value)
        return
    platform.meter.add(GENERATIONS, status=Status.REJECTED.value, model="none")
    platform.meter.add(REJECTIONS, reason=reason_kind(rejected.reason))


def record_settled(
    platform: Platform, state: Generation, worker_seconds: float, provider_seconds: float
) -> None:
    """`state` just became terminal after `worker_seconds` of work by this worker."""
    meter = platform.meter
    if state.image is not None:
        model = state.image.model_id
    else:
        model = state.routed.model_id if state.routed is not None else "none"
    meter.add(GENERATIONS, status=state.status.value, model=model)
    if state.requested_at is not None:
        total = (platform.clock() - state.requested_at).total_seconds()
        meter.observe(GENERATION_SECONDS, max(total, 0.0), status=state.status.value)
    meter.observe(PROVIDER_SECONDS, provider_seconds)
    meter.observe(PLATFORM_SECONDS, max(worker_seconds - provider_seconds, 0.0))
    if state.status is Status.REJECTED:
        meter.add(REJECTIONS, reason=reason_kind(state.reason or ""))


def record_charge(
    platform: Platform, department_id: str, before: Budget, recorded: Sequence[Event]
) -> None:
    """A charge recorded on `before`: the month's utilisation, and any threshold crossed."""
    appended = [BUDGET_EVENTS[event.type].model_validate(event.data) for event in recorded]
    amounts = [p.amount_aud for p in appended if isinstance(p, CostCharged)]
    if not amounts or before.policy is None or before.policy.monthly_limit_aud <= 0:
        return
    spent = before.spent + sum(amounts, Decimal(0))
    ratio = float(spent / before.policy.monthly_limit_aud)
    platform.meter.set(BUDGET_UTILISATION, ratio, department=department_id)
    for crossed in appended:
        if isinstance(crossed, BudgetThresholdCrossed):
            percent = str(crossed.threshold_percent)
            platform.meter.add(BUDGET_THRESHOLDS, threshold_percent=percent)
