"""Time travel: a budget month as the log stood at an instant, through the service layer.

The platform runs on a clock the test sets, and its event store records with that clock,
so every event's `recorded_at` is known; the answers are then checked against the live
view and against each event's exact time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from bootstrap import build_platform, data_path, projection_runner
from domain.access import AccessDenied, Principal, Role
from domain.budget import CostCharged, Enforcement
from domain.generation import Status
from domain.streams import budget_stream
from services.budget_history import InvalidInstant, parse_instant
from services.budgets import BudgetUpdate, read_budget, set_budget
from services.context import Platform
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.repository import Repository
from services.settings import Settings

ADMIN = Principal("ada", frozenset({Role.PLATFORM_ADMIN}), None, None)
SPENDER = Principal("alice", frozenset({Role.GENERATOR_POWER}), "studio", None)
OUTSIDER = Principal("otto", frozenset({Role.DEPT_MANAGER}), "legal", None)
# Sydney's April begins at 13:00 UTC on 31 March 2026, still in daylight time (+11:00),
# which ends on 5 April: the month's first days are 24, 24, 24, 24 and 25 hours long.
APRIL_BEGINS = datetime(2026, 3, 31, 13, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Story:
    platform: Platform
    clock: Clock
    set_at: datetime
    charges: list[datetime]  # the recorded_at of each March charge, in order


def charge_one(platform: Platform, clock: Clock, at: datetime) -> None:
    """Submit at `at`; the pipeline (reserve, generate, charge: one instant on this
    clock) a minute later."""
    clock.now = at
    request = GenerationRequest(prompt="a cobalt teapot", model="local-studio")
    submitted = submit_generation(platform, SPENDER, request, None)
    clock.now = at + timedelta(minutes=1)
    assert advance_generation(platform, submitted.generation_id).status is Status.CHARGED


@pytest.fixture
def story(tmp_path: Path) -> Story:
    """A soft 0.10 AUD budget set late on 31 March (Sydney); two 0.04 charges that
    month, the second crossing 80 %; a third charge just after midnight, in April."""
    settings = Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,))
    clock = Clock(APRIL_BEGINS - timedelta(hours=3))
    store = SqliteEventStore(data_path(settings, "events.db"), clock=clock)
    platform = dataclasses.replace(
        build_platform(settings), clock=clock, store=store, repository=Repository(store)
    )
    set_at = clock.now
    update = BudgetUpdate(monthly_limit_aud=Decimal("0.10"), enforcement=Enforcement.SOFT)
    set_budget(platform, ADMIN, "studio", update)
    for offset in (timedelta(hours=1), timedelta(hours=2)):
        charge_one(platform, clock, set_at + offset)
    charge_one(platform, clock, APRIL_BEGINS + timedelta(minutes=30))
    projection_runner(settings).run_until_caught_up()
    march = store.read_stream(budget_stream("studio", "2026-03"))
    charges = [e.recorded_at for e in march if e.type == CostCharged.TYPE]
    return Story(platform, clock, set_at, charges)


def as_of(story: Story, moment: datetime, period: str | None = None) -> dict[str, Any]:
    return read_budget(story.platform, ADMIN, "studio", period, moment)


def aud(budget: dict[str, Any], field: str) -> Decimal:
    return Decimal(budget[field])


def test_spend_before_and_after_a_charge_counting_its_exact_instant(story: Story) -> None:
    first, second = story.charges
    assert aud(as_of(story, first - MICROSECOND), "spent_aud") == 0
    at_first = as_of(story, first)  # inclusive: the charge recorded at that very instant
    assert aud(at_first, "spent_aud") == Decimal("0.04")
    assert aud(at_first, "reserved_aud") == 0  # the charge settled the reservation
    assert at_first["charged_count"] == 1
    assert aud(as_of(story, second), "spent_aud") == Decimal("0.08")


def test_a_threshold_crossed_later_is_absent_earlier(story: Story) -> None:
    second = story.charges[1]
    assert as_of(story, second - MICROSECOND)["thresholds_crossed"] == []
    assert as_of(story, second)["thresholds_crossed"] == [80]


def test_before_anything_was_recorded_the_month_reads_empty_under_the_default_policy(
    story: Story,
) -> None:
    before = as_of(story, story.set_at - MICROSECOND)
    default = story.platform.settings.default_policy
    assert before["limit_aud"] == str(default.monthly_limit_aud)
    assert aud(before, "spent_aud") == 0
    assert before["charged_count"] == 0


def test_the_month_defaults_to_the_sydney_month_of_as_of_across_its_start(story: Story) -> None:
    last_of_march = as_of(story, parse_instant("2026-03-31T23:59:59.999999+11:00"))
    assert last_of_march["period"] == "2026-03"
    assert aud(last_of_march, "spent_aud") == Decimal("0.08")
    first_of_april = as_of(story, parse_instant("2026-04-01T00:00:00+11:00"))
    assert first_of_april["period"] == "2026-04"
    # Nothing spent in April yet, under the standing policy as it stood then.
    assert aud(first_of_april, "spent_aud") == 0
    assert aud(first_of_april, "limit_aud") == Decimal("0.10")
    assert aud(as_of(story, story.clock.now), "spent_aud") == Decimal("0.04")
    # An explicit period is read as of the instant too.
    assert aud(as_of(story, story.clock.now, "2026-03"), "spent_aud") == Decimal("0.08")


def test_as_of_now_is_the_live_view_with_the_same_shape(story: Story) -> None:
    live = read_budget(story.platform, ADMIN, "studio", None)
    then = as_of(story, story.clock.now)
    assert then.pop("as_of") == story.clock.now.isoformat()
    assert then == live


def test_as_of_is_authorised_as_the_live_route(story: Story) -> None:
    with pytest.raises(AccessDenied):
        read_budget(story.platform, OUTSIDER, "studio", None, story.clock.now)


def test_a_future_instant_is_refused(story: Story) -> None:
    with pytest.raises(InvalidInstant, match="future"):
        as_of(story, story.clock.now + MICROSECOND)


@pytest.mark.parametrize("text", ["2026-04-01T00:00:00", "yesterday", "2026-13-01T00:00Z", ""])
def test_times_without_an_offset_or_unreadable_are_refused(text: str) -> None:
    with pytest.raises(InvalidInstant):
        parse_instant(text)


def test_an_offset_whose_plus_became_a_space_in_the_query_string_is_read() -> None:
    assert parse_instant("2026-04-01T00:00:00 11:00") == datetime(2026, 3, 31, 13, tzinfo=UTC)
    assert parse_instant("2026-04-01T00:00:00Z") == datetime(2026, 4, 1, tzinfo=UTC)
