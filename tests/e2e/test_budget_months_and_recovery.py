"""Budget months at Sydney midnight, thresholds once, and reservations that never outlive
their generation: through the service layer on the embedded store, with one
controllable clock for the platform and the event store.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from adapters.providers.local import LocalProvider
from adapters.sqlite_event_store import SqliteEventStore
from bootstrap import build_platform, data_path, projection_runner
from domain import budget
from domain.access import Principal, Role
from domain.budget import Enforcement
from domain.generation import Generation, GenerationFailed, Status
from domain.streams import budget_stream, generation_stream
from services.budgets import BudgetUpdate, set_budget
from services.commands import Stamp
from services.context import Platform
from services.generations import GenerationRequest, load_generation, submit_generation
from services.pipeline import advance_generation
from services.ports import GeneratedImage, ImageRequest
from services.recovery import expire_overdue_generations, release_orphaned_reservations
from services.repository import Repository
from services.settings import Settings

POWER = Principal(
    user_id="ravi",
    roles=frozenset({Role.GENERATOR_POWER}),
    department_id="marketing",
    tenant_id=None,
)
MANAGER = Principal(
    user_id="maya", roles=frozenset({Role.DEPT_MANAGER}), department_id="marketing", tenant_id=None
)
SKETCH = Decimal("0.0100")  # local-sketch, 1024x1024 standard: the balanced strategy's pick


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Crashing:
    """A provider whose process dies mid-call: the generation is left routed."""

    name = "local"

    def generate(self, request: ImageRequest) -> GeneratedImage:
        raise SystemError("worker killed")


@dataclasses.dataclass
class World:
    platform: Platform
    clock: Clock
    config: Settings

    def submit(self) -> UUID:
        request = GenerationRequest(prompt="a lighthouse at dusk")
        return submit_generation(self.platform, POWER, request, None).generation_id

    def generate(self) -> Generation:
        return advance_generation(self.platform, self.submit())

    def project(self) -> None:
        projection_runner(self.config).run_until_caught_up()

    def month(self, period: str) -> dict[str, Decimal | int]:
        state = budget.fold(self.platform.store.read_stream(budget_stream("marketing", period)))
        return {"spent": state.spent, "reserved": state.reserved, "holds": len(state.reservations)}


@pytest.fixture
def world(tmp_path: Path) -> World:
    clock = Clock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    config = Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,))
    store = SqliteEventStore(data_path(config, "events.db"), clock=clock)
    platform = dataclasses.replace(
        build_platform(config), store=store, repository=Repository(store), clock=clock
    )
    return World(platform, clock, config)


@pytest.mark.parametrize(
    ("last_second", "before", "after"),
    [
        # October ends in daylight saving (AEDT, UTC+11); September in standard time.
        (datetime(2026, 10, 31, 12, 59, 59, tzinfo=UTC), "2026-10", "2026-11"),
        (datetime(2026, 9, 30, 13, 59, 59, tzinfo=UTC), "2026-09", "2026-10"),
        # April's first Sunday ends daylight saving; March ends in it, April does not.
        (datetime(2026, 3, 31, 12, 59, 59, tzinfo=UTC), "2026-03", "2026-04"),
        (datetime(2026, 4, 30, 13, 59, 59, tzinfo=UTC), "2026-04", "2026-05"),
    ],
)
def test_a_generation_is_charged_to_the_sydney_month_it_was_routed_in(
    world: World, last_second: datetime, before: str, after: str
) -> None:
    world.clock.now = last_second
    late = world.generate()
    world.clock.now = last_second + timedelta(seconds=1)
    early = world.generate()

    assert late.routed is not None
    assert early.routed is not None
    assert (late.routed.budget_period, early.routed.budget_period) == (before, after)
    assert world.month(before)["spent"] == world.month(after)["spent"] == SKETCH


def test_thresholds_fire_once_each_under_duplicated_and_concurrent_deliveries(
    world: World,
) -> None:
    update = BudgetUpdate(monthly_limit_aud=Decimal("0.05"), enforcement=Enforcement.SOFT)
    set_budget(world.platform, MANAGER, "marketing", update)
    ids = [world.submit() for _ in range(7)]

    with ThreadPoolExecutor(max_workers=6) as workers:  # every job delivered three times
        list(workers.map(lambda gid: advance_generation(world.platform, gid), ids * 3))

    events = world.platform.store.read_stream(budget_stream("marketing", "2026-11"))
    crossed = [e.data["threshold_percent"] for e in events if e.type == "BudgetThresholdCrossed"]
    assert sorted(crossed) == [80, 90, 100]
    assert [e.type for e in events].count("CostCharged") == 7
    world.project()
    world.project()  # a second pass over a caught-up log changes nothing
    view = world.platform.views.get("budget", "marketing:2026-11")
    assert view is not None
    assert view["thresholds_crossed"] == [80, 90, 100]
    assert view["spent_aud"] == "0.0700"


def test_a_generation_that_stops_moving_is_failed_and_frees_its_reservation(
    world: World,
) -> None:
    world.platform = dataclasses.replace(world.platform, providers={"local": Crashing()})
    generation_id = world.submit()
    with pytest.raises(SystemError):
        advance_generation(world.platform, generation_id)
    assert load_generation(world.platform, generation_id).status is Status.ROUTED
    assert world.month("2026-11") == {"spent": 0, "reserved": SKETCH, "holds": 1}
    world.project()

    world.clock.now += timedelta(seconds=899)
    assert expire_overdue_generations(world.platform) == 0  # still within the deadline
    world.clock.now += timedelta(seconds=2)
    assert expire_overdue_generations(world.platform) == 1

    state = load_generation(world.platform, generation_id)
    assert state.status is Status.FAILED
    assert state.reason == "timed_out: no progress for 900 s"
    assert world.month("2026-11") == {"spent": 0, "reserved": 0, "holds": 0}
    world.project()
    assert expire_overdue_generations(world.platform) == 0


def test_a_reservation_left_by_a_crash_after_the_failure_is_released(world: World) -> None:
    world.platform = dataclasses.replace(world.platform, providers={"local": Crashing()})
    generation_id = world.submit()
    with pytest.raises(SystemError):
        advance_generation(world.platform, generation_id)
    state = load_generation(world.platform, generation_id)
    # The failure is recorded, and the worker dies before it releases the hold.
    failed = GenerationFailed(reason="provider_error: gone", model_id="local-sketch")
    world.platform.store.append(
        generation_stream(generation_id),
        state.version,
        Stamp(generation_id).events([failed]),
    )
    world.project()
    assert world.month("2026-11")["holds"] == 1

    assert release_orphaned_reservations(world.platform) == 1

    assert world.month("2026-11") == {"spent": 0, "reserved": 0, "holds": 0}
    assert release_orphaned_reservations(world.platform) == 0
    world.platform = dataclasses.replace(world.platform, providers={"local": LocalProvider()})
    assert world.generate().status is Status.CHARGED  # the month is usable as ever
