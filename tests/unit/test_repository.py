"""The repository: one bounded cache that fast-forwards from the store, snapshots as a
cache too, and the idempotent repeat of an append (services/repository.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_snapshots import SqliteSnapshotStore
from services.repository import Repository
from tests.store_wrappers import ReadsCounted
from tests.unit.command_path import COUNTER, Count, ticks


@pytest.fixture
def store(tmp_path: Path) -> ReadsCounted:
    return ReadsCounted(SqliteEventStore(tmp_path / "events.db"))


def test_a_cached_state_fast_forwards_reading_only_the_newer_events(
    store: ReadsCounted,
) -> None:
    repository = Repository(store)
    store.append("c-1", 0, ticks(1, 2, 3))
    assert repository.load(COUNTER, "c-1").state == Count(3, 6)
    store.append("c-1", 3, ticks(10))  # another process appends

    loaded = repository.load(COUNTER, "c-1")

    assert loaded.state == Count(4, 16)
    assert loaded.head_hash == store.read_stream("c-1")[-1].hash
    assert store.reads[:2] == [("c-1", 1), ("c-1", 4)]


def test_the_cache_is_bounded_and_forgets_the_least_recently_used(
    store: ReadsCounted,
) -> None:
    repository = Repository(store, cache_entries=2)
    for stream in ("c-a", "c-b", "c-c"):
        store.append(stream, 0, ticks(1))
    repository.load(COUNTER, "c-a")
    repository.load(COUNTER, "c-b")
    repository.load(COUNTER, "c-a")  # a is now the more recently used
    repository.load(COUNTER, "c-c")  # one too many: b goes
    store.reads.clear()

    repository.load(COUNTER, "c-a")
    repository.load(COUNTER, "c-c")
    repository.load(COUNTER, "c-b")

    assert store.reads == [("c-a", 2), ("c-c", 2), ("c-b", 1)]


def test_an_append_folds_its_events_into_the_cached_state(store: ReadsCounted) -> None:
    repository = Repository(store)
    loaded = repository.load(COUNTER, "c-1")
    after, recorded = repository.append(COUNTER, loaded, ticks(5, 7))
    assert after.state == Count(2, 12)
    assert [e.version for e in recorded] == [1, 2]
    store.reads.clear()
    assert repository.load(COUNTER, "c-1").state == Count(2, 12)
    assert store.reads == [("c-1", 3)]


def test_an_append_the_store_made_before_answers_the_stream_as_it_is_now(
    store: ReadsCounted,
) -> None:
    """Appending again a batch the store recorded further back (a step re-run on a
    fresher state, with the same deterministic ids) records nothing: the store answers
    with the events it recorded then, and the state is the stream's now, not the loaded
    state with them folded on again."""
    repository = Repository(store)
    first = ticks(5)
    repository.append(COUNTER, repository.load(COUNTER, "c-1"), first)
    store.append("c-1", 1, ticks(100))  # others append since
    now = repository.load(COUNTER, "c-1")

    after, recorded = repository.append(COUNTER, now, first)

    assert [(e.version, e.data) for e in recorded] == [(1, {"n": 5})]
    assert after.state == Count(2, 105)
    assert len(store.read_stream("c-1")) == 2


def test_a_long_stream_loads_from_its_snapshot_and_the_events_after_it(
    store: ReadsCounted, tmp_path: Path
) -> None:
    snapshots = SqliteSnapshotStore(tmp_path / "snapshots.db")
    store.append("c-1", 0, ticks(*range(1, 6)))
    Repository(store, snapshots, snapshot_every=4).load(COUNTER, "c-1")  # folds 5 > 4
    snapshot = snapshots.get(COUNTER.name, "c-1")
    assert snapshot is not None
    assert (snapshot.version, snapshot.state) == (5, {"version": 5, "total": 15})
    store.append("c-1", 5, ticks(100))
    store.reads.clear()

    fresh = Repository(store, snapshots, snapshot_every=4)  # another process: no cache
    assert fresh.load(COUNTER, "c-1").state == Count(6, 115)
    assert store.reads == [("c-1", 5)]  # from the snapshot's own event, to check it


def test_a_short_fold_keeps_no_snapshot(store: ReadsCounted, tmp_path: Path) -> None:
    snapshots = SqliteSnapshotStore(tmp_path / "snapshots.db")
    store.append("c-1", 0, ticks(1, 2, 3))
    Repository(store, snapshots, snapshot_every=4).load(COUNTER, "c-1")
    assert snapshots.get(COUNTER.name, "c-1") is None


def test_cache_and_snapshot_settings_must_be_positive(store: ReadsCounted) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Repository(store, cache_entries=0)
    with pytest.raises(ValueError, match="at least 1"):
        Repository(store, snapshot_every=0)
