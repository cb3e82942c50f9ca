"""The department budget for one Sydney month, and the decider that guards it.

Reservations, releases and charges are keyed by generation id, so a redelivered
step finds its own earlier effect and produces nothing new: that is what makes
"nothing is charged twice" hold under at-least-once delivery. The hard-mode
invariant (spent + reserved never exceeds the limit) holds because every decision
is appended at the version it was decided on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.catalogue import ModelRequirements
from domain.envelope import Event
from domain.generation import Payload
from domain.money import AUD, ZERO, percent_of

THRESHOLDS: tuple[int, ...] = (80, 90, 100)


class Enforcement(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    WARN = "warn"


class Strategy(StrEnum):
    COST = "cost_optimised"
    QUALITY = "quality_focused"
    BALANCED = "balanced"


class BudgetPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    monthly_limit_aud: AUD
    enforcement: Enforcement
    strategy: Strategy
    requirements: ModelRequirements = ModelRequirements()


class BudgetSet(Payload):
    TYPE: ClassVar[str] = "BudgetSet"

    department_id: str
    period: str | None
    policy: BudgetPolicy


class CostReserved(Payload):
    TYPE: ClassVar[str] = "CostReserved"

    department_id: str
    period: str
    generation_id: UUID
    user_id: str
    model_id: str
    amount_aud: AUD
    outcome: Literal["allowed", "overrun_recorded", "alert_raised"]


class ReservationReleased(Payload):
    TYPE: ClassVar[str] = "ReservationReleased"

    department_id: str
    period: str
    generation_id: UUID
    amount_aud: AUD
    reason: str


class CostCharged(Payload):
    TYPE: ClassVar[str] = "CostCharged"

    department_id: str
    period: str
    generation_id: UUID
    user_id: str
    model_id: str
    amount_aud: AUD
    reserved_aud: AUD


class BudgetThresholdCrossed(Payload):
    TYPE: ClassVar[str] = "BudgetThresholdCrossed"

    department_id: str
    period: str
    threshold_percent: int
    spent_aud: AUD
    limit_aud: AUD


BUDGET_EVENTS: dict[str, type[Payload]] = {
    cls.TYPE: cls
    for cls in (BudgetSet, CostReserved, ReservationReleased, CostCharged, BudgetThresholdCrossed)
}


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation held for one generation."""

    amount: Decimal
    model_id: str


@dataclass(frozen=True, slots=True)
class Budget:
    """One department-month: the policy in force and what is reserved and spent."""

    version: int = 0
    policy: BudgetPolicy | None = None
    reservations: dict[UUID, Hold] = field(default_factory=dict)
    charged: frozenset[UUID] = frozenset()
    spent: Decimal = ZERO
    thresholds_crossed: frozenset[int] = frozenset()

    @property
    def reserved(self) -> Decimal:
        return sum((hold.amount for hold in self.reservations.values()), ZERO)


def evolve(state: Budget, event: Event) -> Budget:
    payload = BUDGET_EVENTS[event.type].model_validate(event.data)
    version = event.version
    match payload:
        case BudgetSet(policy=policy):
            return replace(state, version=version, policy=policy)
        case CostReserved(generation_id=gid, amount_aud=amount, model_id=model_id):
            hold = Hold(amount, model_id)
            return replace(state, version=version, reservations={**state.reservations, gid: hold})
        case ReservationReleased(generation_id=gid):
            remaining = {k: v for k, v in state.reservations.items() if k != gid}
            return replace(state, version=version, reservations=remaining)
        case CostCharged(generation_id=gid, amount_aud=amount):
            remaining = {k: v for k, v in state.reservations.items() if k != gid}
            return replace(
                state,
                version=version,
                reservations=remaining,
                charged=state.charged | {gid},
                spent=state.spent + amount,
            )
        case BudgetThresholdCrossed(threshold_percent=pct):
            return replace(
                state, version=version, thresholds_crossed=state.thresholds_crossed | {pct}
            )
    raise ValueError(f"unexpected budget event {event.type}")


def fold(events: Iterable[Event]) -> Budget:
    state = Budget()
    for event in events:
        state = evolve(state, event)
    return state


@dataclass(frozen=True, slots=True)
class Reservation:
    """The decider's answer to a reservation request."""

    allowed: bool
    events: tuple[Payload, ...]
    reason: str = ""


def reserve(
    state: Budget,
    *,
    department_id: str,
    period: str,
    policy: BudgetPolicy,
    generation_id: UUID,
    user_id: str,
    model_id: str,
    estimate: Decimal,
) -> Reservation:
    """Reserve `estimate` for a generation, or refuse it under a hard limit.

    `policy` is the standing policy; it is recorded on the month's stream the first
    time the month is touched, so the month's own history says what limit applied.
    """
    if generation_id in state.reservations or generation_id in state.charged:
        return Reservation(allowed=True, events=())
    events: list[Payload] = []
    if state.policy is None:
        events.append(BudgetSet(department_id=department_id, period=period, policy=policy))
    effective = state.policy or policy
    committed = state.spent + state.reserved + estimate
    over = committed > effective.monthly_limit_aud
    if over and effective.enforcement is Enforcement.HARD:
        remaining = effective.monthly_limit_aud - state.spent - state.reserved
        return Reservation(
            allowed=False,
            events=(),
            reason=f"hard budget of {effective.monthly_limit_aud} AUD for {period} has "
            f"{max(remaining, ZERO)} AUD left; this generation needs {estimate} AUD",
        )
    outcome: Literal["allowed", "overrun_recorded", "alert_raised"] = "allowed"
    if over:
        outcome = (
            "overrun_recorded" if effective.enforcement is Enforcement.SOFT else "alert_raised"
        )
    events.append(
        CostReserved(
            department_id=department_id,
            period=period,
            generation_id=generation_id,
            user_id=user_id,
            model_id=model_id,
            amount_aud=estimate,
            outcome=outcome,
        )
    )
    return Reservation(allowed=True, events=tuple(events))


def release(
    state: Budget, *, department_id: str, period: str, generation_id: UUID, reason: str
) -> tuple[Payload, ...]:
    hold = state.reservations.get(generation_id)
    if hold is None:
        return ()
    return (
        ReservationReleased(
            department_id=department_id,
            period=period,
            generation_id=generation_id,
            amount_aud=hold.amount,
            reason=reason,
        ),
    )


def charge(
    state: Budget,
    *,
    department_id: str,
    period: str,
    generation_id: UUID,
    user_id: str,
    model_id: str,
    amount: Decimal,
) -> tuple[Payload, ...]:
    """Settle the actual cost (the rest of the reservation is freed by the same event)."""
    if generation_id in state.charged:
        return ()
    events: list[Payload] = [
        CostCharged(
            department_id=department_id,
            period=period,
            generation_id=generation_id,
            user_id=user_id,
            model_id=model_id,
            amount_aud=amount,
            reserved_aud=hold.amount if (hold := state.reservations.get(generation_id)) else ZERO,
        )
    ]
    if state.policy is not None:
        limit = state.policy.monthly_limit_aud
        spent = state.spent + amount
        reached = percent_of(spent, limit)
        for pct in THRESHOLDS:
            if reached >= pct and pct not in state.thresholds_crossed:
                events.append(
                    BudgetThresholdCrossed(
                        department_id=department_id,
                        period=period,
                        threshold_percent=pct,
                        spent_aud=spent,
                        limit_aud=limit,
                    )
                )
    return tuple(events)


def move_reservation(
    state: Budget,
    *,
    department_id: str,
    period: str,
    policy: BudgetPolicy,
    generation_id: UUID,
    user_id: str,
    model_id: str,
    estimate: Decimal,
    reason: str,
) -> Reservation:
    """Hold `estimate` for `model_id` in place of the generation's current reservation.

    A reroute to a dearer model is decided like a new reservation (a hard budget may
    refuse it) against what the month holds without the reservation it replaces.
    """
    held = state.reservations.get(generation_id)
    if (held is not None and held.model_id == model_id) or generation_id in state.charged:
        return Reservation(allowed=True, events=())  # moved already: a repeated step
    others = {gid: hold for gid, hold in state.reservations.items() if gid != generation_id}
    decision = reserve(
        replace(state, reservations=others),
        department_id=department_id,
        period=period,
        policy=policy,
        generation_id=generation_id,
        user_id=user_id,
        model_id=model_id,
        estimate=estimate,
    )
    if not decision.allowed:
        return decision
    released = release(
        state,
        department_id=department_id,
        period=period,
        generation_id=generation_id,
        reason=reason,
    )
    return Reservation(allowed=True, events=(*released, *decision.events))
