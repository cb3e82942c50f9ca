"""`execute`: decide on the state, append at its version, decide again after a conflict,
and give up naming the stream and the versions (services/commands.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar
from uuid import uuid4

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from domain.access import Principal, Role
from domain.envelope import SYSTEM_ACTOR
from services.commands import Stamp, StreamContended, execute
from services.ports import EventIdConflict
from services.repository import Repository
from tests.store_wrappers import ReadsCounted
from tests.unit.command_path import COUNTER, STAMP, Count, Tick, ticks

ALICE = Principal("alice", frozenset({Role.GENERATOR_STANDARD}), "marketing", None)


@pytest.fixture
def store(tmp_path: Path) -> ReadsCounted:
    return ReadsCounted(SqliteEventStore(tmp_path / "events.db"))


def up_to(limit: int, seen: list[int]) -> Callable[[Count], list[Tick]]:
    """A decision: add one while the total is under `limit`; notes each state's version."""

    def decide(state: Count) -> list[Tick]:
        seen.append(state.version)
        return [Tick(n=1)] if state.total < limit else []

    return decide


def test_a_decision_on_a_stale_cached_state_conflicts_and_is_made_again(
    store: ReadsCounted,
) -> None:
    mine, theirs = Repository(store), Repository(store)  # two processes
    store.append("c-1", 0, ticks(1))
    stale = mine.load(COUNTER, "c-1")
    execute(theirs, COUNTER, "c-1", lambda _: [Tick(n=1)], STAMP)  # total 2 now
    seen: list[int] = []

    decided = execute(mine, COUNTER, "c-1", up_to(2, seen), STAMP, start=stale)

    assert seen == [1, 2]  # decided on the cache, then on what the winner recorded
    assert decided.recorded == []
    assert decided.after.state == Count(2, 2)
    assert [e.data["n"] for e in store.read_stream("c-1")] == [1, 1]


def test_a_conflict_reads_only_what_the_winner_appended(store: ReadsCounted) -> None:
    repository = Repository(store)
    store.append("c-1", 0, ticks(1, 1))
    raced = False

    def racing(state: Count) -> list[Tick]:
        nonlocal raced
        if not raced:  # another writer gets in between this decision and its append
            raced = True
            store.append("c-1", state.version, ticks(3))
        return [Tick(n=10)]

    decided = execute(repository, COUNTER, "c-1", racing, STAMP)

    assert (decided.before.version, [e.version for e in decided.recorded]) == (3, [4])
    assert decided.after.state == Count(4, 15)
    assert store.reads == [("c-1", 1), ("c-1", 3)]


def test_giving_up_names_the_stream_the_attempts_and_the_versions(
    store: ReadsCounted,
) -> None:
    repository = Repository(store)

    def always_beaten(state: Count) -> list[Tick]:
        store.append("c-1", state.version, ticks(1))
        return [Tick(n=1)]

    with pytest.raises(StreamContended) as gave_up:
        execute(repository, COUNTER, "c-1", always_beaten, STAMP, attempts=3)

    assert str(gave_up.value) == (
        "gave up on stream 'c-1' after 3 attempts: the last decision was made at version 2,"
        " and the stream was at version 3"
    )
    assert (gave_up.value.stream_id, gave_up.value.attempts) == ("c-1", 3)
    assert len(store.read_stream("c-1")) == 3  # only the winners' events


def test_a_refusal_raised_by_the_decision_appends_nothing(store: ReadsCounted) -> None:
    def refuse(_: Count) -> list[Tick]:
        raise LookupError("refused")

    with pytest.raises(LookupError, match="refused"):
        execute(Repository(store), COUNTER, "c-1", refuse, STAMP)
    assert store.read_stream("c-1") == []


def test_a_new_stream_is_decided_without_reading_it(store: ReadsCounted) -> None:
    seen: list[int] = []
    decided = execute(Repository(store), COUNTER, "c-new", up_to(1, seen), STAMP, new_stream=True)
    assert store.reads == []
    assert (seen, decided.after.state) == ([0], Count(1, 1))


def test_a_new_stream_that_exists_is_decided_again_on_what_is_there(
    store: ReadsCounted,
) -> None:
    store.append("c-1", 0, ticks(1))
    seen: list[int] = []
    decided = execute(Repository(store), COUNTER, "c-1", up_to(1, seen), STAMP, new_stream=True)
    assert seen == [0, 1]
    assert decided.recorded == []
    assert len(store.read_stream("c-1")) == 1


def test_a_keyed_stamp_makes_the_same_ids_and_names_its_actors() -> None:
    correlation_id, fixed = uuid4(), uuid4()
    stamp = Stamp(correlation_id, key="step", actors={"Tick": ALICE.to_actor()})
    first = stamp.events([Tick(n=1), Tick(n=2)])
    again = stamp.events([Tick(n=1), Tick(n=2)])
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].event_id != first[1].event_id
    assert {e.actor for e in first} == {ALICE.to_actor()}
    assert {e.correlation_id for e in first} == {correlation_id}
    unkeyed = Stamp(correlation_id, fixed_ids={"Tick": fixed}).events([Tick(n=1)])
    assert (unkeyed[0].event_id, unkeyed[0].actor) == (fixed, SYSTEM_ACTOR)
    assert Stamp(correlation_id).events([Tick(n=1)])[0].event_id != first[0].event_id


def test_a_stale_decision_repeating_a_fixed_id_the_winner_recorded_is_a_lost_race(
    store: ReadsCounted,
) -> None:
    """Two deliveries of one charge: the same fixed id, each beside an event of its own."""
    fixed = uuid4()
    stamp = Stamp(STAMP.correlation_id, fixed_ids={Tick.TYPE: fixed})
    store.append("c-1", 0, ticks(1))
    stale = Repository(store).load(COUNTER, "c-1")
    store.append("c-1", 1, ticks(5))  # another generation's
    winner = Stamp(STAMP.correlation_id).events([Tick(n=1)])
    store.append("c-1", 2, [winner[0].model_copy(update={"event_id": fixed}), *ticks(7)])
    seen: list[int] = []

    def once(state: Count) -> list[Tick]:
        seen.append(state.version)
        # The first decision asked the store before the winner appended.
        if len(seen) > 1 and store.find_event("c-1", fixed) is not None:
            return []
        return [Tick(n=1), Tock(n=2)]

    decided = execute(Repository(store), COUNTER, "c-1", once, stamp, start=stale)
    assert seen == [1, 4]
    assert decided.recorded == []
    assert decided.after.state == Count(4, 14)


def test_a_fixed_id_reused_at_the_streams_head_is_raised(store: ReadsCounted) -> None:
    fixed = uuid4()
    store.append("c-1", 0, [ticks(1)[0].model_copy(update={"event_id": fixed})])
    stamp = Stamp(STAMP.correlation_id, fixed_ids={Tick.TYPE: fixed})
    with pytest.raises(EventIdConflict):
        execute(Repository(store), COUNTER, "c-1", lambda _: [Tick(n=3), Tock(n=4)], stamp)
    assert len(store.read_stream("c-1")) == 1


class Tock(Tick):
    """Another kind of tick, so that a batch holds an id besides the fixed one."""

    TYPE: ClassVar[str] = "Tock"


def test_deciders_in_one_process_take_turns_instead_of_racing(store: ReadsCounted) -> None:
    repository = Repository(store)
    first_deciding, decisions = threading.Event(), []

    def slow(state: Count) -> list[Tick]:
        decisions.append(("slow", state.version))
        first_deciding.set()
        time.sleep(0.3)  # long enough for the other thread to reach its turn
        return [Tick(n=1)]

    def quick(state: Count) -> list[Tick]:
        decisions.append(("quick", state.version))
        return [Tick(n=2)]

    slow_thread = threading.Thread(
        target=execute, args=(repository, COUNTER, "c-1", slow, STAMP), kwargs={"new_stream": True}
    )
    slow_thread.start()
    assert first_deciding.wait(5)
    execute(repository, COUNTER, "c-1", quick, STAMP)
    slow_thread.join(5)

    # Each decided once, the second on what the first recorded: nobody lost a race.
    assert decisions == [("slow", 0), ("quick", 1)]
    assert [e.data["n"] for e in store.read_stream("c-1")] == [1, 2]
