"""The rules of a generation's routing steps, decided without I/O.

The pipeline (services/pipeline.py, services/provider_calls.py) gathers what they need
(the ranking, each provider's admission, the month's budget) and records what they
return; every rule of which model serves, which is refused and what is held lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain import budget
from domain.budget import Budget, BudgetPolicy
from domain.catalogue import Catalogue, ModelSpec
from domain.generation import (
    GenerationRejected,
    GenerationRequested,
    GenerationRouted,
    Payload,
)
from domain.provider_health import Admission
from domain.routing import Candidate

AdmissionOf = Callable[[str], Admission]  # a provider's admission of this generation now


def route_refusal(
    request: GenerationRequested, candidates: Sequence[Candidate], admission_of: AdmissionOf
) -> GenerationRejected | None:
    """Why no model may take the generation now, or None when one may.

    Every eligible model stays in the ranking, so failover can still reach one whose
    circuit closes meanwhile; only the first choice must be callable now.
    """
    if not candidates:
        return GenerationRejected(
            reason="no_eligible_model",
            detail=f"no enabled model serves {request.size} at {request.quality} quality"
            + (f" as {request.model}" if request.model else "")
            + " within the department's requirements",
        )
    if not callable_now(candidates, admission_of):
        open_circuits = ", ".join(sorted({c.model.provider for c in candidates}))
        return GenerationRejected(
            reason="providers_unavailable",
            detail=f"the circuit of every eligible provider is open: {open_circuits}",
        )
    return None


def callable_now(candidates: Sequence[Candidate], admission_of: AdmissionOf) -> list[Candidate]:
    return [c for c in candidates if admission_of(c.model.provider) is not Admission.SKIP]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the month's budget lets the generation go: the model whose estimate is (or
    already was) held and the events that hold it, or None and the hard limit's reason."""

    model_id: str | None
    events: tuple[Payload, ...] = ()
    reason: str = ""


def place(
    month: Budget,
    candidates: Sequence[Candidate],
    *,
    request: GenerationRequested,
    period: str,
    policy: BudgetPolicy,
) -> Placement:
    """Hold the estimate of the best-ranked candidate the month can afford.

    A generation that holds a reservation already (an earlier delivery reserved, then
    crashed) keeps it: asked again on the state after its own events, this answers the
    same model and records nothing.
    """
    held = month.hold(request.generation_id)
    if held is not None:
        return Placement(held.model_id)
    reason = ""
    for candidate in candidates:
        decision = budget.reserve(
            month,
            budget.CostLine.of(request, period, candidate.model.id),
            policy=policy,
            estimate=candidate.price,
        )
        if decision.allowed:
            return Placement(candidate.model.id, decision.events)
        reason = decision.reason
    return Placement(None, reason=reason)


def routed(
    chosen: Candidate,
    candidates: Sequence[Candidate],
    *,
    budget_stream_id: str,
    period: str,
    catalogue_version: str,
) -> GenerationRouted:
    return GenerationRouted(
        model_id=chosen.model.id,
        provider=chosen.model.provider,
        ranked_models=tuple(c.model.id for c in candidates),
        estimated_cost_aud=chosen.price,
        budget_stream_id=budget_stream_id,
        budget_period=period,
        catalogue_version=catalogue_version,
    )


def over_budget(placement: Placement) -> GenerationRejected:
    return GenerationRejected(reason="budget_exceeded", detail=placement.reason)


@dataclass(frozen=True, slots=True)
class Takeover:
    """A model that may take a generation over from the one that failed it."""

    model: ModelSpec
    price: Decimal


def takeovers(
    route: GenerationRouted,
    request: GenerationRequested,
    *,
    tried: Sequence[str],
    catalogue: Catalogue,
    today: date,
    configured_providers: frozenset[str],
    admission_of: AdmissionOf,
) -> list[Takeover]:
    """The ranked models that may still serve, best first: priced for the request, not
    tried yet, not retired, on a configured provider whose circuit admits the call."""
    found = []
    for model_id in route.ranked_models:
        model = catalogue.get(model_id)
        price = None if model is None else model.price(request.size, request.quality)
        if (
            model is None
            or price is None
            or model_id in tried
            or model.is_retired(today)
            or model.provider not in configured_providers
            or admission_of(model.provider) is Admission.SKIP
        ):
            continue
        found.append(Takeover(model, price))
    return found
