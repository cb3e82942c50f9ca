"""Setting a department's budget and reading the budget projections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict

from domain.access import Action, Principal, authorize, covers, list_reach
from domain.budget import BudgetPolicy, BudgetSet, Enforcement, Strategy
from domain.catalogue import ModelRequirements
from domain.forecast import run_rate_forecast
from domain.money import AmountInput, aud_text
from domain.periods import budget_period, is_period
from domain.routing import Eligibility, describe_exclusions, exclusions
from domain.streams import budget_policy_stream, budget_stream, is_department_id
from projections.budget import untouched_month
from services.aggregates import BUDGET_MONTH, BUDGET_POLICY
from services.budget_history import budget_as_of, standing_policy_as_of
from services.budget_reads import standing_policy
from services.commands import Stamp, execute
from services.context import Platform
from services.errors import NotFound


class BudgetUpdate(BaseModel):
    """The body of `PUT /budgets/{department_id}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    monthly_limit_aud: AmountInput
    enforcement: Enforcement = Enforcement.HARD
    strategy: Strategy = Strategy.BALANCED
    # Hard constraints on the models the department's generations may be routed to.
    requirements: ModelRequirements = ModelRequirements()


class RequirementsUnmet(ValueError):
    """Requirements no available model of the catalogue meets; the message names the
    rule that excluded each model."""


class InvalidPeriod(ValueError):
    """A period that is not `YYYY-MM`."""


def set_budget(
    platform: Platform, principal: Principal, department_id: str, update: BudgetUpdate
) -> dict[str, Any]:
    """Record the standing policy and apply it to the current month at once."""
    _known_shape(department_id)
    authorize(principal, Action.BUDGET_WRITE, department_id=department_id)
    # Refused now rather than accepted and then refusing every request of the department.
    excluded = exclusions(
        platform.catalogue,
        Eligibility(
            frozenset(platform.settings.enabled_providers),
            platform.clock().date(),
            requirements=update.requirements,
        ),
    )
    if excluded is not None:
        raise RequirementsUnmet(
            f"no available model meets these requirements: {describe_exclusions(excluded)}"
        )
    policy = BudgetPolicy(
        monthly_limit_aud=update.monthly_limit_aud,
        enforcement=update.enforcement,
        strategy=update.strategy,
        requirements=update.requirements,
    )
    stamp = Stamp(uuid4(), principal.to_actor())
    standing = BudgetSet(department_id=department_id, period=None, policy=policy)
    # Last writer wins, for the standing policy and the month's; the log keeps every change.
    execute(
        platform.repository,
        BUDGET_POLICY,
        budget_policy_stream(department_id),
        lambda _: [standing],
        stamp,
    )
    period = budget_period(platform.clock())
    month = BudgetSet(department_id=department_id, period=period, policy=policy)
    execute(
        platform.repository,
        BUDGET_MONTH,
        budget_stream(department_id, period),
        lambda _: [month],
        stamp,
    )
    return {"department_id": department_id, "period": period, **policy.model_dump(mode="json")}


def read_budget(
    platform: Platform,
    principal: Principal,
    department_id: str,
    period: str | None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    _known_shape(department_id)
    authorize(principal, Action.BUDGET_READ, department_id=department_id)
    if as_of is not None:
        return _read_budget_as_of(platform, department_id, period, as_of)
    period = _period(platform, period)
    view = platform.views.get("budget", f"{department_id}:{period}")
    if view is None:
        policy = standing_policy(
            platform.repository, department_id, platform.settings.default_policy
        )
        view = untouched_month(department_id, period, policy)
    return with_forecast(view, platform.clock())


def _read_budget_as_of(
    platform: Platform, department_id: str, period: str | None, as_of: datetime
) -> dict[str, Any]:
    """The month as the log stood at `as_of`; the month defaults to the one containing it."""
    period = budget_period(as_of) if period is None else _period(platform, period)
    view = budget_as_of(platform, department_id, period, as_of)
    if view is None:
        policy = standing_policy_as_of(platform, department_id, as_of)
        view = untouched_month(department_id, period, policy)
    return {**with_forecast(view, as_of), "as_of": as_of.isoformat()}


@dataclass(frozen=True, slots=True)
class BudgetList:
    """The budgets of one month that the caller may see, by department id."""

    period: str
    items: list[dict[str, Any]]


def list_budgets(platform: Platform, principal: Principal, period: str | None) -> BudgetList:
    reached = list_reach(principal, Action.BUDGET_LIST)
    period = _period(platform, period)
    budgets = [
        b
        for b in platform.views.list("budget", partition=period)
        if covers(reached, department_id=b["department_id"], owner_id=None)
    ]
    now = platform.clock()
    budgets.sort(key=lambda b: str(b["department_id"]))
    return BudgetList(period, [with_forecast(b, now) for b in budgets])


def with_forecast(budget: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The budget with its run-rate forecast to month end, and the basis it rests on."""
    limit = budget["limit_aud"]
    forecast = run_rate_forecast(
        Decimal(budget["spent_aud"]),
        None if limit is None else Decimal(limit),
        budget["period"],
        now,
    )
    return {
        **budget,
        "forecast_aud": aud_text(forecast.forecast_aud),
        "forecast_basis": {
            "elapsed_days": format(forecast.elapsed_days, "f"),
            "days_in_month": forecast.days_in_month,
        },
        "forecast_over_limit": forecast.over_limit,
    }


def _period(platform: Platform, period: str | None) -> str:
    if period is None:
        return budget_period(platform.clock())
    if not is_period(period):
        raise InvalidPeriod(f"period must be YYYY-MM, got {period!r}")
    return period


def _known_shape(department_id: str) -> None:
    if not is_department_id(department_id):
        raise NotFound(f"no department {department_id!r}")
