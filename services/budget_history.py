"""A department's budget month as the log stood at an instant (`GET /budgets/{id}?as_of=`).

The month's `budget-{dept}-{YYYY-MM}` stream is read and its events recorded at or
before the instant are folded with the budget projection's own `apply`, so the answer
has the live view's shape and arithmetic. A month with nothing recorded by then reads
as empty under the standing policy recorded by then (else the default), as the live
route does. An instant after the platform's clock is refused: the log does not know
that moment yet.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import takewhile

from domain.budget import BudgetPolicy, BudgetSet
from domain.envelope import Event
from domain.periods import budget_period
from domain.streams import budget_policy_stream, budget_stream
from projections import budget
from projections.base import View
from services.context import Platform

# `+` in a query string decodes to a space when the client did not percent-encode it.
_SPACED_OFFSET = re.compile(r" (\d\d:?\d\d)$")


class InvalidInstant(ValueError):
    """An `as_of` that is not an ISO 8601 time with an offset, or is in the future."""


def parse_instant(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset (or `Z`); naive times are ambiguous."""
    try:
        moment = datetime.fromisoformat(_SPACED_OFFSET.sub(r"+\1", text.strip()))
    except ValueError:
        raise InvalidInstant(f"as_of must be an ISO 8601 time, got {text!r}") from None
    if moment.utcoffset() is None:
        raise InvalidInstant("as_of needs a UTC offset, such as Z or +11:00")
    try:
        # Months are Sydney's: an instant at the very edge of the calendar has no month.
        budget_period(moment)
    except OverflowError:
        raise InvalidInstant(f"as_of {text!r} is out of range") from None
    return moment


def budget_as_of(
    platform: Platform, department_id: str, period: str, as_of: datetime
) -> View | None:
    """The month's budget view folded up to `as_of` (inclusive); None if nothing yet."""
    if as_of > platform.clock():
        raise InvalidInstant(f"as_of {as_of.isoformat()} is in the future")
    view: View | None = None
    for event in _recorded_by(platform, budget_stream(department_id, period), as_of):
        view = budget.apply(view, event)
    return view


def standing_policy_as_of(platform: Platform, department_id: str, as_of: datetime) -> BudgetPolicy:
    recorded = _recorded_by(platform, budget_policy_stream(department_id), as_of)
    if not recorded:
        return platform.settings.default_policy
    return BudgetSet.model_validate(recorded[-1].data).policy


def _recorded_by(platform: Platform, stream_id: str, as_of: datetime) -> list[Event]:
    # The stream's prefix: version n + 1 cannot have been known before version n was.
    return list(takewhile(lambda e: e.recorded_at <= as_of, platform.store.read_stream(stream_id)))
