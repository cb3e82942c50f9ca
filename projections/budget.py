"""Budget views: one per department-month, and the standing policy per department.

`budget` (key `{department_id}:{period}`) folds a month's `budget-{dept}-{YYYY-MM}`
stream: the policy recorded for that month, what is reserved and spent, and where the
spend went (per model, per user, per Sydney day). `budget_policy` (key
`{department_id}`) folds the `budget-policy-{dept}` stream, whose `BudgetSet` events
carry no period. They are two projections rather than two kinds of key in one, so that
listing the months of a period never has to step around policy documents.

Each key is fed by exactly one stream, so a document's `version` is the version of the
last event folded into it, and an event at or below it is a redelivery to skip.
Money is carried as Decimal strings and summed exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from domain.budget import (
    BudgetSet,
    BudgetThresholdCrossed,
    CostCharged,
    CostReserved,
    ReservationReleased,
)
from domain.envelope import Event
from domain.periods import BUDGET_TIMEZONE
from projections.base import Projection, View, timestamp

NAME = "budget"
POLICY_NAME = "budget_policy"

Data = dict[str, Any]


def keys(event: Event) -> tuple[str, ...]:
    if event.type in _HANDLERS and (period := event.data.get("period")) is not None:
        return (f"{event.data['department_id']}:{period}",)
    return ()


def apply(view: View | None, event: Event) -> View:
    if view is not None and event.version <= view["version"]:
        return view  # redelivered: already folded in
    handler = _HANDLERS.get(event.type)
    if handler is None:
        raise ValueError(f"{NAME} does not handle {event.type} events")
    data = event.data
    doc = _blank(data["department_id"], data["period"]) if view is None else dict(view)
    handler(doc, event)
    doc["updated_at"] = timestamp(event.recorded_at)
    doc["version"] = event.version
    return doc


def _blank(department_id: str, period: str) -> View:
    # Only reached if a month's stream did not start with its BudgetSet; the limit is
    # then unknown until one arrives.
    return {
        "department_id": department_id,
        "period": period,
        "limit_aud": None,
        "enforcement": None,
        "strategy": None,
        "spent_aud": "0",
        "reserved_aud": "0",
        "remaining_aud": None,
        "charged_count": 0,
        "overrun": False,
        "by_model": {},
        "by_user": {},
        "by_day": {},
        "thresholds_crossed": [],
        "updated_at": None,
        "version": 0,
    }


def _money(amount: Decimal) -> str:
    return format(amount, "f")  # never exponent notation


def _settle(doc: View, spent: Decimal, reserved: Decimal) -> None:
    """Store spent and reserved and what follows from them and the limit."""
    doc["spent_aud"] = _money(spent)
    doc["reserved_aud"] = _money(reserved)
    limit = doc["limit_aud"]
    if limit is None:
        doc["remaining_aud"] = None
        doc["overrun"] = False
        return
    remaining = Decimal(limit) - spent - reserved
    doc["remaining_aud"] = _money(remaining)
    # Soft and warn months may commit more than the limit; this says they currently do.
    doc["overrun"] = remaining < 0


def _add(breakdown: dict[str, str], key: str, amount: Decimal) -> dict[str, str]:
    previous = breakdown.get(key)
    total = amount if previous is None else Decimal(previous) + amount
    return {**breakdown, key: _money(total)}


def _budget_set(doc: View, event: Event) -> None:
    policy = event.data["policy"]
    doc["limit_aud"] = policy["monthly_limit_aud"]
    doc["enforcement"] = policy["enforcement"]
    doc["strategy"] = policy["strategy"]
    _settle(doc, Decimal(doc["spent_aud"]), Decimal(doc["reserved_aud"]))


def _reserved(doc: View, event: Event) -> None:
    amount = Decimal(event.data["amount_aud"])
    _settle(doc, Decimal(doc["spent_aud"]), Decimal(doc["reserved_aud"]) + amount)


def _released(doc: View, event: Event) -> None:
    amount = Decimal(event.data["amount_aud"])
    _settle(doc, Decimal(doc["spent_aud"]), Decimal(doc["reserved_aud"]) - amount)


def _charged(doc: View, event: Event) -> None:
    data = event.data
    amount = Decimal(data["amount_aud"])
    # The charge settles the whole reservation it was made against.
    reserved = Decimal(doc["reserved_aud"]) - Decimal(data["reserved_aud"])
    _settle(doc, Decimal(doc["spent_aud"]) + amount, reserved)
    doc["charged_count"] += 1
    doc["by_model"] = _add(doc["by_model"], data["model_id"], amount)
    doc["by_user"] = _add(doc["by_user"], data["user_id"], amount)
    day = event.recorded_at.astimezone(BUDGET_TIMEZONE).date().isoformat()
    doc["by_day"] = _add(doc["by_day"], day, amount)


def _threshold_crossed(doc: View, event: Event) -> None:
    percent = event.data["threshold_percent"]
    if percent not in doc["thresholds_crossed"]:
        doc["thresholds_crossed"] = sorted([*doc["thresholds_crossed"], percent])


_HANDLERS: dict[str, Callable[[View, Event], None]] = {
    BudgetSet.TYPE: _budget_set,
    CostReserved.TYPE: _reserved,
    ReservationReleased.TYPE: _released,
    CostCharged.TYPE: _charged,
    BudgetThresholdCrossed.TYPE: _threshold_crossed,
}


def policy_keys(event: Event) -> tuple[str, ...]:
    if event.type == BudgetSet.TYPE and event.data.get("period") is None:
        return (event.data["department_id"],)
    return ()


def apply_policy(view: View | None, event: Event) -> View:
    if view is not None and event.version <= view["version"]:
        return view
    if event.type != BudgetSet.TYPE:
        raise ValueError(f"{POLICY_NAME} does not handle {event.type} events")
    policy = event.data["policy"]
    return {
        "department_id": event.data["department_id"],
        "limit_aud": policy["monthly_limit_aud"],
        "enforcement": policy["enforcement"],
        "strategy": policy["strategy"],
        "set_by": event.actor.user_id,
        "updated_at": timestamp(event.recorded_at),
        "version": event.version,
    }


PROJECTION = Projection(name=NAME, keys=keys, apply=apply, partition_field="period")
POLICY_PROJECTION = Projection(name=POLICY_NAME, keys=policy_keys, apply=apply_policy)
