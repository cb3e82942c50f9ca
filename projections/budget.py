"""Budget views: one per department-month, and the standing policy per department.

`budget` (key `{department_id}:{period}`) folds a month's `budget-{dept}-{YYYY-MM}`
stream: the policy recorded for that month, what is reserved and spent, and where the
spend went (per model, per user, per Sydney day). `budget_policy` (key
`{department_id}`) folds the `budget-policy-{dept}` stream, whose `BudgetSet` events
carry no period. They are two projections rather than two kinds of key in one, so that
listing the months of a period never has to step around policy documents.

Each key is fed by exactly one stream, so a document's `version` is the version of the
last event folded into it, and an event at or below it is a redelivery to skip.
Money is stored as Decimal strings and summed exactly, as Decimal while a batch folds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from domain.budget import (
    BudgetPolicy,
    BudgetSet,
    BudgetThresholdCrossed,
    CostCharged,
    CostReserved,
    ReservationReleased,
)
from domain.periods import BUDGET_TIMEZONE
from projections.base import ApplyingEach, Fact, Projection, View, stamp

NAME = "budget"
POLICY_NAME = "budget_policy"

Data = dict[str, Any]


def keys(event: Fact) -> tuple[str, ...]:
    if event.type in _HANDLERS and (period := event.data.get("period")) is not None:
        return (f"{event.data['department_id']}:{period}",)
    return ()


def apply(view: View | None, event: Fact) -> View:
    if view is not None and event.version <= view["version"]:
        return view  # redelivered: already folded in
    draft = _thaw(view, event)
    _fold_into(draft, event)
    return _freeze(draft)


def fold(views: Mapping[str, View], touched: Sequence[tuple[str, Fact]]) -> dict[str, View]:
    """`apply` over a batch: each month's money is summed as Decimal and written once."""
    drafts: dict[str, View] = {}
    for key, event in touched:
        draft = drafts.get(key)
        if draft is None:
            view = views.get(key)
            if view is not None and event.version <= view["version"]:
                continue
            draft = drafts[key] = _thaw(view, event)
        elif event.version <= draft["version"]:
            continue
        _fold_into(draft, event)
    return {key: _freeze(draft) for key, draft in drafts.items()}


def _fold_into(draft: View, event: Fact) -> None:
    handler = _HANDLERS.get(event.type)
    if handler is None:
        raise ValueError(f"{NAME} does not handle {event.type} events")
    at = stamp(event)
    handler(draft, event.data, at)
    draft["updated_at"] = at
    draft["version"] = event.version


# A draft is a document being folded: its money (totals and breakdowns) held as Decimal,
# and `remaining_aud` and `overrun` left stale until `_freeze` derives them.


def _thaw(view: View | None, event: Fact) -> View:
    data = event.data
    doc = _blank(data["department_id"], data["period"]) if view is None else view
    return {
        **doc,
        "spent_aud": Decimal(doc["spent_aud"]),
        "reserved_aud": Decimal(doc["reserved_aud"]),
        "by_model": _decimals(doc["by_model"]),
        "by_user": _decimals(doc["by_user"]),
        "by_day": _decimals(doc["by_day"]),
        "thresholds_crossed": list(doc["thresholds_crossed"]),
    }


def _freeze(draft: View) -> View:
    spent: Decimal = draft["spent_aud"]
    reserved: Decimal = draft["reserved_aud"]
    limit = draft["limit_aud"]
    remaining = None if limit is None else Decimal(limit) - spent - reserved
    return {
        **draft,
        "spent_aud": _money(spent),
        "reserved_aud": _money(reserved),
        "remaining_aud": None if remaining is None else _money(remaining),
        # Soft and warn months may commit more than the limit; this says they currently do.
        "overrun": remaining is not None and remaining < 0,
        "by_model": _monies(draft["by_model"]),
        "by_user": _monies(draft["by_user"]),
        "by_day": _monies(draft["by_day"]),
    }


def _decimals(breakdown: dict[str, str]) -> dict[str, Decimal]:
    return {key: Decimal(amount) for key, amount in breakdown.items()}


def _monies(breakdown: dict[str, Decimal]) -> dict[str, str]:
    return {key: _money(amount) for key, amount in breakdown.items()}


def untouched_month(department_id: str, period: str, policy: BudgetPolicy | None) -> View:
    """A month with nothing reserved or charged, under `policy` (None: not known yet):
    what a month whose stream has not started reads as."""
    limit = None if policy is None else _money(policy.monthly_limit_aud)
    return {
        "department_id": department_id,
        "period": period,
        "limit_aud": limit,
        "enforcement": None if policy is None else policy.enforcement.value,
        "strategy": None if policy is None else policy.strategy.value,
        "spent_aud": "0",
        "reserved_aud": "0",
        "remaining_aud": limit,
        "charged_count": 0,
        "overrun": False,
        "by_model": {},
        "by_user": {},
        "by_day": {},
        "thresholds_crossed": [],
    }


def _blank(department_id: str, period: str) -> View:
    # Only reached if a month's stream did not start with its BudgetSet; the limit is
    # then unknown until one arrives.
    return {**untouched_month(department_id, period, None), "updated_at": None, "version": 0}


def _money(amount: Decimal) -> str:
    return format(amount, "f")  # never exponent notation


def _add(breakdown: dict[str, Decimal], key: str, amount: Decimal) -> None:
    previous = breakdown.get(key)
    breakdown[key] = amount if previous is None else previous + amount


def _budget_set(draft: View, data: Data, at: str) -> None:
    policy = data["policy"]
    draft["limit_aud"] = policy["monthly_limit_aud"]
    draft["enforcement"] = policy["enforcement"]
    draft["strategy"] = policy["strategy"]


def _reserved(draft: View, data: Data, at: str) -> None:
    draft["reserved_aud"] += Decimal(data["amount_aud"])


def _released(draft: View, data: Data, at: str) -> None:
    draft["reserved_aud"] -= Decimal(data["amount_aud"])


def _charged(draft: View, data: Data, at: str) -> None:
    amount = Decimal(data["amount_aud"])
    # The charge settles the whole reservation it was made against.
    draft["reserved_aud"] -= Decimal(data["reserved_aud"])
    draft["spent_aud"] += amount
    draft["charged_count"] += 1
    _add(draft["by_model"], data["model_id"], amount)
    _add(draft["by_user"], data["user_id"], amount)
    _add(draft["by_day"], _budget_day(at[:16]), amount)


def _threshold_crossed(draft: View, data: Data, at: str) -> None:
    percent = data["threshold_percent"]
    crossed = draft["thresholds_crossed"]
    if percent not in crossed:
        crossed.append(percent)
        crossed.sort()


@lru_cache(maxsize=4096)
def _budget_day(utc_minute: str) -> str:
    """The Sydney date at a UTC minute (`YYYY-MM-DDTHH:MM`).

    Sydney's offset only changes on the hour, so the minute decides the day; charges
    come many to a minute, and converting each one's time was a fifth of its cost.
    """
    moment = datetime.fromisoformat(f"{utc_minute}+00:00")
    return moment.astimezone(BUDGET_TIMEZONE).date().isoformat()


_HANDLERS: dict[str, Callable[[View, Data, str], None]] = {
    BudgetSet.TYPE: _budget_set,
    CostReserved.TYPE: _reserved,
    ReservationReleased.TYPE: _released,
    CostCharged.TYPE: _charged,
    BudgetThresholdCrossed.TYPE: _threshold_crossed,
}


def policy_keys(event: Fact) -> tuple[str, ...]:
    if event.type == BudgetSet.TYPE and event.data.get("period") is None:
        return (event.data["department_id"],)
    return ()


def apply_policy(view: View | None, event: Fact) -> View:
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
        "requirements": policy.get("requirements"),
        "set_by": event.actor.user_id,
        "updated_at": stamp(event),
        "version": event.version,
    }


PROJECTION = Projection(
    name=NAME,
    keys=keys,
    apply=apply,
    partition_field="period",
    fold=fold,
    types=frozenset(_HANDLERS),
    keyed_by_stream=True,  # `budget-{dept}-{YYYY-MM}` feeds `{dept}:{YYYY-MM}`
)
POLICY_PROJECTION = Projection(
    name=POLICY_NAME,
    keys=policy_keys,
    apply=apply_policy,
    # Each policy document is replaced whole by its latest BudgetSet: nothing to batch.
    fold=ApplyingEach(apply_policy),
    types=frozenset({BudgetSet.TYPE}),
    keyed_by_stream=True,  # `budget-policy-{dept}` feeds `{dept}`
)
