"""The daily quota through `submit_generation` on the real embedded store, with a clock
the test moves across Sydney midnight and a daylight-saving change."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bootstrap import build_platform
from domain.access import Principal, Role
from domain.quota import QuotaConsumed, quota_day
from domain.streams import quota_stream
from services.context import Platform
from services.generations import GenerationRequest, Submission, submit_generation
from services.quota import QuotaExceeded, read_quota
from services.settings import Settings

STANDARD = Principal(
    user_id="alice",
    roles=frozenset({Role.GENERATOR_STANDARD}),
    department_id="marketing",
    tenant_id=None,
)
POWER = dataclasses.replace(STANDARD, user_id="pat", roles=frozenset({Role.GENERATOR_POWER}))
REQUEST = GenerationRequest(prompt="a lighthouse at dawn")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def platform_at(tmp_path: Path, now: datetime, quota: int = 50) -> tuple[Platform, Clock]:
    clock = Clock(now)
    built = build_platform(Settings(data_dir=tmp_path, daily_image_quota=quota))
    return dataclasses.replace(built, clock=clock), clock


def submit(platform: Platform, principal: Principal, key: str | None = None) -> Submission:
    return submit_generation(platform, principal, REQUEST, key)


def consumed(platform: Platform, principal: Principal) -> list[QuotaConsumed]:
    stream = quota_stream(principal.user_id, quota_day(platform.clock()))
    return [QuotaConsumed.model_validate(e.data) for e in platform.store.read_stream(stream)]


def test_the_51st_request_of_a_sydney_day_waits_for_midnight(tmp_path: Path) -> None:
    # 2026-11-24 23:30 in Sydney (AEDT, +11): half an hour before the quota resets.
    platform, clock = platform_at(tmp_path, datetime(2026, 11, 24, 12, 30, tzinfo=UTC))
    accepted = [submit(platform, STANDARD) for _ in range(50)]
    assert all(s.created for s in accepted)

    with pytest.raises(QuotaExceeded) as refused:
        submit(platform, STANDARD)
    assert refused.value.retry_after_seconds == 30 * 60
    assert refused.value.resets_at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert refused.value.limit == 50
    assert len(consumed(platform, STANDARD)) == 50
    assert {c.generation_id for c in consumed(platform, STANDARD)} == {
        s.generation_id for s in accepted
    }
    assert read_quota(platform, STANDARD) == {
        "day": "2026-11-24",
        "limit": 50,
        "used": 50,
        "remaining": 0,
        "resets_at": "2026-11-24T13:00:00+00:00",
    }

    clock.now = datetime(2026, 11, 24, 12, 59, 59, 500_000, tzinfo=UTC)
    with pytest.raises(QuotaExceeded) as still:
        submit(platform, STANDARD)
    assert still.value.retry_after_seconds == 1

    clock.now = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # Sydney midnight
    assert submit(platform, STANDARD).created
    assert read_quota(platform, STANDARD)["used"] == 1
    assert read_quota(platform, STANDARD)["day"] == "2026-11-25"


def test_a_power_user_is_not_counted(tmp_path: Path) -> None:
    platform, _ = platform_at(tmp_path, datetime(2026, 11, 24, 3, 0, tzinfo=UTC), quota=2)
    for _ in range(2):
        submit(platform, STANDARD)
    with pytest.raises(QuotaExceeded):
        submit(platform, STANDARD)
    assert all(submit(platform, POWER).created for _ in range(5))
    assert consumed(platform, POWER) == []
    assert read_quota(platform, POWER)["limit"] is None


def test_the_short_day_of_daylight_saving_resets_after_23_hours(tmp_path: Path) -> None:
    # 2026-10-04 00:00 in Sydney is 2026-10-03 14:00 UTC (AEST, +10); the clocks jump at
    # 02:00, so the next midnight is 2026-10-04 13:00 UTC (AEDT, +11).
    platform, clock = platform_at(tmp_path, datetime(2026, 10, 3, 14, 0, tzinfo=UTC), quota=1)
    submit(platform, STANDARD)
    with pytest.raises(QuotaExceeded) as refused:
        submit(platform, STANDARD)
    assert refused.value.retry_after_seconds == 23 * 3600

    clock.now = datetime(2026, 10, 4, 12, 59, tzinfo=UTC)
    with pytest.raises(QuotaExceeded):
        submit(platform, STANDARD)
    clock.now = datetime(2026, 10, 4, 13, 0, tzinfo=UTC)
    assert submit(platform, STANDARD).created


def test_the_long_day_of_daylight_saving_resets_after_25_hours(tmp_path: Path) -> None:
    # 2026-04-05 00:00 in Sydney is 2026-04-04 13:00 UTC (AEDT); the clocks fall back at
    # 03:00, so the next midnight is 2026-04-05 14:00 UTC (AEST).
    platform, clock = platform_at(tmp_path, datetime(2026, 4, 4, 13, 0, tzinfo=UTC), quota=1)
    submit(platform, STANDARD)
    clock.now += timedelta(hours=24)  # a UTC day later, still the same Sydney day
    with pytest.raises(QuotaExceeded) as refused:
        submit(platform, STANDARD)
    assert refused.value.retry_after_seconds == 3600
    clock.now += timedelta(hours=1)
    assert submit(platform, STANDARD).created


def test_an_idempotent_replay_takes_no_second_unit(tmp_path: Path) -> None:
    platform, clock = platform_at(tmp_path, datetime(2026, 11, 24, 3, 0, tzinfo=UTC), quota=2)
    first = submit(platform, STANDARD, key="order-1")
    submit(platform, STANDARD, key="order-2")  # the quota is now used up

    again = submit(platform, STANDARD, key="order-1")
    assert again.generation_id == first.generation_id
    assert not again.created
    assert len(consumed(platform, STANDARD)) == 2

    clock.now += timedelta(days=1)  # replayed on the next Sydney day: still no new unit
    assert submit(platform, STANDARD, key="order-1").generation_id == first.generation_id
    assert consumed(platform, STANDARD) == []
    assert read_quota(platform, STANDARD)["used"] == 0


def test_a_refused_key_may_be_used_again_once_the_quota_resets(tmp_path: Path) -> None:
    platform, clock = platform_at(tmp_path, datetime(2026, 11, 24, 3, 0, tzinfo=UTC), quota=1)
    submit(platform, STANDARD, key="order-1")
    with pytest.raises(QuotaExceeded):
        submit(platform, STANDARD, key="order-2")
    clock.now += timedelta(days=1)
    assert submit(platform, STANDARD, key="order-2").created


def test_parallel_replays_of_one_key_take_one_unit(tmp_path: Path) -> None:
    platform, _ = platform_at(tmp_path, datetime(2026, 11, 24, 3, 0, tzinfo=UTC), quota=5)
    with ThreadPoolExecutor(max_workers=8) as pool:
        submissions = list(pool.map(lambda _: submit(platform, STANDARD, "order-1"), range(16)))
    assert len({s.generation_id for s in submissions}) == 1
    assert sum(s.created for s in submissions) == 1
    assert [c.generation_id for c in consumed(platform, STANDARD)] == [submissions[0].generation_id]
