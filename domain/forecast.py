"""The run-rate forecast of a department's spend to the end of its Sydney month.

Spend so far divided by the Sydney days elapsed, times the days in the month. A day is
a Sydney calendar day however long the clocks make it (23 hours when daylight saving
starts in October, 25 when it ends in April), so the elapsed days reach exactly the
days in the month at its last instant and a forecast never drifts with the clocks.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from domain.money import ZERO
from domain.periods import BUDGET_TIMEZONE

CENT = Decimal("0.01")
# Fine enough that a reader recomputing from the stated basis gets the same cents.
ELAPSED_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Forecast:
    forecast_aud: Decimal  # to the cent
    elapsed_days: Decimal  # Sydney days of the month gone, to ELAPSED_QUANTUM
    days_in_month: int
    over_limit: bool | None  # None while the month's limit is unknown


def run_rate_forecast(
    spent_aud: Decimal, limit_aud: Decimal | None, period: str, now: datetime
) -> Forecast:
    """Forecast the month `period` (`YYYY-MM`) as it stands at the aware instant `now`.

    A month that is over forecasts what it spent; one not yet begun, or begun this very
    instant, has no rate to extrapolate and forecasts what it has (normally nothing).
    """
    if now.tzinfo is None:
        raise ValueError("run_rate_forecast needs an aware datetime")
    year, month = (int(part) for part in period.split("-"))
    days_in_month = monthrange(year, month)[1]
    elapsed = _elapsed_days(year, month, days_in_month, now)
    running = ZERO < elapsed < days_in_month
    forecast = (spent_aud / elapsed * days_in_month if running else spent_aud).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
    return Forecast(
        forecast_aud=forecast,
        elapsed_days=elapsed,
        days_in_month=days_in_month,
        over_limit=None if limit_aud is None else forecast > limit_aud,
    )


def _elapsed_days(year: int, month: int, days_in_month: int, now: datetime) -> Decimal:
    local = now.astimezone(BUDGET_TIMEZONE)
    if (local.year, local.month) < (year, month):
        return ZERO
    if (local.year, local.month) > (year, month):
        return Decimal(days_in_month)
    day_start = _sydney_midnight(local.date())
    day_end = _sydney_midnight(local.date() + timedelta(days=1))
    gone = _seconds(now.astimezone(UTC) - day_start) / _seconds(day_end - day_start)
    return (Decimal(local.day - 1) + gone).quantize(ELAPSED_QUANTUM, rounding=ROUND_HALF_UP)


def _sydney_midnight(day: date) -> datetime:
    # In UTC, because subtracting two datetimes of one zone counts wall-clock time and
    # would make every day 24 hours long. Sydney changes its clocks at 02:00/03:00, so
    # midnight always exists and is unique.
    return datetime.combine(day, time(0), tzinfo=BUDGET_TIMEZONE).astimezone(UTC)


def _seconds(span: timedelta) -> Decimal:
    return Decimal(span.days * 86_400 + span.seconds) + Decimal(span.microseconds) / 1_000_000
