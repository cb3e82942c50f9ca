"""The daily quota decider: who is limited, the Sydney day, its reset, idempotency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain import quota
from domain.access import Role
from domain.envelope import GENESIS_HASH, SYSTEM_ACTOR, NewEvent, record
from domain.quota import DailyQuota, QuotaConsumed, QuotaRefused
from domain.streams import quota_stream

USER = "alice"


def consume(state: DailyQuota, payloads: list[QuotaConsumed]) -> DailyQuota:
    """Record `payloads` after `state` and fold them in, as the store and a re-read would."""
    for payload in payloads:
        event = record(
            NewEvent(
                type=payload.TYPE,
                data=payload.model_dump(mode="json"),
                actor=SYSTEM_ACTOR,
                correlation_id=payload.generation_id,
            ),
            stream_id="quota-test",
            version=state.version + 1,
            prev_hash=GENESIS_HASH,
            recorded_at=datetime.now(UTC),
        )
        state = quota.evolve(state, event)
    return state


def take(state: DailyQuota, gid: UUID, now: datetime, limit: int = 3) -> DailyQuota:
    decision = quota.decide(state, generation_id=gid, user_id=USER, limit=limit, now=now)
    assert isinstance(decision, list), decision
    return consume(state, decision)


@pytest.mark.parametrize(
    ("roles", "limit"),
    [
        ({Role.GENERATOR_STANDARD}, 50),
        ({Role.GENERATOR_POWER}, None),
        ({Role.GENERATOR_STANDARD, Role.GENERATOR_POWER}, None),
        ({Role.PLATFORM_ADMIN}, None),
        ({Role.ORG_ADMIN}, None),
        ({Role.DEPT_MANAGER, Role.GENERATOR_STANDARD}, 50),
    ],
)
def test_only_standard_generators_are_limited(roles: set[Role], limit: int | None) -> None:
    assert quota.daily_limit(roles, 50) == limit


def test_the_unit_after_the_limit_is_refused_until_sydney_midnight() -> None:
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 14:00 in Sydney (AEDT, +11)
    state = DailyQuota()
    for _ in range(3):
        state = take(state, uuid4(), now)
    assert state.used == 3
    assert state.version == 3

    refused = quota.decide(state, generation_id=uuid4(), user_id=USER, limit=3, now=now)
    midnight = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 2026-11-25 00:00 AEDT
    assert refused == QuotaRefused(limit=3, resets_at=midnight, retry_after_seconds=10 * 3600)


def test_the_consumed_event_names_the_sydney_day_not_the_utc_one() -> None:
    late_utc_evening = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # 07:00 on the 25th in Sydney
    decision = quota.decide(
        DailyQuota(), generation_id=uuid4(), user_id=USER, limit=3, now=late_utc_evening
    )
    assert isinstance(decision, list)
    assert [event.day for event in decision] == [date(2026, 11, 25)]


def test_a_generation_that_holds_a_unit_needs_no_other_even_at_the_limit() -> None:
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    first = uuid4()
    state = take(take(DailyQuota(), first, now, limit=2), uuid4(), now, limit=2)
    assert quota.decide(state, generation_id=first, user_id=USER, limit=2, now=now) == []


def test_a_limit_lowered_below_what_was_used_refuses() -> None:
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    state = take(take(DailyQuota(), uuid4(), now), uuid4(), now)
    decision = quota.decide(state, generation_id=uuid4(), user_id=USER, limit=1, now=now)
    assert isinstance(decision, QuotaRefused)


def test_retry_after_rounds_up_and_is_never_zero() -> None:
    reset = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert quota.seconds_until(reset - timedelta(seconds=1.2), reset) == 2
    assert quota.seconds_until(reset - timedelta(microseconds=1), reset) == 1
    assert quota.seconds_until(reset, reset) == 1


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2026, 11, 24), 24),
        (date(2026, 10, 4), 23),  # daylight saving starts: 02:00 becomes 03:00
        (date(2026, 4, 5), 25),  # daylight saving ends: 03:00 becomes 02:00
    ],
)
def test_a_quota_day_is_as_long_as_the_sydney_day(day: date, hours: int) -> None:
    assert quota.resets_at(day) - quota.day_start(day) == timedelta(hours=hours)


def test_at_the_start_of_the_short_day_the_wait_is_23_hours() -> None:
    start = quota.day_start(date(2026, 10, 4))
    assert start == datetime(2026, 10, 3, 14, 0, tzinfo=UTC)  # AEST, +10
    assert quota.quota_day(start) == date(2026, 10, 4)
    assert quota.quota_day(start - timedelta(microseconds=1)) == date(2026, 10, 3)
    state = take(DailyQuota(), uuid4(), start, limit=1)
    refused = quota.decide(state, generation_id=uuid4(), user_id=USER, limit=1, now=start)
    assert isinstance(refused, QuotaRefused)
    assert refused.retry_after_seconds == 23 * 3600
    assert refused.resets_at == datetime(2026, 10, 4, 13, 0, tzinfo=UTC)  # AEDT, +11


def test_quota_day_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        quota.quota_day(datetime(2026, 11, 24, 3, 0))


def test_quota_streams_are_safe_distinct_and_stable_for_any_user_id() -> None:
    day = date(2026, 11, 24)
    odd = "user/with?odd#chars\\ and spaces ünicode" * 10
    stream = quota_stream(odd, day)
    assert stream == quota_stream(odd, day)
    assert stream.startswith("quota-")
    assert stream.endswith("-2026-11-24")
    assert stream.isascii()
    assert all(c.isalnum() or c == "-" for c in stream)
    assert len(stream) < 64
    assert quota_stream("alice", day) != quota_stream("bob", day)
    assert quota_stream("alice", day) != quota_stream("alice", day + timedelta(days=1))
