"""The embedded SQLite event store: the port's contract, then what only SQLite adds."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from adapters.sqlite_audit_log import SqliteAuditLog
from adapters.sqlite_event_store import SqliteEventStore
from adapters.traced_event_store import TracedEventStore
from domain.envelope import format_timestamp, recompute_hash
from services.ports import ConcurrencyError, EventIdConflict
from tests.contract.event_store_contract import EventStoreContract, new_event, stream_name

PROCESS_RACERS = 4


class TestSqliteEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqliteEventStore]:
        store = SqliteEventStore(tmp_path / "events.db")
        yield store
        store.close()

    @pytest.fixture
    def audit_log(self, tmp_path: Path) -> SqliteAuditLog:
        return SqliteAuditLog(tmp_path / "events.db")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteEventStore]:
    store = SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL")
    yield store
    store.close()


# --- appends given the head's hash -----------------------------------------------------


def test_a_head_hash_not_recorded_at_the_head_is_refused_and_writes_nothing(
    store: SqliteEventStore,
) -> None:
    """What the Cosmos store trusts to skip its head read, checked here where the suite
    runs: a hash of another version, or of another stream, at the head's version."""
    stream, other = stream_name(), stream_name()
    first, second = store.append(stream, 0, [new_event(n=1), new_event(n=2)])
    (elsewhere,) = store.append(other, 0, [new_event(n=1)])

    for wrong in (first.hash, elsewhere.hash):
        with pytest.raises(ValueError, match=f"version 2 is recorded with hash '{second.hash}'"):
            store.append(stream, 2, [new_event(n=3)], head_hash=wrong)

    assert store.read_stream(stream) == [first, second]
    store.append(stream, 2, [new_event(n=3)], head_hash=second.hash)
    assert [e.version for e in store.read_stream(stream)] == [1, 2, 3]


def test_the_traced_store_hands_the_head_hash_on(store: SqliteEventStore) -> None:
    stream = stream_name()
    first, second = TracedEventStore(store).append(stream, 0, [new_event(n=1), new_event(n=2)])
    with pytest.raises(ValueError, match="version 2 is recorded with hash"):
        TracedEventStore(store).append(stream, 2, [new_event(n=3)], head_hash=first.hash)
    TracedEventStore(store).append(stream, 2, [new_event(n=3)], head_hash=second.hash)
    assert len(store.read_stream(stream)) == 3


# --- the global order (EventLog) --------------------------------------------------------


def test_read_all_follows_append_order_across_streams(store: SqliteEventStore) -> None:
    first, second = stream_name(), stream_name()
    store.append(first, 0, [new_event(n=1), new_event(n=2)])
    store.append(second, 0, [new_event(n=3)])
    store.append(first, 2, [new_event(n=4)])

    everything = store.read_all()

    assert [p.position for p in everything] == [1, 2, 3, 4]
    assert [p.event.data["n"] for p in everything] == [1, 2, 3, 4]
    assert [(p.event.stream_id, p.event.version) for p in everything] == [
        (first, 1),
        (first, 2),
        (second, 1),
        (first, 3),
    ]
    assert [p.event for p in everything if p.event.stream_id == first] == store.read_stream(first)
    assert store.last_position() == 4


def test_read_all_pages_after_a_position(store: SqliteEventStore) -> None:
    stream = stream_name()
    store.append(stream, 0, [new_event(n=n) for n in range(1, 8)])

    assert [p.position for p in store.read_all(after_position=2, limit=3)] == [3, 4, 5]
    assert [p.position for p in store.read_all(after_position=5, limit=3)] == [6, 7]
    assert store.read_all(after_position=7) == []


def test_an_empty_log_has_position_zero(store: SqliteEventStore) -> None:
    assert store.last_position() == 0
    assert store.read_all() == []


def test_conflicting_and_idempotent_appends_take_no_position(store: SqliteEventStore) -> None:
    stream = stream_name()
    event = new_event()
    store.append(stream, 0, [event])
    with pytest.raises(ConcurrencyError):
        store.append(stream, 0, [new_event()])
    store.append(stream, 0, [event])
    store.append(stream, 1, [new_event()])

    assert [p.position for p in store.read_all()] == [1, 2]


# --- what SQLite guarantees beyond the contract -----------------------------------------


def test_an_event_id_recorded_in_another_stream_is_refused(store: SqliteEventStore) -> None:
    event = new_event()
    store.append(stream_name(), 0, [event])
    elsewhere = stream_name()

    with pytest.raises(EventIdConflict, match="not exactly this batch"):
        store.append(elsewhere, 0, [event])

    assert store.read_stream(elsewhere) == []


def test_the_table_refuses_updates_and_deletes(store: SqliteEventStore, tmp_path: Path) -> None:
    stream = stream_name()
    store.append(stream, 0, [new_event()])
    raw = sqlite3.connect(tmp_path / "events.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE events SET data = '{}'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM events")
    finally:
        raw.close()
    assert len(store.read_stream(stream)) == 1


def test_recorded_at_is_the_clock_in_utc_stored_fixed_width(tmp_path: Path) -> None:
    sydney = timezone(timedelta(hours=11))
    moment = datetime(2025, 1, 31, 9, 30, 0, 5, tzinfo=sydney)
    store = SqliteEventStore(tmp_path / "events.db", clock=lambda: moment)
    try:
        (appended,) = store.append(stream_name(), 0, [new_event()])
        (read,) = store.read_all()
    finally:
        store.close()

    assert read.event.recorded_at == moment
    assert read.event.recorded_at.utcoffset() == timedelta(0)
    assert read.event == appended
    raw = sqlite3.connect(tmp_path / "events.db")
    try:
        (stored,) = raw.execute("SELECT recorded_at FROM events").fetchone()
    finally:
        raw.close()
    assert stored == format_timestamp(moment) == "2025-01-30T22:30:00.000005Z"


def test_a_naive_clock_is_refused(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db", clock=lambda: datetime(2025, 1, 1))
    try:
        with pytest.raises(ValueError, match="timezone-aware"):
            store.append(stream_name(), 0, [new_event()])
        assert store.last_position() == 0
    finally:
        store.close()


def test_events_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    stream = stream_name()
    first = SqliteEventStore(path)
    written = first.append(stream, 0, [new_event(n=1), new_event(n=2)])
    first.close()

    reopened = SqliteEventStore(path)
    try:
        assert reopened.read_stream(stream) == written
        (third,) = reopened.append(stream, 2, [new_event(n=3)])
        assert third.prev_hash == written[-1].hash
        assert third.hash == recompute_hash(third)
        assert reopened.last_position() == 3
    finally:
        reopened.close()


def test_a_closed_store_refuses_new_connections(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    store.close()
    failures: list[BaseException] = []

    def use_from_a_new_thread() -> None:
        try:
            store.read_stream("any")
        except RuntimeError as failure:
            failures.append(failure)

    thread = threading.Thread(target=use_from_a_new_thread)
    thread.start()
    thread.join()
    assert len(failures) == 1
    assert "closed" in str(failures[0])


# --- several processes on one file ------------------------------------------------------


def _race_in_a_process(path: str, stream: str, n: int, start: Any, results: Any) -> None:
    store = SqliteEventStore(path)
    try:
        start.wait()
        try:
            (event,) = store.append(stream, 1, [new_event(n=n)])
            results.put(("won", n, str(event.event_id)))
        except ConcurrencyError as conflict:
            results.put(("conflict", n, conflict.actual))
    finally:
        store.close()


def test_racing_appends_from_several_processes_have_exactly_one_winner(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    stream = stream_name()
    setup = SqliteEventStore(path)
    setup.append(stream, 0, [new_event(n=0)])
    setup.close()
    # spawn, not fork: each racer is a fresh interpreter, as separate host processes are.
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESS_RACERS)
    results = context.Queue()
    racers = [
        context.Process(target=_race_in_a_process, args=(str(path), stream, n, start, results))
        for n in range(1, PROCESS_RACERS + 1)
    ]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)

    assert [racer.exitcode for racer in racers] == [0] * PROCESS_RACERS
    won = [o for o in outcomes if o[0] == "won"]
    assert len(won) == 1
    assert sorted(o[2] for o in outcomes if o[0] == "conflict") == [2] * (PROCESS_RACERS - 1)
    reader = SqliteEventStore(path)
    try:
        read = reader.read_stream(stream)
    finally:
        reader.close()
    assert [e.version for e in read] == [1, 2]
    assert str(read[1].event_id) == won[0][2]
    assert read[1].data["n"] == won[0][1]


def test_appends_queued_behind_a_commit_share_the_next_one_and_fail_alone(
    tmp_path: Path,
) -> None:
    """While one append waits for the write lock, the others queue and then commit as one
    group; inside it each append still wins or loses on its own."""
    path = tmp_path / "events.db"
    store = SqliteEventStore(path)
    raced, reused = stream_name(), new_event(n=0)
    store.append(raced, 0, [new_event(n=0)])
    store.append(stream_name(), 0, [reused])
    commits_before = store.commits
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    fresh = [stream_name() for _ in range(6)]
    calls: list[tuple[str, int, list[Any]]] = [
        (fresh[0], 0, [new_event(n=1)]),  # the leader: alone in the first commit
        *[(stream, 0, [new_event(n=2), new_event(n=3)]) for stream in fresh[1:]],
        (raced, 1, [new_event(n=4)]),
        (raced, 1, [new_event(n=5)]),  # the same expected version: exactly one wins
        (stream_name(), 0, [reused]),  # an id recorded in another stream
    ]
    outcomes: dict[int, Any] = {}

    def call(n: int) -> None:
        stream, expected, events = calls[n]
        try:
            outcomes[n] = store.append(stream, expected, events)
        except (ConcurrencyError, EventIdConflict) as failure:
            outcomes[n] = failure

    leader = threading.Thread(target=call, args=(0,))
    leader.start()
    time.sleep(0.3)  # the leader is now waiting in BEGIN IMMEDIATE
    followers = [threading.Thread(target=call, args=(n,)) for n in range(1, len(calls))]
    for follower in followers:
        follower.start()
    time.sleep(0.5)  # every follower has queued behind the leader's commit
    assert outcomes == {}
    blocker.execute("COMMIT")
    for thread in [leader, *followers]:
        thread.join(timeout=30)
    blocker.close()

    try:
        assert store.commits - commits_before == 2
        for n in range(6):
            stream, _, events = calls[n]
            assert [e.event_id for e in outcomes[n]] == [e.event_id for e in events]
            assert store.read_stream(stream) == outcomes[n]
        race = [outcomes[6], outcomes[7]]
        won = [o for o in race if isinstance(o, list)]
        lost = [o for o in race if isinstance(o, ConcurrencyError)]
        assert len(won) == 1
        assert len(lost) == 1
        assert lost[0].actual == 2
        assert [e.version for e in store.read_stream(raced)] == [1, 2]
        assert isinstance(outcomes[8], EventIdConflict)
        assert store.read_stream(calls[8][0]) == []
        assert store.last_position() == 2 + 1 + 5 * 2 + 1
    finally:
        store.close()
