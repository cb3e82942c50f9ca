"""The daily image quota of one user, and the decider that guards it.

A quota day is a calendar day in Australia/Sydney, the timezone budget months are kept
in, so "today" means the same to a requester, their manager and finance. Sydney midnight
always exists (its clocks change at 02:00 and 03:00), but the day it starts is 23 or 25
hours long when the clocks change, so the reset time is computed in Sydney time, never
by adding 24 hours.

The counter is the user's stream for that day: one `QuotaConsumed` per accepted request,
keyed by generation id, so a replayed request finds its own unit and takes no second one.
Every decision is appended at the version it was made on, so requests racing for the
last unit cannot both get it. A generation that is later rejected or fails keeps its
unit: the quota limits requests, and a refund would let a requester retry a rejected
prompt without end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import ClassVar
from uuid import UUID

from domain.access import Role
from domain.envelope import Event
from domain.generation import Payload
from domain.periods import BUDGET_TIMEZONE

QUOTA_TIMEZONE = BUDGET_TIMEZONE

# Roles add up, so the most generous one decides, as the widest scope does for access.
# Admins are unlimited because they set the limit and can lift it anyway. Dept.Manager
# grants no generation rights, so a manager who also holds Generator.Standard generates
# under the standard quota.
UNLIMITED_ROLES = frozenset({Role.GENERATOR_POWER, Role.PLATFORM_ADMIN, Role.ORG_ADMIN})


def daily_limit(roles: Iterable[Role], standard_limit: int) -> int | None:
    """The images a holder of `roles` may request per quota day; None means no limit."""
    return None if UNLIMITED_ROLES.intersection(roles) else standard_limit


def quota_day(moment: datetime) -> date:
    """The Sydney calendar day that contains the (aware) instant `moment`."""
    if moment.tzinfo is None:
        raise ValueError("quota_day needs an aware datetime")
    return moment.astimezone(QUOTA_TIMEZONE).date()


def day_start(day: date) -> datetime:
    """The instant (UTC) at which the Sydney day `day` begins."""
    return datetime.combine(day, time(), tzinfo=QUOTA_TIMEZONE).astimezone(UTC)


def resets_at(day: date) -> datetime:
    """When the quota of `day` is replaced by a fresh one: the next Sydney midnight."""
    return day_start(day + timedelta(days=1))


class QuotaConsumed(Payload):
    TYPE: ClassVar[str] = "QuotaConsumed"

    user_id: str
    day: date
    generation_id: UUID
    limit: int  # the limit in force when the unit was taken, for the audit trail


@dataclass(frozen=True, slots=True)
class DailyQuota:
    """What one user has consumed on one quota day."""

    version: int = 0
    consumed: frozenset[UUID] = frozenset()

    @property
    def used(self) -> int:
        return len(self.consumed)


def evolve(state: DailyQuota, event: Event) -> DailyQuota:
    consumed = QuotaConsumed.model_validate(event.data)
    return replace(state, version=event.version, consumed=state.consumed | {consumed.generation_id})


def fold(events: Iterable[Event]) -> DailyQuota:
    state = DailyQuota()
    for event in events:
        state = evolve(state, event)
    return state


@dataclass(frozen=True, slots=True)
class QuotaRefused:
    """The decider's answer when the day's quota is used up."""

    limit: int
    resets_at: datetime
    retry_after_seconds: int


def seconds_until(now: datetime, moment: datetime) -> int:
    """Whole seconds from `now` to `moment`, rounded up and at least 1, as `Retry-After`
    counts them: a client that waits that long is never early."""
    return max(1, math.ceil((moment - now).total_seconds()))


def decide(
    state: DailyQuota, *, generation_id: UUID, user_id: str, limit: int, now: datetime
) -> list[QuotaConsumed] | QuotaRefused:
    """Take one unit of the day's quota for `generation_id`, or refuse.

    `state` is the stream of the Sydney day containing `now`. A generation that holds a
    unit already needs nothing more (an empty list).
    """
    if generation_id in state.consumed:
        return []
    day = quota_day(now)
    if state.used < limit:
        return [QuotaConsumed(user_id=user_id, day=day, generation_id=generation_id, limit=limit)]
    reset = resets_at(day)
    return QuotaRefused(limit=limit, resets_at=reset, retry_after_seconds=seconds_until(now, reset))
