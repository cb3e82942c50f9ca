"""The model catalogue: versioned data (catalogue.json), parsed into frozen records.

AUD prices are derived from each provider's published USD list price at the catalogue's
one stated exchange rate, rounded half-up to a hundredth of a cent; the list prices sit
beside them, so the derivation is checked whenever the catalogue is loaded. A model
with no list price (the local renderers, a self-hosted server, a contract-priced
provider) says in `notes` where its price comes from.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, model_validator

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
    list_prices_usd: dict[Size, dict[Quality, Decimal]] | None = None
    notes: str | None = None
    # The provider's own name for the model where apps call it by that name through the
    # OpenAI images API (`gpt-image-1`, `dall-e-3`); the drop-in face maps it back.
    openai_name: str | None = None

    @model_validator(mode="after")
    def _priced_exactly_as_offered(self) -> ModelSpec:
        offered = {(size, quality) for size in self.sizes for quality in self.qualities}
        priced = {(size, quality) for size, row in self.prices_aud.items() for quality in row}
        if offered != priced:
            raise ValueError(f"{self.id}: prices_aud must price exactly its sizes x qualities")
        if self.list_prices_usd is None and not self.notes:
            raise ValueError(f"{self.id}: a model without list prices needs notes saying why")
        return self

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
        """Why `model` may not serve this department, starting with the rule it fails
        (`residency`, `sla` or `licence`), or None when it may."""
        if self.regions and not set(model.regions) & set(self.regions):
            where, wanted = ", ".join(model.regions), ", ".join(self.regions)
            return f"residency: runs in {where}, not in {wanted}"
        if self.min_sla_percent is not None and model.sla_percent < self.min_sla_percent:
            return f"sla: {model.sla_percent} % is below {self.min_sla_percent} %"
        if self.commercial_use and not model.commercial_use:
            return "licence: no commercial-use licence"
        return None


class FxRate(BaseModel):
    """The rate USD list prices are converted at, and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    aud_per_usd: Decimal
    as_of: date
    source: str

    def to_aud(self, usd: Decimal) -> Decimal:
        return (usd * self.aud_per_usd).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    currency: str
    fx: FxRate
    models: tuple[ModelSpec, ...]

    @model_validator(mode="after")
    def _aud_prices_follow_the_list_prices(self) -> Catalogue:
        for model in self.models:
            if model.list_prices_usd is None:
                continue
            derived = {
                size: {quality: self.fx.to_aud(usd) for quality, usd in row.items()}
                for size, row in model.list_prices_usd.items()
            }
            if derived != model.prices_aud:
                raise ValueError(
                    f"{model.id}: prices_aud must be list_prices_usd at {self.fx.aud_per_usd} "
                    f"AUD per USD, i.e. {derived}"
                )
        return self

    @model_validator(mode="after")
    def _openai_names_name_one_model(self) -> Catalogue:
        names = [m.openai_name for m in self.models if m.openai_name]
        if len(names) != len(set(names)):
            raise ValueError(f"an openai_name may name one model only: {sorted(names)}")
        return self

    def get(self, model_id: str) -> ModelSpec | None:
        return next((m for m in self.models if m.id == model_id), None)

    def by_openai_name(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.openai_name == name), None)


def parse_catalogue(text: str) -> Catalogue:
    return Catalogue.model_validate(json.loads(text))


@cache
def default_catalogue() -> Catalogue:
    return parse_catalogue(resources.files("domain").joinpath("catalogue.json").read_text("utf-8"))
