"""The routing steps' rules (domain/generation_steps.py), decided without I/O."""

from __future__ import annotations

from decimal import Decimal

from domain.budget import Budget, CostReserved
from domain.generation import GenerationRouted
from domain.generation_steps import (
    AdmissionOf,
    Placement,
    over_budget,
    place,
    route_refusal,
    routed,
    takeovers,
)
from domain.provider_health import Admission
from domain.routing import Candidate, Eligibility, rank_models
from tests.unit.test_admission import CHEAP_AND_DEAR, policy, requested
from tests.unit.test_budget_decider import apply
from tests.unit.test_routing import TODAY, catalogue, model


def candidates() -> list[Candidate]:
    return rank_models(
        CHEAP_AND_DEAR,
        Eligibility(frozenset({"a", "b"}), TODAY),
        size="1024x1024",
        quality="standard",
        strategy=policy().strategy,
    )


def admitting(*open_providers: str) -> AdmissionOf:
    return lambda provider: Admission.SKIP if provider in open_providers else Admission.CALL


def test_no_candidate_is_refused_as_no_eligible_model_naming_the_request() -> None:
    refusal = route_refusal(requested("missing"), [], admitting())
    assert refusal is not None
    assert refusal.reason == "no_eligible_model"
    assert "1024x1024 at standard quality as missing" in refusal.detail


def test_every_circuit_open_is_refused_naming_the_providers() -> None:
    refusal = route_refusal(requested(), candidates(), admitting("a", "b"))
    assert refusal is not None
    assert (refusal.reason, refusal.detail) == (
        "providers_unavailable",
        "the circuit of every eligible provider is open: a, b",
    )
    assert route_refusal(requested(), candidates(), admitting("a")) is None


def test_place_holds_the_best_ranked_candidate_the_month_affords() -> None:
    request = requested()
    ranked = candidates()
    assert ranked[0].model.id == "cheap"
    placement = place(Budget(), ranked, request=request, period="2026-11", policy=policy("10"))
    assert placement.model_id == "cheap"
    reserved = [e for e in placement.events if isinstance(e, CostReserved)]
    assert [(e.model_id, e.amount_aud) for e in reserved] == [("cheap", ranked[0].price)]


def test_place_skips_a_model_a_hard_budget_cannot_hold_and_names_why_when_none_fits() -> None:
    request = requested()
    ranked = list(reversed(candidates()))  # the dear one first
    limit = str(ranked[1].price)  # room for the cheap one only
    placement = place(Budget(), ranked, request=request, period="2026-11", policy=policy(limit))
    assert placement.model_id == "cheap"
    nothing = place(Budget(), ranked, request=request, period="2026-11", policy=policy("0"))
    assert (nothing.model_id, nothing.events) == (None, ())
    assert "hard budget of 0 AUD for 2026-11" in nothing.reason
    assert over_budget(nothing).reason == "budget_exceeded"


def test_asked_again_after_its_own_events_place_names_the_same_model_and_adds_nothing() -> None:
    request = requested()
    first = place(Budget(), candidates(), request=request, period="2026-11", policy=policy())
    month = apply(Budget(), first.events)
    assert place(month, candidates(), request=request, period="2026-11", policy=policy("0")) == (
        Placement("cheap")
    )


def test_routed_records_the_choice_the_ranking_and_the_month() -> None:
    ranked = candidates()
    event = routed(
        ranked[1],
        ranked,
        budget_stream_id="budget-marketing-2026-11",
        period="2026-11",
        catalogue_version="v1",
    )
    assert isinstance(event, GenerationRouted)
    assert (event.model_id, event.provider, event.ranked_models) == ("dear", "b", ("cheap", "dear"))
    assert event.estimated_cost_aud == ranked[1].price


def test_takeovers_are_the_untried_callable_configured_live_models_in_rank_order() -> None:
    shelf = catalogue(
        model("first", "a", "0.10"),
        model("second", "b", "0.20"),
        model("third", "c", "0.30"),
        model("retired", "a", "0.05", retires_on="2026-01-01"),
        model(
            "unpriced",
            "a",
            "0.05",
            sizes=["1792x1024"],
            prices_aud={"1792x1024": {"standard": "0.05"}},
        ),
    )
    request = requested()
    route = routed(
        *(lambda ranked: (ranked[0], ranked))(
            rank_models(
                shelf,
                Eligibility(frozenset({"a", "b", "c"}), TODAY),
                size="1024x1024",
                quality="standard",
                strategy=policy().strategy,
            )
        ),
        budget_stream_id="budget-marketing-2026-11",
        period="2026-11",
        catalogue_version="v1",
    )
    found = takeovers(
        route.model_copy(
            update={"ranked_models": ("first", "retired", "unpriced", "second", "third")}
        ),
        request,
        tried=("first",),
        catalogue=shelf,
        today=TODAY,
        configured_providers=frozenset({"a", "b", "c"}),
        admission_of=admitting("c"),
    )
    assert [(t.model.id, t.price) for t in found] == [("second", Decimal("0.20"))]
