"""Snapshots on the embedded store: written as streams grow, bounding a cold load, and a
cache only: deleting them changes no answer, and `audit verify` never reads them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.sqlite_snapshots import SqliteSnapshotStore
from bootstrap import build_platform, data_path
from domain.access import Principal, Role
from domain.envelope import Event
from domain.generation import Status
from domain.periods import budget_period
from domain.streams import budget_policy_stream, budget_stream, provider_stream
from services.aggregates import BUDGET_MONTH, BUDGET_POLICY, PROVIDER_HEALTH
from services.budgets import BudgetUpdate, read_budget, set_budget
from services.context import Platform
from services.generations import GenerationRequest, submit_generation
from services.models import list_models
from services.pipeline import advance_generation
from services.ports import EventStore
from services.repository import Aggregate, Repository
from services.settings import Settings
from tests.e2e.test_audit_tamper import run_cli
from tests.store_wrappers import Forwarding

EVERY = 4
GENERATIONS = 9  # the provider's stream: one event each, past 2 * EVERY
REQUESTER = Principal(
    user_id="alice",
    roles=frozenset({Role.GENERATOR_STANDARD}),
    department_id="marketing",
    tenant_id=None,
)
ADMIN = Principal(
    user_id="root", roles=frozenset({Role.PLATFORM_ADMIN}), department_id=None, tenant_id=None
)


class EventsCounted(Forwarding):
    """A store that counts the events each stream read returns."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store)
        self.read: dict[str, int] = {}

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        events = super().read_stream(stream_id, from_version)
        self.read[stream_id] = self.read.get(stream_id, 0) + len(events)
        return events


@dataclass
class Grown:
    platform: Platform
    settings: Settings
    streams: list[tuple[Aggregate[Any], str]]


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Grown:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), snapshot_every=EVERY)
    platform = build_platform(settings)
    set_budget(platform, ADMIN, "marketing", BudgetUpdate(monthly_limit_aud="50.00"))
    for n in range(GENERATIONS):
        submitted = submit_generation(
            platform, REQUESTER, GenerationRequest(prompt=f"a fig {n}"), None
        )
        assert advance_generation(platform, submitted.generation_id).status is Status.CHARGED
    month = budget_stream("marketing", budget_period(platform.clock()))
    streams: list[tuple[Aggregate[Any], str]] = [
        (BUDGET_MONTH, month),
        (PROVIDER_HEALTH, provider_stream("local")),
        (BUDGET_POLICY, budget_policy_stream("marketing")),
    ]
    return Grown(platform, settings, streams)


def fresh(grown: Grown, snapshots: SqliteSnapshotStore) -> tuple[Repository, EventsCounted]:
    counted = EventsCounted(grown.platform.store)
    return Repository(counted, snapshots, snapshot_every=EVERY), counted


def test_long_streams_are_snapshotted_as_they_grow(grown: Grown) -> None:
    snapshots = grown.platform.repository.snapshots
    for aggregate, stream_id in grown.streams[:2]:
        length = len(grown.platform.store.read_stream(stream_id))
        assert length > 2 * EVERY
        kept = snapshots.get(aggregate.name, stream_id)
        assert kept is not None, stream_id
        assert length - EVERY < kept.version <= length


def test_a_cold_load_folds_at_most_the_setting_past_the_snapshot(grown: Grown) -> None:
    snapshots = SqliteSnapshotStore(data_path(grown.settings, "snapshots.db"))
    repository, counted = fresh(grown, snapshots)
    for aggregate, stream_id in grown.streams:
        loaded = repository.load(aggregate, stream_id)
        assert loaded.state == grown.platform.repository.load(aggregate, stream_id).state
        assert counted.read.get(stream_id, 0) <= EVERY, stream_id  # its own event, and after


def test_deleting_every_snapshot_changes_no_answer(grown: Grown, tmp_path: Path) -> None:
    platform = grown.platform
    month = grown.streams[0][1]
    period = budget_period(platform.clock())
    before_budget = unforecast(read_budget(platform, ADMIN, "marketing", period))
    before_models = list_models(platform)
    snapshots = SqliteSnapshotStore(data_path(grown.settings, "snapshots.db"))
    with_snapshots = [fresh(grown, snapshots)[0].load(a, s).state for a, s in grown.streams]
    assert snapshots.clear() >= 2
    assert snapshots.get(BUDGET_MONTH.name, month) is None
    repository, counted = fresh(grown, snapshots)
    without = [repository.load(a, s).state for a, s in grown.streams]
    assert without == with_snapshots
    assert counted.read[month] == len(platform.store.read_stream(month))  # folded from zero
    rebuilt = build_platform(grown.settings)  # a new process: no cache, no snapshot
    assert unforecast(read_budget(rebuilt, ADMIN, "marketing", period)) == before_budget
    assert list_models(rebuilt) == before_models


def unforecast(budget: dict[str, Any]) -> dict[str, Any]:
    """The budget without its forecast, which moves with the wall clock between reads."""
    return {key: value for key, value in budget.items() if not key.startswith("forecast")}


def test_audit_verify_never_reads_a_snapshot(grown: Grown, tmp_path: Path) -> None:
    data_dir = tmp_path / "copy"
    shutil.copytree(grown.settings.data_dir, data_dir)
    path = data_dir / "snapshots.db"
    assert path.exists()
    path.write_bytes(b"not a database: verify must not notice")
    verify = run_cli(data_dir)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("ok: ")
    assert path.read_bytes() == b"not a database: verify must not notice"
