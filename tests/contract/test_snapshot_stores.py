"""The snapshot stores, SQLite and Cosmos DB (against the emulator), held to one contract:
a snapshot is kept per stream and fold, never replaced by an older one, ignored by the
repository when its shape is another, and deleting every one changes no answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from azure.cosmos import DatabaseProxy

from adapters.cosmos_snapshots import CosmosSnapshotStore, ensure_snapshot_container
from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_snapshots import SqliteSnapshotStore
from domain.budget import Budget, BudgetPolicy, CostLine, Enforcement, Strategy, reserve
from domain.generation import Payload
from services.aggregates import BUDGET_MONTH
from services.commands import execute
from services.ports import Snapshot, SnapshotStore
from services.repository import Repository
from tests.unit.command_path import COUNTER, STAMP, Count, ticks

pytest_plugins = ["tests.cosmos_fixtures"]

POLICY = BudgetPolicy(
    monthly_limit_aud=Decimal("1000"), enforcement=Enforcement.HARD, strategy=Strategy.BALANCED
)


def snapshot(version: int, stream_id: str = "s-1", aggregate: str = "counter") -> Snapshot:
    return Snapshot(aggregate, stream_id, 1, version, f"hash-{version}", {"total": version})


def reserving(generation_id: UUID) -> Callable[[Budget], tuple[Payload, ...]]:
    def decide(month: Budget) -> tuple[Payload, ...]:
        line = CostLine("marketing", "2026-11", generation_id, "u-ada", "m1")
        return reserve(month, line, policy=POLICY, estimate=Decimal("3")).events

    return decide


class SnapshotStoreContract:
    def test_a_snapshot_is_kept_per_stream_and_fold(self, snapshots: SnapshotStore) -> None:
        assert snapshots.get("counter", "s-1") is None
        snapshots.put(snapshot(3))
        snapshots.put(snapshot(5, stream_id="s-2"))
        snapshots.put(snapshot(7, aggregate="other"))

        assert snapshots.get("counter", "s-1") == snapshot(3)
        assert snapshots.get("counter", "s-2") == snapshot(5, stream_id="s-2")
        assert snapshots.get("other", "s-1") == snapshot(7, aggregate="other")
        assert snapshots.get("other", "s-2") is None

    def test_a_newer_snapshot_replaces_an_older_one_never_the_reverse(
        self, snapshots: SnapshotStore
    ) -> None:
        snapshots.put(snapshot(3))
        snapshots.put(snapshot(9))
        assert snapshots.get("counter", "s-1") == snapshot(9)
        snapshots.put(snapshot(5))  # another instance, which folded less
        assert snapshots.get("counter", "s-1") == snapshot(9)

    def test_clearing_deletes_every_snapshot(self, snapshots: SnapshotStore) -> None:
        for n, stream in enumerate(("s-1", "s-2", "s-3"), start=1):
            snapshots.put(snapshot(n, stream_id=stream))
        assert snapshots.clear() == 3
        assert [snapshots.get("counter", s) for s in ("s-1", "s-2", "s-3")] == [None] * 3
        assert snapshots.clear() == 0

    def test_a_snapshot_of_another_shape_is_ignored_and_replaced(
        self, snapshots: SnapshotStore, tmp_path: Path
    ) -> None:
        events = SqliteEventStore(tmp_path / "events.db")
        events.append("c-1", 0, ticks(1, 2, 3))
        # A layout of the state this code no longer reads, at a version it cannot check.
        snapshots.put(Snapshot(COUNTER.name, "c-1", COUNTER.shape + 1, 3, "old", {"sum": -1}))

        loaded = Repository(events, snapshots, snapshot_every=2).load(COUNTER, "c-1")

        assert loaded.state == Count(3, 6)  # folded from the log
        kept = snapshots.get(COUNTER.name, "c-1")
        assert kept is not None
        assert (kept.shape, kept.state) == (COUNTER.shape, {"version": 3, "total": 6})

    def test_deleting_every_snapshot_changes_no_answer(
        self, snapshots: SnapshotStore, tmp_path: Path
    ) -> None:
        events = SqliteEventStore(tmp_path / "events.db")
        stream_id = "budget-marketing-2026-11"
        holds = [uuid4() for _ in range(7)]
        for generation_id in holds:
            execute(Repository(events), BUDGET_MONTH, stream_id, reserving(generation_id), STAMP)
        with_snapshots = Repository(events, snapshots, snapshot_every=3)
        with_snapshots.load(BUDGET_MONTH, stream_id)  # folds 8 events: keeps a snapshot
        kept = snapshots.get(BUDGET_MONTH.name, stream_id)
        assert kept is not None
        assert kept.version == 8
        holds.append(uuid4())
        execute(Repository(events), BUDGET_MONTH, stream_id, reserving(holds[-1]), STAMP)
        first = with_snapshots.load(BUDGET_MONTH, stream_id)  # its cache, fast-forwarded
        again = Repository(events, snapshots, snapshot_every=3)  # another process
        from_snapshot = again.load(BUDGET_MONTH, stream_id)  # the snapshot and one event

        assert snapshots.clear() == 1
        from_the_log = Repository(events, snapshots, snapshot_every=100).load(
            BUDGET_MONTH, stream_id
        )

        assert (from_snapshot.snapshot_version, from_the_log.snapshot_version) == (8, 0)
        assert (first.state, first.head_hash) == (from_snapshot.state, from_snapshot.head_hash)
        assert (first.state, first.head_hash) == (from_the_log.state, from_the_log.head_hash)
        assert set(from_the_log.state.reservations) == set(holds)
        assert from_the_log.state.reserved == Decimal("24")


class TestSqliteSnapshotStore(SnapshotStoreContract):
    @pytest.fixture
    def snapshots(self, tmp_path: Path) -> Iterator[SnapshotStore]:
        store = SqliteSnapshotStore(tmp_path / "snapshots.db")
        yield store
        store.close()


class TestCosmosSnapshotStore(SnapshotStoreContract):
    @pytest.fixture
    def snapshots(self, cosmos_database: DatabaseProxy) -> SnapshotStore:
        return CosmosSnapshotStore(ensure_snapshot_container(cosmos_database))
