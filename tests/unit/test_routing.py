"""Routing's hard constraints, its use of provider health, and moving a reservation."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

from domain import budget
from domain.budget import Budget, BudgetPolicy, BudgetSet, CostReserved, Enforcement, Strategy
from domain.catalogue import Catalogue, ModelRequirements, parse_catalogue
from domain.routing import Eligibility, rank_models
from tests.unit.test_budget_decider import apply

TODAY = date(2026, 11, 23)
FX = {"aud_per_usd": "1.55", "as_of": "2026-11-23", "source": "test"}


def model(model_id: str, provider: str, price: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": model_id,
        "provider": provider,
        "display_name": model_id,
        "sizes": ["1024x1024"],
        "qualities": ["standard"],
        "prices_aud": {"1024x1024": {"standard": price}},
        "quality_score": "0.50",
        "speed_score": "0.50",
        "sla_percent": "99.9",
        "commercial_use": True,
        "regions": ["australiaeast"],
        "retires_on": None,
        "notes": "a test model",
    }
    return spec | overrides


def catalogue(*models: dict[str, Any]) -> Catalogue:
    return parse_catalogue(
        json.dumps({"version": "t", "currency": "AUD", "fx": FX, "models": models})
    )


def ranked(
    cat: Catalogue,
    requirements: ModelRequirements | None = None,
    rates: dict[str, Decimal] | None = None,
) -> list[str]:
    candidates = rank_models(
        cat,
        Eligibility(
            frozenset(m.provider for m in cat.models),
            TODAY,
            requirements=requirements or ModelRequirements(),
        ),
        size="1024x1024",
        quality="standard",
        strategy=Strategy.BALANCED,
        success_rates=rates,
    )
    return [c.model.id for c in candidates]


def test_a_department_that_requires_australian_residency_gets_only_australian_models() -> None:
    cat = catalogue(
        model("sydney", "a", "0.10", regions=["australiaeast"]),
        model("virginia", "b", "0.01", regions=["eastus"]),
    )
    assert ranked(cat) == ["virginia", "sydney"]  # cheaper first when all else is equal
    assert ranked(cat, ModelRequirements(regions=("australiaeast", "australiasoutheast"))) == [
        "sydney"
    ]


def test_models_below_the_departments_sla_are_not_routed_to() -> None:
    cat = catalogue(
        model("solid", "a", "0.10", sla_percent="99.9"),
        model("shaky", "b", "0.01", sla_percent="95"),
    )
    assert ranked(cat, ModelRequirements(min_sla_percent=Decimal("99.5"))) == ["solid"]


def test_commercial_use_is_required_unless_the_department_waives_it() -> None:
    cat = catalogue(
        model("licensed", "a", "0.10"), model("research-only", "b", "0.01", commercial_use=False)
    )
    assert ranked(cat) == ["licensed"]
    assert ranked(cat, ModelRequirements(commercial_use=False)) == ["research-only", "licensed"]


def test_requirements_say_why_a_model_is_unfit() -> None:
    spec = catalogue(model("m", "a", "0.10", regions=["eastus"], sla_percent="99")).models[0]
    assert ModelRequirements(regions=("australiaeast",)).unmet_by(spec) == (
        "residency: runs in eastus, not in australiaeast"
    )
    assert ModelRequirements(min_sla_percent=Decimal("99.9")).unmet_by(spec) == (
        "sla: 99 % is below 99.9 %"
    )
    assert ModelRequirements().unmet_by(spec) is None


def test_a_provider_with_a_poor_recent_success_rate_sinks_in_the_ranking() -> None:
    cat = catalogue(model("first", "a", "0.01"), model("second", "b", "0.02"))
    assert ranked(cat) == ["first", "second"]
    assert ranked(cat, rates={"a": Decimal("0.5"), "b": Decimal("1")}) == ["second", "first"]


POLICY = BudgetPolicy(
    monthly_limit_aud=Decimal("1.00"), enforcement=Enforcement.HARD, strategy=Strategy.COST
)


def holding(amount: str, model_id: str = "cheap", others: str = "0") -> tuple[Budget, Any]:
    """A month that holds `amount` for a generation on `model_id`, and `others` besides."""
    gid = uuid4()
    holds = [(gid, amount, model_id)] + ([(uuid4(), others, "x")] if others != "0" else [])
    payloads = [
        BudgetSet(department_id="d", period="2026-11", policy=POLICY),
        *(
            CostReserved(
                department_id="d",
                period="2026-11",
                generation_id=held,
                user_id="u",
                model_id=held_model,
                amount_aud=Decimal(held_amount),
                outcome="allowed",
            )
            for held, held_amount, held_model in holds
        ),
    ]
    return apply(Budget(), tuple(payloads)), gid


def move(state: Budget, gid: Any, model_id: str, estimate: str) -> budget.Reservation:
    return budget.move_reservation(
        state,
        budget.CostLine("d", "2026-11", gid, "u", model_id),
        policy=POLICY,
        estimate=Decimal(estimate),
        reason="rerouted",
    )


def test_a_reroute_releases_the_old_hold_and_reserves_the_new_model() -> None:
    state, gid = holding("0.10")
    decision = move(state, gid, "dear", "0.30")
    assert decision.allowed
    released, reserved = decision.events
    assert isinstance(released, budget.ReservationReleased)
    assert released.amount_aud == Decimal("0.10")
    assert isinstance(reserved, CostReserved)
    assert (reserved.model_id, reserved.amount_aud) == ("dear", Decimal("0.30"))


def test_a_reroute_counts_the_old_hold_as_freed_under_a_hard_budget() -> None:
    # 0.60 held by others + 0.30 for this one: moving to a 0.40 model fits only because
    # this generation's own 0.30 is given back.
    state, gid = holding("0.30", others="0.60")
    assert move(state, gid, "dear", "0.40").allowed
    assert not move(state, gid, "dearer", "0.41").allowed
    assert move(state, gid, "dearer", "0.41").events == ()


def test_repeating_a_reroute_that_was_recorded_adds_nothing() -> None:
    state, gid = holding("0.30", model_id="dear")
    decision = move(state, gid, "dear", "0.30")
    assert decision.allowed
    assert decision.events == ()
