"""The department budget for one Sydney month, and the decider that guards it.

Reservations, releases and charges are keyed by generation id, so a redelivered
step finds its own earlier effect and produces nothing new: that is what makes
"nothing is charged twice" hold under at-least-once delivery. The hard-mode
invariant (spent + reserved never exceeds the limit) holds because every decision
is appended at the version it was decided on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.catalogue import ModelRequirements
from domain.envelope import Event
from domain.generation import GenerationRequested, Payload
from domain.money import AUD, ZERO, percent_of
from domain.month_ledger import ChargedSet, Hold, MonthLedger, OpenHolds

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


@dataclass(frozen=True, slots=True, eq=False)
class Budget:
    """One department-month: the policy in force and what is reserved and spent.

    `reservations` and `charged` are views of the shared ledger at this state's version.
    """

    version: int = 0
    policy: BudgetPolicy | None = None
    spent: Decimal = ZERO
    reserved: Decimal = ZERO
    charged_count: int = 0
    thresholds_crossed: frozenset[int] = frozenset()
    ledger: MonthLedger = field(default_factory=MonthLedger, repr=False, compare=False)

    @property
    def reservations(self) -> Mapping[UUID, Hold]:
        return OpenHolds(self.ledger, self.version)

    @property
    def charged(self) -> AbstractSet[UUID]:
        return ChargedSet(self.ledger, self.version, self.charged_count)

    def hold(self, generation_id: UUID) -> Hold | None:
        return self.ledger.hold_at(generation_id, self.version)

    def is_charged(self, generation_id: UUID) -> bool:
        return self.ledger.charged_at(generation_id, self.version)


def evolve(state: Budget, event: Event) -> Budget:
    payload = BUDGET_EVENTS[event.type].model_validate(event.data)
    with state.ledger.lock:
        ledger = state.ledger
        if ledger.head != state.version:  # another history already grew from this state
            ledger = ledger.up_to(state.version)
        ledger.head = event.version
        return _apply(state, replace(state, version=event.version, ledger=ledger), payload)


def _apply(before: Budget, after: Budget, payload: Payload) -> Budget:
    """`after` (`before` moved to the event's version) with `payload`'s effect."""
    match payload:
        case BudgetSet(policy=policy):
            return replace(after, policy=policy)
        case BudgetThresholdCrossed(threshold_percent=pct):
            return replace(after, thresholds_crossed=before.thresholds_crossed | {pct})
        case CostReserved(generation_id=gid, amount_aud=amount, model_id=model_id):
            previous = before.hold(gid)
            freed = previous.amount if previous is not None else ZERO
            after.ledger.holds.setdefault(gid, []).append((after.version, Hold(amount, model_id)))
            return replace(after, reserved=before.reserved - freed + amount)
        case ReservationReleased(generation_id=gid):
            return replace(after, reserved=before.reserved - _free(before, after, gid))
        case CostCharged(generation_id=gid, amount_aud=amount):
            newly_charged = not before.is_charged(gid)
            after.ledger.charged.setdefault(gid, after.version)
            return replace(
                after,
                reserved=before.reserved - _free(before, after, gid),
                spent=before.spent + amount,
                charged_count=before.charged_count + newly_charged,
            )
    raise ValueError(f"unexpected budget event {payload.TYPE}")


def _free(before: Budget, after: Budget, generation_id: UUID) -> Decimal:
    """End `generation_id`'s hold from `after`'s version on; the amount it held."""
    previous = before.hold(generation_id)
    if previous is None:
        return ZERO
    after.ledger.holds[generation_id].append((after.version, None))
    return previous.amount


def fold(events: Iterable[Event], state: Budget | None = None) -> Budget:
    """`state` (a fresh month by default) with `events` applied in order."""
    state = state if state is not None else Budget()
    for event in events:
        state = evolve(state, event)
    return state


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
    if state.hold(line.generation_id) is not None or state.is_charged(line.generation_id):
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


def charge(state: Budget, line: CostLine, *, amount: Decimal) -> tuple[Payload, ...]:
    """Settle the actual cost (the rest of the reservation is freed by the same event)."""
    if state.is_charged(line.generation_id):
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
    moved = held is not None and held.model_id == line.model_id
    if moved or state.is_charged(line.generation_id):
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
