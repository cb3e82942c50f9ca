"""Replaying a real SQLite event store into a real SQLite view store, fast: the log
read as `Record`s, the view store's encoded writes and bulk load, and the replay split
between worker processes."""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_record_log import SqliteRecordLog
from adapters.sqlite_views import SqliteViewStore
from domain.access import EVERYTHING
from projections import ALL_PROJECTIONS, budget, generation_status
from projections.base import (
    EncodedBatch,
    Fact,
    Projection,
    StalePosition,
    StreamRange,
    View,
    ViewBatch,
    timestamp,
)
from projections.runner import ProjectionRunner, replay_all
from services.ports import HistoryQuery
from tests.contract.test_sqlite_views import HISTORY, check_views_match_the_log
from tests.contract.view_workload import Workload


@pytest.fixture
def store(tmp_path: Path) -> SqliteEventStore:
    store = SqliteEventStore(tmp_path / "events.db")
    Workload(store, seed=21).run(40)
    return store


def everything(views: SqliteViewStore) -> dict[str, list[dict[str, Any]]]:
    return {p.name: list(views.list(p.name)) for p in ALL_PROJECTIONS}


def index_names(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
        return {name for (name,) in rows}


# --- the log as records --------------------------------------------------------------------


def test_records_are_the_stored_events(store: SqliteEventStore, tmp_path: Path) -> None:
    log = SqliteRecordLog(tmp_path / "events.db")
    end = store.last_position()
    assert log.last_position() == end > 250
    events = store.read_all(0, end)
    read = log.read_records(0, end)
    assert [r.position for r in read] == [e.position for e in events]
    for record, positioned in zip(read, events, strict=True):
        event = positioned.event
        assert (record.stream_id, record.version, record.type, record.data) == (
            event.stream_id,
            event.version,
            event.type,
            event.data,
        )
        assert record.at == timestamp(event.recorded_at)  # the text views store
        assert record.recorded_at == event.recorded_at
        assert record.actor == event.actor


def test_records_by_range_type_and_stream(store: SqliteEventStore, tmp_path: Path) -> None:
    log = SqliteRecordLog(tmp_path / "events.db")
    every = log.read_records(0, log.last_position())
    assert [r.position for r in log.read_records(10, 20)] == list(range(11, 21))
    charged = log.read_records(0, 10_000, types={"CostCharged", "BudgetSet"})
    assert charged == [r for r in every if r.type in ("CostCharged", "BudgetSet")]
    assert {r.type for r in charged} == {"CostCharged", "BudgetSet"}
    sample = log.stream_sample(0, log.last_position(), 50)
    assert sample == sorted(sample)
    assert 40 <= len(sample) <= 60
    assert set(sample) <= {r.stream_id for r in every}
    middle = sample[len(sample) // 2]
    low = log.read_records(0, 10_000, streams=StreamRange(None, middle))
    high = log.read_records(0, 10_000, streams=StreamRange(middle, None))
    assert low
    assert high
    assert sorted([*low, *high]) == every
    assert all(r.stream_id < middle for r in low)
    assert all(r.stream_id >= middle for r in high)


def test_a_pickled_log_or_view_store_reopens_its_file(
    store: SqliteEventStore, tmp_path: Path
) -> None:
    log = pickle.loads(pickle.dumps(SqliteRecordLog(tmp_path / "events.db")))
    assert log.last_position() == store.last_position()
    views = SqliteViewStore(tmp_path / "views.db")
    views.apply_batch("a", {"k": {"n": 1}}, 5)
    again = pickle.loads(pickle.dumps(views))
    assert (again.get("a", "k"), again.position("a")) == ({"n": 1}, 5)


# --- the view store's side of a replay ---------------------------------------------------


def test_encoded_writes_are_the_same_writes(tmp_path: Path) -> None:
    plain, encoded = SqliteViewStore(tmp_path / "a.db"), SqliteViewStore(tmp_path / "b.db")
    docs = {"d-1:2026-03": {"department_id": "d-1", "period": "2026-03", "by_user": {"ü": "1"}}}
    plain.apply_batches([ViewBatch("budget", docs, 3, 0, "period")])
    rows = encoded.encode("budget", docs, "period")
    encoded.apply_encoded([EncodedBatch("budget", rows, 3, 0)])
    for views in (plain, encoded):
        assert list(views.list("budget", "2026-03")) == list(docs.values())
        assert views.position("budget") == 3
    with pytest.raises(StalePosition):
        encoded.apply_encoded([EncodedBatch("budget", rows, 9, 0)])
    assert encoded.position("budget") == 3


def test_a_bulk_load_builds_the_indexes_once_at_the_end(
    store: SqliteEventStore, tmp_path: Path
) -> None:
    path = tmp_path / "views.db"
    views = SqliteViewStore(path)
    indexes = index_names(path)
    assert len(indexes) == 5
    with views.bulk_load():
        assert index_names(path) == set()
        ProjectionRunner(store, views, ALL_PROJECTIONS, 100).run_until_caught_up()
        # Queries are right meanwhile, only without their indexes.
        during = views.history(EVERYTHING, HistoryQuery(user_id="u-d-0-1", limit=500)).items
    assert index_names(path) == indexes
    mine = HistoryQuery(user_id="u-d-0-1", limit=500)
    assert views.history(EVERYTHING, mine).items == during != []
    check_views_match_the_log(store, views)


def test_a_bulk_load_leaves_a_store_with_documents_alone(tmp_path: Path) -> None:
    path = tmp_path / "views.db"
    views = SqliteViewStore(path)
    views.apply_batch("a", {"k": {"n": 1}}, 1)
    with views.bulk_load():
        assert len(index_names(path)) == 5


def test_a_failed_bulk_load_still_puts_the_indexes_back(tmp_path: Path) -> None:
    path = tmp_path / "views.db"
    views = SqliteViewStore(path)

    def interrupted() -> None:
        with views.bulk_load():
            views.apply_batch("a", {"k": {"n": 1}}, 1)
            raise RuntimeError("midway")

    with pytest.raises(RuntimeError, match="midway"):
        interrupted()
    assert len(index_names(path)) == 5
    assert views.get("a", "k") == {"n": 1}  # what was committed stays


# --- a replay split between processes ----------------------------------------------------


def test_a_partitioned_replay_writes_what_a_single_process_writes(
    store: SqliteEventStore, tmp_path: Path
) -> None:
    log = SqliteRecordLog(tmp_path / "events.db")
    one, two = SqliteViewStore(tmp_path / "one.db"), SqliteViewStore(tmp_path / "two.db")
    end = store.last_position()
    assert replay_all(log, one, batch_size=97) == end
    assert replay_all(log, two, batch_size=97, workers=2) == end
    assert everything(two) == everything(one)
    assert two.positions([p.name for p in ALL_PROJECTIONS]) == dict.fromkeys(
        [p.name for p in ALL_PROJECTIONS], end
    )
    check_views_match_the_log(store, two)
    assert len(index_names(tmp_path / "two.db")) == 5


def test_a_partitioned_replay_catches_up_from_where_the_views_are(
    store: SqliteEventStore, tmp_path: Path
) -> None:
    log = SqliteRecordLog(tmp_path / "events.db")
    views = SqliteViewStore(tmp_path / "views.db")
    # The projections stand at different positions, and new events come after them.
    ProjectionRunner(log, views, [generation_status.PROJECTION], 150).run_once()
    ProjectionRunner(log, views, ALL_PROJECTIONS, 40).run_once()
    Workload(store, seed=22).run(15)
    assert replay_all(log, views, batch_size=64, workers=3) > 0
    reference = SqliteViewStore(tmp_path / "reference.db")
    replay_all(log, reference)
    assert everything(views) == everything(reference)
    check_views_match_the_log(store, views)


def boom_apply(view: View | None, event: Fact) -> View:
    raise AssertionError("unreachable: the fold below is used")


def boom_fold(views: Mapping[str, View], touched: Sequence[tuple[str, Fact]]) -> dict[str, View]:
    if any(f.type == "GenerationRequested" and f.data["user_id"] == "u-boom" for _, f in touched):
        raise RuntimeError("a projection bug")
    assert generation_status.PROJECTION.fold is not None
    return generation_status.PROJECTION.fold(views, touched)


# Module level, so that the worker processes can unpickle it.
BOOM = Projection(
    name=HISTORY,
    keys=generation_status.keys,
    apply=boom_apply,
    fold=boom_fold,
    types=generation_status.PROJECTION.types,
    keyed_by_stream=True,
)


def test_a_failing_worker_fails_the_replay_at_a_batch_boundary(
    store: SqliteEventStore, tmp_path: Path
) -> None:
    Workload(store, seed=23).generation("d-1", "u-boom")
    Workload(store, seed=24).run(5)
    log = SqliteRecordLog(tmp_path / "events.db")
    views = SqliteViewStore(tmp_path / "views.db")
    projections = [BOOM, budget.PROJECTION]
    with pytest.raises(RuntimeError, match="a projection bug"):
        replay_all(log, views, projections, batch_size=50, workers=2)
    positions = views.positions([HISTORY, budget.NAME])
    assert len(set(positions.values())) == 1  # written together, batch by batch
    stopped = positions[HISTORY]
    assert 0 < stopped < store.last_position()
    assert stopped % 50 == 0
    assert len(index_names(tmp_path / "views.db")) == 5
    # What was written is exactly the log up to there: the fixed replay completes it.
    replay_all(log, views, batch_size=50, workers=2)
    check_views_match_the_log(store, views)


def test_a_partitioned_replay_refuses_what_it_cannot_split(
    store: SqliteEventStore, tmp_path: Path
) -> None:
    views = SqliteViewStore(tmp_path / "views.db")
    with pytest.raises(ValueError, match="reads records"):
        replay_all(store, views, workers=2)  # the store hands out no records by range
    whole_log = Projection("whole", generation_status.keys, generation_status.apply)
    with pytest.raises(ValueError, match="cannot be split"):
        replay_all(SqliteRecordLog(tmp_path / "events.db"), views, [whole_log], workers=2)
    assert views.positions(["whole", HISTORY]) == {"whole": 0, HISTORY: 0}
