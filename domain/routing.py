"""Choosing a model: hard constraints first, then a weighted score by strategy.

The score weighs cost, quality and speed by the department's strategy and is then
scaled by the provider's recent success rate, so a flaky provider sinks in the ranking
before its circuit breaker has to open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.budget import Strategy
from domain.catalogue import Catalogue, ModelRequirements, ModelSpec
from domain.generation import Quality, Size

# (cost, quality, speed) weights per strategy.
WEIGHTS: dict[Strategy, tuple[Decimal, Decimal, Decimal]] = {
    Strategy.COST: (Decimal("0.5"), Decimal("0.3"), Decimal("0.2")),
    Strategy.QUALITY: (Decimal("0.2"), Decimal("0.6"), Decimal("0.2")),
    Strategy.BALANCED: (Decimal(1) / 3, Decimal(1) / 3, Decimal(1) / 3),
}


ANYWHERE = ModelRequirements(commercial_use=False)  # no constraint at all


@dataclass(frozen=True, slots=True)
class Eligibility:
    """What a model must pass to serve a request, besides serving its size and quality:
    an enabled provider, no retirement by `today`, being the model asked for (if one
    was) and the department's requirements."""

    enabled_providers: frozenset[str]
    today: date
    requested_model: str | None = None
    requirements: ModelRequirements = ANYWHERE


@dataclass(frozen=True, slots=True)
class Candidate:
    model: ModelSpec
    price: Decimal
    score: Decimal


def rank_models(
    catalogue: Catalogue,
    eligibility: Eligibility,
    *,
    size: Size,
    quality: Quality,
    strategy: Strategy,
    success_rates: Mapping[str, Decimal] | None = None,
) -> list[Candidate]:
    """Eligible models, best first. Empty when nothing can serve the request
    (`exclusions` then says why).

    `success_rates` maps a provider to its recent success rate (1 when unknown).
    """
    eligible: list[tuple[ModelSpec, Decimal]] = []
    for model in catalogue.models:
        price = model.price(size, quality)
        if price is None or excluded_by(model, eligibility):
            continue
        eligible.append((model, price))
    if not eligible:
        return []
    cheapest = min(price for _, price in eligible)
    w_cost, w_quality, w_speed = WEIGHTS[strategy]
    rates = success_rates or {}
    ranked = [
        Candidate(
            model=model,
            price=price,
            score=(
                w_cost * (cheapest / price if price > 0 else Decimal(1))
                + w_quality * model.quality_score
                + w_speed * model.speed_score
            )
            * rates.get(model.provider, Decimal(1)),
        )
        for model, price in eligible
    ]
    # Ties go to the cheaper model, then the id, so routing is deterministic.
    ranked.sort(key=lambda c: (-c.score, c.price, c.model.id))
    return ranked


def excluded_by(
    model: ModelSpec,
    eligibility: Eligibility,
    *,
    size: Size | None = None,
    quality: Quality | None = None,
) -> str | None:
    """Why `model` may not serve (its rule first: `model`, `size`, `quality`, `provider`,
    `retired`, or a requirement's), or None when it may; a size or quality of None asks
    about any."""
    requested_model = eligibility.requested_model
    if requested_model is not None and model.id != requested_model:
        return f"model: {requested_model} was asked for"
    if size is not None and size not in model.sizes:
        return f"size: serves {', '.join(model.sizes)}"
    if quality is not None and quality not in model.qualities:
        return f"quality: serves {', '.join(model.qualities)}"
    if model.provider not in eligibility.enabled_providers:
        return f"provider: {model.provider} is not enabled"
    if model.is_retired(eligibility.today):
        return f"retired: since {model.retires_on}"
    return eligibility.requirements.unmet_by(model)


def exclusions(
    catalogue: Catalogue,
    eligibility: Eligibility,
    *,
    size: Size | None = None,
    quality: Quality | None = None,
) -> dict[str, list[str]] | None:
    """The models each rule excluded, by rule, when no model of `catalogue` may serve;
    None when one may. Only the first rule a model fails counts, so a rule named here
    is one that, lifted, brings a model closer to serving."""
    excluded: dict[str, list[str]] = {}
    for model in catalogue.models:
        why = excluded_by(model, eligibility, size=size, quality=quality)
        if why is None:
            return None
        excluded.setdefault(why.split(":", 1)[0], []).append(model.id)
    if len(excluded) > 1:  # what excluded the model asked for, not that others were not it
        excluded.pop("model", None)
    return excluded


def describe_exclusions(excluded: Mapping[str, list[str]]) -> str:
    """`exclusions`' answer in a sentence: each rule and the models it excluded."""
    if not excluded:
        return "the catalogue has no models"
    return "; ".join(f"{rule} excluded {', '.join(ids)}" for rule, ids in excluded.items())
