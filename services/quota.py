"""The daily image quota: taking a unit for a generation, and reading what is left.

The counter is the event log itself (`quota-{user}-{day}` streams, see domain/quota.py),
so every instance of the app counts against the same numbers: the repository's cache
only spares a process re-reading the units it has seen (services/repository.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain import quota
from domain.access import Action, Principal, authorize, home_department
from domain.quota import (
    DailyQuota,
    QuotaConsumed,
    QuotaRefused,
    daily_limit,
    quota_day,
    resets_at,
    seconds_until,
)
from domain.streams import quota_stream
from services.aggregates import QUOTA_DAY
from services.commands import MAX_ATTEMPTS, Stamp, execute
from services.context import Platform
from services.metrics import QUOTA_REFUSALS


class QuotaExceeded(Exception):
    """The caller's quota for the day is used up (HTTP 429 with `Retry-After`)."""

    def __init__(self, refusal: QuotaRefused) -> None:
        super().__init__(
            f"the daily quota of {refusal.limit} images is used up;"
            f" it resets at {refusal.resets_at.isoformat()}"
        )
        self.limit = refusal.limit
        self.resets_at: datetime = refusal.resets_at
        self.retry_after_seconds = refusal.retry_after_seconds


def consume_quota(platform: Platform, principal: Principal, generation_id: UUID) -> None:
    """Take the unit of today's quota that `generation_id` needs, or raise QuotaExceeded.

    Taking it again for the same generation (a replayed request) is a no-op.
    """
    limit = daily_limit(principal.roles, platform.settings.daily_image_quota)
    if limit is None:
        return
    now = platform.clock()

    def take(state: DailyQuota) -> list[QuotaConsumed]:
        decision = quota.decide(
            state, generation_id=generation_id, user_id=principal.user_id, limit=limit, now=now
        )
        if isinstance(decision, QuotaRefused):
            platform.meter.add(QUOTA_REFUSALS)
            raise QuotaExceeded(decision)
        return decision

    execute(
        platform.repository,
        QUOTA_DAY,
        quota_stream(principal.user_id, quota_day(now)),
        take,
        # The event id follows from the generation id, so a concurrent replay of the
        # same request is the store's idempotent no-op, not a second unit.
        Stamp(generation_id, principal.to_actor(), key="quota"),
        # A conflict means another request took a unit, and no more than `limit` can be
        # taken, so `limit` + 1 attempts always end in a decision.
        attempts=max(MAX_ATTEMPTS, limit + 1),
    )


def check_quota_for(platform: Platform, principal: Principal, count: int) -> None:
    """Refuse at once a request for more new images than today's quota has left, so that
    none of them is made (the unit each takes is still decided one by one)."""
    limit = daily_limit(principal.roles, platform.settings.daily_image_quota)
    if limit is None or count == 0:
        return
    now = platform.clock()
    day = quota_day(now)
    used = _used(platform, principal, day)
    if used + count > limit:
        reset = resets_at(day)
        platform.meter.add(QUOTA_REFUSALS)
        raise QuotaExceeded(QuotaRefused(limit, reset, seconds_until(now, reset)))


def read_quota(platform: Platform, principal: Principal) -> dict[str, Any]:
    """The caller's quota today: `limit`, `used` and `remaining` are null when unlimited."""
    authorize(principal, Action.GENERATION_CREATE, department_id=home_department(principal))
    now = platform.clock()
    day = quota_day(now)
    limit = daily_limit(principal.roles, platform.settings.daily_image_quota)
    used: int | None = None
    remaining: int | None = None
    if limit is not None:
        used = _used(platform, principal, day)
        remaining = max(0, limit - used)  # below zero when the limit was lowered today
    return {
        "day": day.isoformat(),
        "limit": limit,
        "used": used,
        "remaining": remaining,
        "resets_at": resets_at(day).isoformat(),
    }


def _used(platform: Platform, principal: Principal, day: date) -> int:
    return platform.repository.load(QUOTA_DAY, quota_stream(principal.user_id, day)).state.used
