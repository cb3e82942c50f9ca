"""The forecast through the service layer, on the platform's clock, on a 25-hour day."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bootstrap import build_platform, projection_runner
from domain.access import Principal, Role
from domain.generation import Status
from services.budgets import BudgetUpdate, list_budgets, read_budget, set_budget
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.settings import Settings

# Halfway through 5 April 2026 in Sydney, the day daylight saving ends (25 hours long).
HALFWAY_THROUGH_THE_LONG_DAY = datetime(2026, 4, 5, 1, 30, tzinfo=UTC)
ADMIN = Principal("ada", frozenset({Role.PLATFORM_ADMIN}), None, None)
REQUESTER = Principal("alice", frozenset({Role.GENERATOR_POWER}), "studio", None)


def test_the_forecast_reads_the_platform_clock_and_counts_sydney_days(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,))
    platform = dataclasses.replace(
        build_platform(settings), clock=lambda: HALFWAY_THROUGH_THE_LONG_DAY
    )
    set_budget(platform, ADMIN, "studio", BudgetUpdate(monthly_limit_aud=Decimal("0.20")))
    request = GenerationRequest(prompt="a cobalt teapot", model="local-studio")
    submitted = submit_generation(platform, REQUESTER, request, None)
    assert advance_generation(platform, submitted.generation_id).status is Status.CHARGED
    projection_runner(settings).run_until_caught_up()

    budget = read_budget(platform, ADMIN, "studio", None)
    assert budget["period"] == "2026-04"
    assert budget["spent_aud"] == "0.0400"
    assert budget["forecast_basis"] == {"elapsed_days": "4.500000", "days_in_month": 30}
    assert budget["forecast_aud"] == "0.2700"  # 0.04 / 4.5 * 30 = 0.2666...
    assert budget["forecast_over_limit"] is True

    listed = list_budgets(platform, ADMIN, None)
    assert listed.period == "2026-04"
    assert [b["forecast_aud"] for b in listed.items] == ["0.2700"]
