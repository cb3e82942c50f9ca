"""The `EventStore` port's contract, written once for every adapter.

An adapter's test module subclasses `EventStoreContract` and provides a `store` fixture
that yields a fresh, empty store the test may share between threads, and an `audit_log`
fixture: the log `audit verify` reads that store through.

    class TestCosmosEventStore(EventStoreContract):
        @pytest.fixture
        def store(self, cosmos_container) -> Iterator[EventStore]:
            yield CosmosEventStore(cosmos_container)

        @pytest.fixture
        def audit_log(self, cosmos_container) -> CosmosAuditLog:
            return CosmosAuditLog(cosmos_container)

Only what every adapter can guarantee lives here. What one technology adds (the SQLite
global order, cross-stream `event_id` uniqueness, several processes on one file) is tested
beside that adapter.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from adapters.fs_seal_store import FsSealStore
from domain.envelope import (
    GENESIS_HASH,
    Actor,
    Event,
    NewEvent,
    recompute_hash,
)
from services.audit_verify import StreamwiseLog, VerifiableLog, verify_log
from services.ports import ConcurrencyError, EventStore

REQUESTER = Actor(user_id="user-7", roles=("Generator.Standard",), department_id="dept-ops")
RACERS = 8


def new_event(type_: str = "GenerationRequested", **data: Any) -> NewEvent:
    return NewEvent(
        type=type_,
        data=data or {"prompt_ciphertext": "abc", "estimate_aud": "0.040"},
        actor=REQUESTER,
        correlation_id=uuid4(),
    )


def stream_name(prefix: str = "generation") -> str:
    return f"{prefix}-{uuid4()}"


class EventStoreContract:
    """Base class: subclasses provide the `store` fixture (a fresh, empty store)."""

    # --- append and read back ---------------------------------------------------------

    def test_appended_events_read_back_with_every_field(self, store: EventStore) -> None:
        stream = stream_name()
        causation = uuid4()
        sent = [
            NewEvent(
                type="GenerationRequested",
                data={"prompt_ciphertext": "x1", "size": "1024x1024"},
                actor=REQUESTER,
                correlation_id=uuid4(),
                causation_id=causation,
                schema_version=2,
            ),
            new_event("PromptScreened", outcome="allowed"),
        ]
        before = datetime.now(UTC)
        returned = store.append(stream, 0, sent)
        after = datetime.now(UTC)

        read = store.read_stream(stream)

        assert read == returned
        for new, event in zip(sent, read, strict=True):
            assert event.event_id == new.event_id
            assert event.stream_id == stream
            assert event.type == new.type
            assert event.schema_version == new.schema_version
            assert event.correlation_id == new.correlation_id
            assert event.causation_id == new.causation_id
            assert event.actor == REQUESTER
            assert event.data == new.data
            assert event.recorded_at.utcoffset() is not None
            assert before <= event.recorded_at <= after
        assert [e.version for e in read] == [1, 2]
        assert read[0].causation_id == causation

    def test_versions_are_gapless_and_the_hash_chain_links_every_event(
        self, store: EventStore
    ) -> None:
        stream = stream_name()
        store.append(stream, 0, [new_event(n=1)])
        store.append(stream, 1, [new_event(n=2), new_event(n=3)])
        store.append(stream, 3, [new_event(n=4)])

        read = store.read_stream(stream)

        assert [e.version for e in read] == [1, 2, 3, 4]
        assert [e.data["n"] for e in read] == [1, 2, 3, 4]
        assert read[0].prev_hash == GENESIS_HASH
        for previous, event in itertools.pairwise(read):
            assert event.prev_hash == previous.hash
        for event in read:
            assert event.hash == recompute_hash(event)

    def test_read_events_are_the_domain_model(self, store: EventStore) -> None:
        stream = stream_name()
        store.append(stream, 0, [new_event()])

        (event,) = store.read_stream(stream)

        assert Event.model_validate(event.model_dump()) == event
        assert isinstance(event.event_id, UUID)
        assert isinstance(event.actor.roles, tuple)
        retyped = event.model_copy(update={"type": "Tampered"})
        assert retyped.type == "Tampered"
        assert recompute_hash(retyped) != event.hash

    def test_streams_are_independent(self, store: EventStore) -> None:
        first, second = stream_name(), stream_name()
        store.append(first, 0, [new_event(n=1)])
        store.append(second, 0, [new_event(n=2)])

        assert [e.data["n"] for e in store.read_stream(first)] == [1]
        assert [e.data["n"] for e in store.read_stream(second)] == [2]
        assert store.read_stream(second)[0].version == 1

    def test_read_stream_from_version(self, store: EventStore) -> None:
        stream = stream_name()
        store.append(stream, 0, [new_event(n=n) for n in range(1, 6)])

        assert [e.version for e in store.read_stream(stream, from_version=3)] == [3, 4, 5]
        assert [e.version for e in store.read_stream(stream, from_version=5)] == [5]
        assert store.read_stream(stream, from_version=6) == []

    def test_unknown_stream_reads_empty(self, store: EventStore) -> None:
        assert store.read_stream(stream_name("never-written")) == []

    def test_empty_append_writes_nothing(self, store: EventStore) -> None:
        stream = stream_name()
        assert store.append(stream, 0, []) == []
        assert store.read_stream(stream) == []

    def test_decimal_strings_and_unicode_round_trip_exactly(self, store: EventStore) -> None:
        stream = stream_name("budget-dépt-東京-2025-01")
        data = {
            "amount_aud": "0.10",
            "limit_aud": "1E+3",
            "reserved_aud": "12.500",
            "tiny_aud": "0.0000000000000000000001",
            "prompt": 'Ünïcödé 東京 🎨 «quotes» "escaped" \\ back\nline\u2028sep \x00nul',
            "nested": {"list": [1, None, True, "ß"], "empty": {}},
        }
        actor = Actor(user_id="usér-東", roles=("Dept.Manager", "Génerator.Power"))
        store.append(
            stream,
            0,
            [NewEvent(type="BudgetSet", data=data, actor=actor, correlation_id=uuid4())],
        )

        (event,) = store.read_stream(stream)

        assert event.stream_id == stream
        assert event.data == data
        assert event.data["reserved_aud"] == "12.500"
        assert event.actor == actor
        assert event.hash == recompute_hash(event)

    # --- optimistic concurrency -------------------------------------------------------

    def test_expected_version_conflict_names_the_actual_version_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        stream = stream_name()
        store.append(stream, 0, [new_event(), new_event()])

        with pytest.raises(ConcurrencyError) as raised:
            store.append(stream, 1, [new_event(n=99)])

        assert (raised.value.stream_id, raised.value.expected, raised.value.actual) == (
            stream,
            1,
            2,
        )
        assert [e.version for e in store.read_stream(stream)] == [1, 2]

    def test_expecting_a_version_of_an_unknown_stream_conflicts_at_zero(
        self, store: EventStore
    ) -> None:
        stream = stream_name()
        with pytest.raises(ConcurrencyError) as raised:
            store.append(stream, 3, [new_event()])
        assert raised.value.actual == 0
        assert store.read_stream(stream) == []

    def test_multi_event_append_is_all_or_nothing(self, store: EventStore) -> None:
        stream = stream_name()
        (head,) = store.append(stream, 0, [new_event(n=1)])
        batch = [new_event(n=n) for n in (2, 3, 4)]

        with pytest.raises(ConcurrencyError):
            store.append(stream, 0, batch)

        assert store.read_stream(stream) == [head]
        with pytest.raises(ValueError, match="event id"):
            store.append(stream, 1, [batch[0], batch[1], batch[0]])
        assert store.read_stream(stream) == [head]

    @pytest.mark.parametrize("head_known", [False, True], ids=["head-read", "head-hash-given"])
    def test_racing_appends_at_one_version_have_exactly_one_winner(
        self, store: EventStore, head_known: bool
    ) -> None:
        stream = stream_name()
        (head,) = store.append(stream, 0, [new_event(n=0)])
        head_hash = head.hash if head_known else None
        start = threading.Barrier(RACERS)
        winners: list[Event] = []
        conflicts: list[ConcurrencyError] = []
        failures: list[BaseException] = []

        def race(n: int) -> None:
            start.wait()
            try:
                winners.extend(store.append(stream, 1, [new_event(n=n)], head_hash=head_hash))
            except ConcurrencyError as conflict:
                conflicts.append(conflict)
            except BaseException as failure:  # surfaced by the assertion below
                failures.append(failure)

        threads = [threading.Thread(target=race, args=(n,)) for n in range(1, RACERS + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert failures == []
        assert len(winners) == 1
        assert len(conflicts) == RACERS - 1
        assert {c.actual for c in conflicts} == {2}
        read = store.read_stream(stream)
        assert [e.version for e in read] == [1, 2]
        assert read[1] == winners[0]
        assert read[1].prev_hash == read[0].hash

    # --- appends given the head's hash ----------------------------------------------

    def test_appends_given_the_heads_hash_chain_as_appends_that_read_it(
        self, store: EventStore
    ) -> None:
        stream = stream_name()
        (first,) = store.append(stream, 0, [new_event(n=1)], head_hash=GENESIS_HASH)
        second, third = store.append(
            stream, 1, [new_event(n=2), new_event(n=3)], head_hash=first.hash
        )
        (read_head,) = store.read_stream(stream, from_version=3)
        store.append(stream, 3, [new_event(n=4)], head_hash=read_head.hash)

        read = store.read_stream(stream)

        assert [e.data["n"] for e in read] == [1, 2, 3, 4]
        assert read[:3] == [first, second, third]
        assert read[0].prev_hash == GENESIS_HASH
        for previous, event in itertools.pairwise(read):
            assert event.prev_hash == previous.hash
        for event in read:
            assert event.hash == recompute_hash(event)

    def test_a_stale_version_and_its_hash_conflict_naming_the_actual_version(
        self, store: EventStore
    ) -> None:
        stream = stream_name()
        first, second = store.append(stream, 0, [new_event(n=1), new_event(n=2)])
        store.append(stream, 2, [new_event(n=3)], head_hash=second.hash)

        for expected, head in ((1, first), (2, second)):
            with pytest.raises(ConcurrencyError) as raised:
                store.append(stream, expected, [new_event(n=99)], head_hash=head.hash)
            assert (raised.value.expected, raised.value.actual) == (expected, 3)

        assert [e.data["n"] for e in store.read_stream(stream)] == [1, 2, 3]

    def test_repeating_an_append_given_the_heads_hash_returns_the_recorded_events(
        self, store: EventStore
    ) -> None:
        stream = stream_name()
        (head,) = store.append(stream, 0, [new_event(n=1)])
        batch = [new_event(n=2), new_event(n=3)]
        recorded = store.append(stream, 1, batch, head_hash=head.hash)

        assert store.append(stream, 1, batch, head_hash=head.hash) == recorded
        store.append(stream, 3, [new_event(n=4)], head_hash=recorded[-1].hash)
        assert store.append(stream, 1, batch, head_hash=head.hash) == recorded
        assert [e.data["n"] for e in store.read_stream(stream)] == [1, 2, 3, 4]

    def test_audit_verify_holds_after_appends_given_the_heads_hash(
        self, store: EventStore, audit_log: VerifiableLog | StreamwiseLog, tmp_path: Path
    ) -> None:
        streams = [stream_name() for _ in range(3)]
        heads = {stream: store.append(stream, 0, [new_event(n=0)])[-1] for stream in streams}
        for n in range(1, 5):
            for stream in streams:
                head = heads[stream]
                batch = [new_event(n=n)] if n % 2 else [new_event(n=n), new_event(n=-n)]
                heads[stream] = store.append(stream, head.version, batch, head_hash=head.hash)[-1]

        report = verify_log(audit_log, FsSealStore(tmp_path / "seals"))

        assert report.problems == ()
        assert (report.events, report.streams, report.complete) == (3 * 7, 3, True)

    def test_a_new_stream_refuses_a_head_hash_other_than_the_genesis_hash(
        self, store: EventStore
    ) -> None:
        stream = stream_name()
        with pytest.raises(ValueError, match="genesis"):
            store.append(stream, 0, [new_event()], head_hash="ab" * 32)
        assert store.read_stream(stream) == []

    # --- idempotent append ------------------------------------------------------------

    def test_appending_the_same_events_again_returns_them_and_adds_nothing(
        self, store: EventStore
    ) -> None:
        stream = stream_name()
        batch = [new_event(n=1), new_event(n=2)]
        first = store.append(stream, 0, batch)
        store.append(stream, 2, [new_event(n=3)])

        again = store.append(stream, 0, batch)

        assert again == first
        assert [e.data["n"] for e in store.read_stream(stream)] == [1, 2, 3]

    def test_retrying_with_a_stale_expected_version_is_still_a_no_op(
        self, store: EventStore
    ) -> None:
        stream = stream_name()
        event = new_event()
        (recorded,) = store.append(stream, 0, [event])

        assert store.append(stream, 0, [event]) == [recorded]
        assert store.append(stream, 1, [event]) == [recorded]  # the head: no longer stale
        assert store.append(stream, 7, [event]) == [recorded]
        assert store.read_stream(stream) == [recorded]

    def test_a_partly_recorded_batch_is_refused_and_writes_nothing(self, store: EventStore) -> None:
        stream = stream_name()
        recorded = new_event(n=1)
        store.append(stream, 0, [recorded])

        for expected in (0, 1):
            with pytest.raises(ValueError, match=str(recorded.event_id)):
                store.append(stream, expected, [recorded, new_event(n=2)])
            with pytest.raises(ValueError, match=str(recorded.event_id)):
                store.append(stream, expected, [new_event(n=2), recorded])

        assert [e.event_id for e in store.read_stream(stream)] == [recorded.event_id]
