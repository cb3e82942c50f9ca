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
class Candidate:
    model: ModelSpec
    price: Decimal
    score: Decimal


def rank_models(
    catalogue: Catalogue,
    *,
    size: Size,
    quality: Quality,
    strategy: Strategy,
    enabled_providers: frozenset[str],
    today: date,
    requested_model: str | None = None,
    requirements: ModelRequirements = ANYWHERE,
    success_rates: Mapping[str, Decimal] | None = None,
) -> list[Candidate]:
    """Eligible models, best first. Empty when nothing can serve the request.

    `success_rates` maps a provider to its recent success rate (1 when unknown).
    """
    eligible: list[tuple[ModelSpec, Decimal]] = []
    for model in catalogue.models:
        price = model.price(size, quality)
        if (
            price is None
            or model.provider not in enabled_providers
            or model.is_retired(today)
            or (requested_model is not None and model.id != requested_model)
            or requirements.unmet_by(model) is not None
        ):
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
