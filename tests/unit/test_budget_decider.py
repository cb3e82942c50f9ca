"""The budget decider: modes, idempotency by generation, thresholds once a month."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from domain import budget
from domain.budget import (
    Budget,
    BudgetPolicy,
    BudgetThresholdCrossed,
    CostCharged,
    CostReserved,
    Enforcement,
    Hold,
    Strategy,
)
from domain.envelope import GENESIS_HASH, SYSTEM_ACTOR, Event, NewEvent, record
from domain.generation import Payload
from domain.money import ZERO


def policy(limit: str, mode: Enforcement = Enforcement.HARD) -> BudgetPolicy:
    return BudgetPolicy(
        monthly_limit_aud=Decimal(limit), enforcement=mode, strategy=Strategy.BALANCED
    )


def apply(state: Budget, payloads: tuple[Payload, ...]) -> Budget:
    prev = GENESIS_HASH
    for payload in payloads:
        event: Event = record(
            NewEvent(
                type=payload.TYPE,
                data=payload.model_dump(mode="json"),
                actor=SYSTEM_ACTOR,
                correlation_id=uuid4(),
            ),
            stream_id="budget-marketing-2026-11",
            version=state.version + 1,
            prev_hash=prev,
            recorded_at=datetime(2026, 11, 23, tzinfo=UTC),
        )
        prev = event.hash
        state = budget.evolve(state, event)
    return state


def reserve(state: Budget, gid: UUID, amount: str, limit: BudgetPolicy) -> budget.Reservation:
    return budget.reserve(state, line(gid), policy=limit, estimate=Decimal(amount))


def line(gid: UUID) -> budget.CostLine:
    return budget.CostLine("marketing", "2026-11", gid, "alice", "local-sketch")


def test_hard_budget_refuses_what_does_not_fit_including_reservations() -> None:
    limit = policy("0.10")
    state = Budget()
    for _ in range(10):
        decision = reserve(state, uuid4(), "0.01", limit)
        assert decision.allowed
        state = apply(state, decision.events)
    refused = reserve(state, uuid4(), "0.01", limit)
    assert not refused.allowed
    assert refused.events == ()
    assert "0 AUD left" in refused.reason
    assert state.reserved == Decimal("0.10")


def test_soft_and_warn_allow_and_record_the_overrun() -> None:
    for mode, outcome in (
        (Enforcement.SOFT, "overrun_recorded"),
        (Enforcement.WARN, "alert_raised"),
    ):
        decision = reserve(Budget(), uuid4(), "5.00", policy("1.00", mode))
        assert decision.allowed
        reserved = [e for e in decision.events if isinstance(e, CostReserved)]
        assert reserved[0].outcome == outcome


def test_reserving_or_charging_the_same_generation_twice_adds_nothing() -> None:
    limit = policy("10.00")
    gid = uuid4()
    state = apply(Budget(), reserve(Budget(), gid, "1.00", limit).events)
    assert reserve(state, gid, "1.00", limit).events == ()
    charge = budget.charge(state, line(gid), charged=False, amount=Decimal("0.75"))
    state = apply(state, charge)
    assert state.spent == Decimal("0.75")
    assert state.reserved == 0
    # The store finds the charge's event id (`charge_event_id`): a repeat adds nothing.
    again = budget.charge(state, line(gid), charged=True, amount=Decimal("0.75"))
    assert again == ()
    assert state.hold(gid) is None


def test_release_frees_the_reservation_once() -> None:
    gid = uuid4()
    state = apply(Budget(), reserve(Budget(), gid, "1.00", policy("10.00")).events)
    released = budget.release(
        state, department_id="marketing", period="2026-11", generation_id=gid, reason="failed"
    )
    state = apply(state, released)
    assert state.reserved == 0
    assert (
        budget.release(
            state, department_id="marketing", period="2026-11", generation_id=gid, reason="failed"
        )
        == ()
    )


def test_thresholds_fire_once_each() -> None:
    limit = policy("1.00")
    state = Budget()
    crossed: list[int] = []
    for amount in ("0.85", "0.10", "0.10", "0.10"):
        gid = uuid4()
        state = apply(state, reserve(state, gid, "0", limit).events)
        events = budget.charge(state, line(gid), charged=False, amount=Decimal(amount))
        crossed += [e.threshold_percent for e in events if isinstance(e, BudgetThresholdCrossed)]
        assert any(isinstance(e, CostCharged) for e in events)
        state = apply(state, events)
    assert crossed == [80, 90, 100]
    assert state.spent == Decimal("1.15")


def test_earlier_states_keep_their_answers_as_the_month_grows_or_branches() -> None:
    """Each state still answers as of its own version, however the month grows after it."""
    limit = policy("10.00")
    first, second = uuid4(), uuid4()
    reserved = apply(Budget(), reserve(Budget(), first, "1.00", limit).events)
    charged = apply(
        reserved,
        budget.charge(reserved, line(first), charged=False, amount=Decimal("0.75")),
    )
    # A second history grown from the same earlier state: a different reservation.
    branch = apply(reserved, reserve(reserved, second, "2.00", limit).events)

    assert reserved.reservations == {first: Hold(Decimal("1.00"), "local-sketch")}
    assert reserved.charged_count == 0
    assert reserved.reserved == Decimal("1.00")
    assert charged.reservations == {}
    assert (charged.spent, charged.reserved, charged.charged_count) == (Decimal("0.75"), ZERO, 1)
    assert set(branch.reservations) == {first, second}
    assert branch.reserved == Decimal("3.00")
    assert branch.charged_count == 0
    assert second not in charged.reservations
