"""The model catalogue: versioned data (catalogue.json), parsed into frozen records."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict

from domain.generation import Quality, Size
from domain.money import AUD


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    provider: str
    display_name: str
    sizes: tuple[Size, ...]
    qualities: tuple[Quality, ...]
    prices_aud: dict[Size, dict[Quality, AUD]]
    quality_score: Decimal
    speed_score: Decimal
    sla_percent: Decimal
    commercial_use: bool
    regions: tuple[str, ...]
    retires_on: date | None

    def price(self, size: Size, quality: Quality) -> Decimal | None:
        return self.prices_aud.get(size, {}).get(quality)

    def is_retired(self, today: date) -> bool:
        return self.retires_on is not None and today >= self.retires_on


class ModelRequirements(BaseModel):
    """What a department demands of every model it pays for: routing's hard constraints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Data residency: the model must run in one of these regions; empty means anywhere.
    regions: tuple[str, ...] = ()
    min_sla_percent: Decimal | None = None
    commercial_use: bool = True  # images used in the business need a commercial licence

    def unmet_by(self, model: ModelSpec) -> str | None:
        """Why `model` may not serve this department, or None when it may."""
        if self.regions and not set(model.regions) & set(self.regions):
            return f"runs in {', '.join(model.regions)}, not in {', '.join(self.regions)}"
        if self.min_sla_percent is not None and model.sla_percent < self.min_sla_percent:
            return f"SLA {model.sla_percent} % is below {self.min_sla_percent} %"
        if self.commercial_use and not model.commercial_use:
            return "no commercial-use licence"
        return None


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    currency: str
    models: tuple[ModelSpec, ...]

    def get(self, model_id: str) -> ModelSpec | None:
        return next((m for m in self.models if m.id == model_id), None)


def parse_catalogue(text: str) -> Catalogue:
    return Catalogue.model_validate(json.loads(text))


@cache
def default_catalogue() -> Catalogue:
    return parse_catalogue(resources.files("domain").joinpath("catalogue.json").read_text("utf-8"))
