"""The model catalogue as `GET /models` shows it: prices, capabilities and circuit state."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.provider_health import ProviderHealth
from services.context import Platform
from services.provider_health import current_health

_RATE = Decimal("0.001")


def list_models(platform: Platform) -> dict[str, Any]:
    now = platform.clock()
    enabled = set(platform.settings.enabled_providers)
    health = {provider: current_health(platform, provider).state for provider in enabled}
    return {
        "catalogue_version": platform.catalogue.version,
        "currency": platform.catalogue.currency,
        "models": [
            {
                **model.model_dump(mode="json"),
                "available": model.provider in health and not model.is_retired(now.date()),
                # One breaker per provider guards every model the provider serves.
                "circuit": _circuit(health[model.provider], now)
                if model.provider in health
                else None,
            }
            for model in platform.catalogue.models
        ],
    }


def _circuit(health: ProviderHealth, now: datetime) -> dict[str, Any]:
    return {
        "state": health.circuit(now).value,
        "success_rate": str(health.success_rate(now).quantize(_RATE)),
        "consecutive_failures": health.consecutive_failures,
        "opened_at": None if health.opened_at is None else health.opened_at.isoformat(),
    }
