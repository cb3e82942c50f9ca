"""The department budget for one Sydney month, and the decider that guards it.

Reservations, releases and charges are keyed by generation id, so a redelivered
step finds its own earlier effect and produces nothing new: that is what makes
"nothing is charged twice" hold under at-least-once delivery. The hard-mode
invariant (spent + reserved never exceeds the limit) holds because every decision
is appended at the version it was decided on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict

from domain.catalogue import ModelRequirements
from domain.envelope import Event
from domain.generation import GenerationRequested, Payload
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


class _CostOfLine(Payload):
    """A reservation or a charge: a `CostLine`'s fields, and the amount."""

    department_id: str
    period: str
    generation_id: UUID
    user_id: str
    model_id: str
    amount_aud: AUD


class CostReserved(_CostOfLine):
    TYPE: ClassVar[str] = "CostReserved"

    outcome: Literal["allowed", "overrun_recorded", "alert_raised"]


class ReservationReleased(Payload):
    TYPE: ClassVar[str] = "ReservationReleased"

    department_id: str
    period: str
    generation_id: UUID
    amount_aud: AUD
    reason: str


class CostCharged(_CostOfLine):
    TYPE: ClassVar[str] = "CostCharged"

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
    """One department-month: the policy in force and what is reserved and spent.

    It keeps the open holds (the generations in flight), not the month's charged
    generations: whether a generation was charged is a lookup of its charge's event id
    (`charge_event_id`), so the state stays small enough to snapshot however long the
    month grows. `reservations` is never mutated; each event makes a new mapping.
    """

    version: int = 0
    policy: BudgetPolicy | None = None
    spent: Decimal = ZERO
    reserved: Decimal = ZERO
    charged_count: int = 0
    thresholds_crossed: frozenset[int] = frozenset()
    reservations: Mapping[UUID, Hold] = field(default_factory=dict)

    def hold(self, generation_id: UUID) -> Hold | None:
        return self.reservations.get(generation_id)


def charge_event_id(generation_id: UUID) -> UUID:
    """The id of the generation's `CostCharged` event: one per generation, so the store
    answers "was it charged?" by looking it up."""
    return uuid5(generation_id, "budget/charge")


def evolve(state: Budget, event: Event) -> Budget:
    payload = BUDGET_EVENTS[event.type].model_validate(event.data)
    return replace(_apply(state, payload), version=event.version)


def _apply(state: Budget, payload: Payload) -> Budget:
    match payload:
        case BudgetSet(policy=policy):
            return replace(state, policy=policy)
        case BudgetThresholdCrossed(threshold_percent=pct):
            return replace(state, thresholds_crossed=state.thresholds_crossed | {pct})
        case CostReserved(generation_id=gid, amount_aud=amount, model_id=model_id):
            freed, holds = _without(state, gid)
            return replace(
                state,
                reserved=state.reserved - freed + amount,
                reservations={**holds, gid: Hold(amount, model_id)},
            )
        case ReservationReleased(generation_id=gid):
            freed, holds = _without(state, gid)
            return replace(state, reserved=state.reserved - freed, reservations=holds)
        case CostCharged(generation_id=gid, amount_aud=amount):
            freed, holds = _without(state, gid)
            return replace(
                state,
                reserved=state.reserved - freed,
                reservations=holds,
                spent=state.spent + amount,
                charged_count=state.charged_count + 1,
            )
    raise ValueError(f"unexpected budget event {payload.TYPE}")


def _without(state: Budget, generation_id: UUID) -> tuple[Decimal, dict[UUID, Hold]]:
    """What `generation_id`'s hold held, and the holds without it."""
    hold = state.reservations.get(generation_id)
    if hold is None:
        return ZERO, dict(state.reservations)
    return hold.amount, {g: h for g, h in state.reservations.items() if g != generation_id}


def fold(events: Iterable[Event], state: Budget | None = None) -> Budget:
    """`state` (a fresh month by default) with `events` applied in order."""
    state = state if state is not None else Budget()
    for event in events:
        state = evolve(state, event)
    return state


def snapshot_of(state: Budget) -> dict[str, Any]:
    return {
        "version": state.version,
        "policy": None if state.policy is None else state.policy.model_dump(mode="json"),
        "spent": str(state.spent),
        "reserved": str(state.reserved),
        "charged_count": state.charged_count,
        "thresholds_crossed": sorted(state.thresholds_crossed),
        "reservations": {
            str(gid): [str(hold.amount), hold.model_id] for gid, hold in state.reservations.items()
        },
    }


def from_snapshot(snapshot: Mapping[str, Any]) -> Budget:
    policy = snapshot["policy"]
    return Budget(
        version=snapshot["version"],
        policy=None if policy is None else BudgetPolicy.model_validate(policy),
        spent=Decimal(snapshot["spent"]),
        reserved=Decimal(snapshot["reserved"]),
        charged_count=snapshot["charged_count"],
        thresholds_crossed=frozenset(snapshot["thresholds_crossed"]),
        reservations={
            UUID(gid): Hold(Decimal(amount), model_id)
            for gid, (amount, model_id) in snapshot["reservations"].items()
        },
    )


@dataclass(frozen=True, slots=True)
class StandingPolicy:
    """The fold of a department's policy stream: the policy set last, if any."""

    version: int = 0
    policy: BudgetPolicy | None = None


def evolve_standing(state: StandingPolicy, event: Event) -> StandingPolicy:
    return StandingPolicy(event.version, BudgetSet.model_validate(event.data).policy)


@dataclass(frozen=True, slots=True)
class CostLine:
    """What a reservation or charge is for: a generation, in its department's month, of
    its requester, priced by `model_id`. `CostReserved` and `CostCharged` record these
    fields as they are."""

    department_id: str
    period: str
    generation_id: UUID
    user_id: str
    model_id: str

    @classmethod
    def of(cls, requested: GenerationRequested, period: str, model_id: str) -> CostLine:
        return cls(
            requested.department_id, period, requested.generation_id, requested.user_id, model_id
        )


@dataclass(frozen=True, slots=True)
class Reservation:
    """The decider's answer to a reservation request."""

    allowed: bool
    events: tuple[Payload, ...]
    reason: str = ""


def reserve(
    state: Budget, line: CostLine, *, policy: BudgetPolicy, estimate: Decimal
) -> Reservation:
    """Reserve `estimate` for `line`'s generation, or refuse it under a hard limit.

    `policy` is the standing policy; it is recorded on the month's stream the first
    time the month is touched, so the month's own history says what limit applied.
    """
    if state.hold(line.generation_id) is not None:  # an earlier delivery reserved already
        return Reservation(allowed=True, events=())
    return _reserve(state, state.reserved, line, policy=policy, estimate=estimate)


def _reserve(
    state: Budget, reserved: Decimal, line: CostLine, *, policy: BudgetPolicy, estimate: Decimal
) -> Reservation:
    """The reservation decision when other generations hold `reserved` AUD."""
    events: list[Payload] = []
    if state.policy is None:
        events.append(
            BudgetSet(department_id=line.department_id, period=line.period, policy=policy)
        )
    effective = state.policy or policy
    over = state.spent + reserved + estimate > effective.monthly_limit_aud
    refusal = shortfall(state, reserved, policy=policy, period=line.period, estimate=estimate)
    if refusal is not None:
        return Reservation(allowed=False, events=(), reason=refusal)
    outcome: Literal["allowed", "overrun_recorded", "alert_raised"] = "allowed"
    if over:
        outcome = (
            "overrun_recorded" if effective.enforcement is Enforcement.SOFT else "alert_raised"
        )
    events.append(CostReserved(**asdict(line), amount_aud=estimate, outcome=outcome))
    return Reservation(allowed=True, events=tuple(events))


def shortfall(
    state: Budget, reserved: Decimal, *, policy: BudgetPolicy, period: str, estimate: Decimal
) -> str | None:
    """Why a hard budget cannot hold `estimate` more while others hold `reserved` AUD,
    or None when it can (or the month's policy is not hard). `policy` is the standing
    one, which applies when the month has none recorded yet."""
    effective = state.policy or policy
    remaining = effective.monthly_limit_aud - state.spent - reserved
    if effective.enforcement is not Enforcement.HARD or estimate <= remaining:
        return None
    return (
        f"hard budget of {effective.monthly_limit_aud} AUD for {period} has "
        f"{max(remaining, ZERO)} AUD left; this generation needs {estimate} AUD"
    )


def release(
    state: Budget, *, department_id: str, period: str, generation_id: UUID, reason: str
) -> tuple[Payload, ...]:
    hold = state.hold(generation_id)
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


def charge(state: Budget, line: CostLine, *, charged: bool, amount: Decimal) -> tuple[Payload, ...]:
    """Settle the actual cost (the rest of the reservation is freed by the same event).

    `charged` says whether the generation's charge is recorded already (the store's
    answer for `charge_event_id`): a repeated step then records nothing.
    """
    if charged:
        return ()
    events: list[Payload] = [
        CostCharged(
            **asdict(line),
            amount_aud=amount,
            reserved_aud=hold.amount if (hold := state.hold(line.generation_id)) else ZERO,
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
                        department_id=line.department_id,
                        period=line.period,
                        threshold_percent=pct,
                        spent_aud=spent,
                        limit_aud=limit,
                    )
                )
    return tuple(events)


def move_reservation(
    state: Budget, line: CostLine, *, policy: BudgetPolicy, estimate: Decimal, reason: str
) -> Reservation:
    """Hold `estimate` for `line`'s model in place of the generation's current reservation.

    A reroute to a dearer model is decided like a new reservation (a hard budget may
    refuse it) against what the month holds without the reservation it replaces.
    """
    held = state.hold(line.generation_id)
    if held is not None and held.model_id == line.model_id:
        return Reservation(allowed=True, events=())  # moved already: a repeated step
    others = state.reserved - (held.amount if held is not None else ZERO)
    decision = _reserve(state, others, line, policy=policy, estimate=estimate)
    if not decision.allowed:
        return decision
    released = release(
        state,
        department_id=line.department_id,
        period=line.period,
        generation_id=line.generation_id,
        reason=reason,
    )
    return Reservation(allowed=True, events=(*released, *decision.events))
