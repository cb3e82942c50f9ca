"""The run-rate forecast: Sydney days, daylight saving, and months that are over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.forecast import run_rate_forecast
from domain.periods import BUDGET_TIMEZONE

LIMIT = Decimal("500.00")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_three_hours_into_a_month_extrapolates_an_eighth_of_a_day() -> None:
    # November 2026 starts at 00:00 AEDT (+11), 13:00 UTC on 31 October.
    now = utc(2026, 10, 31, 16, 0)
    forecast = run_rate_forecast(Decimal("1.00"), LIMIT, "2026-11", now)
    assert forecast.elapsed_days == Decimal("0.125")
    assert forecast.days_in_month == 30
    assert forecast.forecast_aud == Decimal("240.00")
    assert forecast.over_limit is False

    busy = run_rate_forecast(Decimal("2.50"), LIMIT, "2026-11", now)
    assert busy.forecast_aud == Decimal("600.00")
    assert busy.over_limit is True


def test_the_25_hour_day_when_daylight_saving_ends_counts_as_one_day() -> None:
    # 5 April 2026 runs from 13:00 UTC on the 4th (+11) to 14:00 UTC on the 5th (+10).
    halfway = utc(2026, 4, 4, 13, 0) + timedelta(hours=12.5)
    forecast = run_rate_forecast(Decimal("45.00"), LIMIT, "2026-04", halfway)
    # Real hours over 24 would say 4.5208 days and forecast 298.62.
    assert forecast.elapsed_days == Decimal("4.5")
    assert forecast.days_in_month == 30
    assert forecast.forecast_aud == Decimal("300.00")


def test_the_23_hour_day_when_daylight_saving_starts_counts_as_one_day() -> None:
    # 4 October 2026 runs from 14:00 UTC on the 3rd (+10) to 13:00 UTC on the 4th (+11).
    halfway = utc(2026, 10, 3, 14, 0) + timedelta(hours=11.5)
    forecast = run_rate_forecast(Decimal("7.00"), LIMIT, "2026-10", halfway)
    assert forecast.elapsed_days == Decimal("3.5")
    assert forecast.days_in_month == 31
    assert forecast.forecast_aud == Decimal("62.00")


def test_the_instant_does_not_depend_on_the_zone_it_is_given_in() -> None:
    halfway = utc(2026, 4, 4, 13, 0) + timedelta(hours=12.5)
    in_sydney = halfway.astimezone(BUDGET_TIMEZONE)
    assert run_rate_forecast(Decimal("45.00"), LIMIT, "2026-04", in_sydney) == run_rate_forecast(
        Decimal("45.00"), LIMIT, "2026-04", halfway
    )


def test_the_last_instant_of_a_month_has_almost_all_its_days_and_the_next_all() -> None:
    # April ends at midnight AEST (+10): 14:00 UTC on 30 April.
    last_second = run_rate_forecast(
        Decimal("30.00"), LIMIT, "2026-04", utc(2026, 4, 30, 13, 59, 59)
    )
    assert last_second.elapsed_days == Decimal("29.999988")
    assert last_second.forecast_aud == Decimal("30.00")
    over = run_rate_forecast(Decimal("30.00"), LIMIT, "2026-04", utc(2026, 4, 30, 14, 0))
    assert over.elapsed_days == 30


def test_a_past_month_forecasts_what_it_spent() -> None:
    forecast = run_rate_forecast(Decimal("612.3456"), LIMIT, "2026-10", utc(2026, 11, 20))
    assert forecast.elapsed_days == 31
    assert forecast.forecast_aud == Decimal("612.35")
    assert forecast.over_limit is True


def test_a_month_already_over_its_limit_forecasts_further_over() -> None:
    # Ten days into November (+11), 550 of 500 spent.
    forecast = run_rate_forecast(Decimal("550.00"), LIMIT, "2026-11", utc(2026, 11, 10, 13, 0))
    assert forecast.elapsed_days == 10
    assert forecast.forecast_aud == Decimal("1650.00")
    assert forecast.over_limit is True


def test_a_month_not_begun_or_begun_this_instant_has_no_rate() -> None:
    future = run_rate_forecast(Decimal("0"), LIMIT, "2026-12", utc(2026, 11, 20))
    assert future.elapsed_days == 0
    assert future.forecast_aud == 0
    assert future.over_limit is False
    start = run_rate_forecast(Decimal("0.01"), LIMIT, "2026-11", utc(2026, 10, 31, 13, 0))
    assert start.elapsed_days == 0
    assert start.forecast_aud == Decimal("0.01")


def test_the_forecast_is_in_cents_and_the_limit_may_be_unknown() -> None:
    forecast = run_rate_forecast(Decimal("0.0100"), None, "2026-11", utc(2026, 11, 7, 13, 0))
    assert forecast.elapsed_days == 7
    assert forecast.forecast_aud == Decimal("0.04")  # 0.0428...
    assert forecast.forecast_aud.as_tuple().exponent == -2
    assert forecast.over_limit is None


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        run_rate_forecast(Decimal("1"), LIMIT, "2026-11", datetime(2026, 11, 5))
