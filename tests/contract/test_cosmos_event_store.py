"""The Cosmos DB event store against `@vercel/cosmosdb-server`: the port's contract, then
what only Cosmos has (items, batches, replay across partitions, request units, indexing).

Where the emulator differs from the real service the test says so and checks what the
emulator can show (see tests/cosmos_fixtures.py for the list).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest
from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy, PartitionKey
from azure.cosmos.exceptions import CosmosHttpResponseError, CosmosResourceExistsError

from adapters.cosmos_audit_log import CosmosAuditLog
from adapters.cosmos_event_store import (
    INDEXING_POLICY,
    MAX_BATCH_OPERATIONS,
    CosmosEventStore,
    ensure_event_container,
    item_id,
)
from domain.envelope import Event, recompute_hash
from services.ports import ConcurrencyError, EventIdConflict, EventStore
from tests.contract.event_store_contract import (
    EventStoreContract,
    new_event,
    stream_name,
)

if TYPE_CHECKING:
    from tests.cosmos_fixtures import WireLog

# The Cosmos fixtures, as a plugin: see tests/cosmos_fixtures.py for why not an import.
pytest_plugins = ["tests.cosmos_fixtures"]


class TestCosmosEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, cosmos_database: DatabaseProxy) -> CosmosEventStore:
        return CosmosEventStore(ensure_event_container(cosmos_database))

    @pytest.fixture
    def audit_log(self, cosmos_database: DatabaseProxy) -> CosmosAuditLog:
        return CosmosAuditLog(ensure_event_container(cosmos_database))

    def test_a_partly_recorded_batch_is_refused_and_writes_nothing(self, store: EventStore) -> None:
        """The contract's test, except where the emulator keeps part of a failed batch.

        Appending [new, recorded] at the head makes a batch whose first create succeeds
        and whose second conflicts on the event id's unique key. The real service rolls
        the batch back ([424, 409]); the emulator answers [201, 409] and keeps the first
        create. The adapter refuses the append either way, which is what this checks,
        and the emulator's leftover is asserted so that a fixed emulator fails this test
        and sends it back to the contract's version.
        """
        stream = stream_name()
        recorded = new_event(n=1)
        store.append(stream, 0, [recorded])
        cases = [(0, "recorded first"), (0, "recorded last"), (1, "recorded first")]
        for expected, order in cases:  # the same as the contract: nothing is kept
            fresh = new_event(n=2)
            batch = [recorded, fresh] if order == "recorded first" else [fresh, recorded]
            with pytest.raises(EventIdConflict, match=str(recorded.event_id)):
                store.append(stream, expected, batch)
        assert [e.event_id for e in store.read_stream(stream)] == [recorded.event_id]

        kept_by_the_emulator = new_event(n=2)
        with pytest.raises(EventIdConflict, match=str(recorded.event_id)):
            store.append(stream, 1, [kept_by_the_emulator, recorded])

        read = store.read_stream(stream)
        # Real Cosmos: [recorded.event_id] alone.
        assert [e.event_id for e in read] == [recorded.event_id, kept_by_the_emulator.event_id]
        assert read[1].prev_hash == read[0].hash


@pytest.fixture
def container(cosmos_database: DatabaseProxy) -> ContainerProxy:
    return ensure_event_container(cosmos_database)


@pytest.fixture
def store(container: ContainerProxy) -> CosmosEventStore:
    return CosmosEventStore(container)


# --- items and batches ------------------------------------------------------------------


def test_an_event_is_one_item_keyed_by_its_zero_padded_version_in_its_stream_partition(
    container: ContainerProxy,
) -> None:
    sydney = timezone(timedelta(hours=11))
    moment = datetime(2025, 1, 31, 9, 30, 0, 5, tzinfo=sydney)
    store = CosmosEventStore(container, clock=lambda: moment)
    stream = stream_name()
    first, second = store.append(stream, 0, [new_event(n=1), new_event(n=2, amount="0.10")])

    item = container.read_item(item_id(2), partition_key=stream)

    assert item_id(2) == "0000000002"
    stored = {key: value for key, value in item.items() if not key.startswith("_")}
    assert stored == {
        "id": "0000000002",
        "streamId": stream,
        "version": 2,
        "eventId": str(second.event_id),
        "type": "GenerationRequested",
        "schemaVersion": 1,
        "recordedAt": "2025-01-30T22:30:00.000005Z",
        "correlationId": str(second.correlation_id),
        "causationId": None,
        "actor": {
            "user_id": "user-7",
            "roles": ["Generator.Standard"],
            "department_id": "dept-ops",
        },
        "data": {"n": 2, "amount": "0.10"},
        "dataText": '{"amount":"0.10","n":2}',  # as hashed: see the module's docstring
        "prevHash": first.hash,
        "hash": second.hash,
    }
    assert store.read_stream(stream) == [first, second]
    assert second.recorded_at == moment
    assert second.recorded_at.utcoffset() == timedelta(0)
    items = container.query_items(
        "SELECT c.id FROM c WHERE c.streamId = @stream",
        parameters=[{"name": "@stream", "value": stream}],
        partition_key=stream,
    )
    assert sorted(item["id"] for item in items) == ["0000000001", "0000000002"]


def test_a_multi_event_append_is_one_transactional_batch(
    store: CosmosEventStore, cosmos_wire: WireLog
) -> None:
    stream = stream_name()

    mark = cosmos_wire.mark()
    store.append(stream, 0, [new_event(n=n) for n in (1, 2, 3)])
    new_stream = cosmos_wire.since(mark)
    mark = cosmos_wire.mark()
    store.append(stream, 3, [new_event(n=n) for n in (4, 5)])
    existing_stream = cosmos_wire.since(mark)

    # A new stream needs no read: the batch's create of version 1 finds out.
    assert [(r.method, r.is_batch, r.partition_key, r.status) for r in new_stream] == [
        ("POST", True, stream, 200)
    ]
    assert [(r.is_query, r.is_batch, r.partition_key) for r in existing_stream] == [
        (True, False, stream),  # the head
        (False, True, stream),
    ]
    assert [e.version for e in store.read_stream(stream)] == [1, 2, 3, 4, 5]


def test_a_batch_that_loses_a_race_writes_none_of_its_events(container: ContainerProxy) -> None:
    """The rival appends between the loser's head read and its batch (from the loser's
    clock, which is called in between). The loser's first create conflicts, so the whole
    batch fails ([409, 424, 424]), on the emulator as on the real service."""
    stream = stream_name()
    rival = CosmosEventStore(container)
    (head,) = rival.append(stream, 0, [new_event(n=1)])
    rival_events: list[Event] = []

    def clock_that_lets_the_rival_in() -> datetime:
        rival_events.extend(rival.append(stream, 1, [new_event(n=2)]))
        return datetime.now(UTC)

    loser = CosmosEventStore(container, clock=clock_that_lets_the_rival_in)
    with pytest.raises(ConcurrencyError) as raised:
        loser.append(stream, 1, [new_event(n=n) for n in (20, 30, 40)])

    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert rival.read_stream(stream) == [head, *rival_events]


def test_racing_appends_from_separate_clients_have_exactly_one_winner(
    new_cosmos_client: Callable[[], CosmosClient],
    cosmos_database: DatabaseProxy,
    container: ContainerProxy,
) -> None:
    """As separate hosts would: a client each, two events per append."""
    racers = 4
    stream = stream_name()
    CosmosEventStore(container).append(stream, 0, [new_event(n=0)])
    stores = [
        CosmosEventStore(
            new_cosmos_client()
            .get_database_client(cosmos_database.id)
            .get_container_client(container.id)
        )
        for _ in range(racers)
    ]
    start = threading.Barrier(racers)
    outcomes: list[list[Event] | BaseException] = []

    def race(racer: CosmosEventStore, n: int) -> None:
        start.wait()
        try:
            outcomes.append(racer.append(stream, 1, [new_event(n=n), new_event(n=n)]))
        except BaseException as failure:  # ConcurrencyError expected; others surface below
            outcomes.append(failure)

    threads = [threading.Thread(target=race, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    won = [o for o in outcomes if isinstance(o, list)]
    lost = [o for o in outcomes if isinstance(o, ConcurrencyError)]
    assert [o for o in outcomes if isinstance(o, BaseException)] == lost
    assert (len(won), len(lost)) == (1, racers - 1)
    assert {c.actual for c in lost} == {3}
    read = stores[0].read_stream(stream)
    assert read[1:] == won[0]
    assert [e.version for e in read] == [1, 2, 3]


def test_more_events_than_a_batch_holds_are_refused_before_writing(
    store: CosmosEventStore, cosmos_wire: WireLog
) -> None:
    stream = stream_name()
    mark = cosmos_wire.mark()

    with pytest.raises(ValueError, match="at most 100"):
        store.append(stream, 0, [new_event(n=n) for n in range(MAX_BATCH_OPERATIONS + 1)])

    assert cosmos_wire.since(mark) == []
    assert (
        len(store.append(stream, 0, [new_event(n=n) for n in range(MAX_BATCH_OPERATIONS)])) == 100
    )


def test_a_naive_clock_is_refused(container: ContainerProxy) -> None:
    store = CosmosEventStore(container, clock=lambda: datetime(2025, 1, 1))
    stream = stream_name()
    with pytest.raises(ValueError, match="timezone-aware"):
        store.append(stream, 0, [new_event()])
    assert store.read_stream(stream) == []


# --- replay across streams ------------------------------------------------------------


class SteppingClock:
    """Returns the moments it is set to, one per append."""

    def __init__(self, *moments: datetime) -> None:
        self._moments = list(moments)

    def __call__(self) -> datetime:
        return self._moments.pop(0)


T0 = datetime(2025, 3, 1, 0, 0, 0, 1, tzinfo=UTC)


def test_replay_orders_every_stream_by_recorded_at_then_stream_then_version(
    container: ContainerProxy, cosmos_wire: WireLog
) -> None:
    suffix = uuid4()
    a, b, c = (f"{prefix}-{suffix}" for prefix in ("a", "b", "c"))
    later, latest = T0 + timedelta(microseconds=1), T0 + timedelta(seconds=1)
    store = CosmosEventStore(container, clock=SteppingClock(later, T0, later, latest, T0))
    store.append(c, 0, [new_event(n=1), new_event(n=2)])  # later
    store.append(b, 0, [new_event(n=3)])  # T0
    store.append(a, 0, [new_event(n=4)])  # later
    store.append(b, 1, [new_event(n=5)])  # latest
    store.append(a, 1, [new_event("PromptScreened", n=6)])  # T0: an earlier time than v1

    mark = cosmos_wire.mark()
    replayed = list(store.read_all_ordered(page_size=2))
    pages = [r for r in cosmos_wire.since(mark) if r.is_query]

    assert [(e.recorded_at, e.stream_id, e.version) for e in replayed] == [
        (T0, a, 2),
        (T0, b, 1),
        (later, a, 1),
        (later, c, 1),
        (later, c, 2),
        (latest, b, 2),
    ]
    assert [e.data["n"] for e in replayed] == [6, 3, 4, 1, 2, 5]
    assert len(pages) >= 3  # six events, two a page
    assert all(e.hash == recompute_hash(e) for e in replayed)
    assert [e for e in replayed if e.stream_id == c] == store.read_stream(c)
    window = store.read_all_ordered(recorded_from=later, recorded_before=latest)
    assert [(e.stream_id, e.version) for e in window] == [(a, 1), (c, 1), (c, 2)]
    screened = store.read_all_ordered(types={"PromptScreened"}, recorded_from=T0)
    assert [(e.stream_id, e.version) for e in screened] == [(a, 2)]


def test_replay_needs_the_composite_index(cosmos_database: DatabaseProxy) -> None:
    """The real service serves an ORDER BY on several fields only from a composite index;
    the emulator enforces that too, so this shows why the policy has one."""
    bare = cosmos_database.create_container(
        "events-without-composite-index", PartitionKey(path="/streamId")
    )
    store = CosmosEventStore(bare)
    store.append(stream_name(), 0, [new_event()])

    with pytest.raises(CosmosHttpResponseError, match="composite index"):
        list(store.read_all_ordered())


# --- request units --------------------------------------------------------------------


def test_every_operation_is_charged_to_its_stream_as_the_wire_shows(
    store: CosmosEventStore, cosmos_wire: WireLog, caplog: pytest.LogCaptureFixture
) -> None:
    """The emulator charges 1 RU per response, whatever it did, so the totals count
    requests here; the real service's charges differ, but are read the same way."""
    stream, other = stream_name(), stream_name()
    mark = cosmos_wire.mark()
    with caplog.at_level(logging.DEBUG, logger="adapters.cosmos_charges"):
        store.append(stream, 0, [new_event(n=1)])
        store.append(stream, 1, [new_event(n=2), new_event(n=3)])
        with pytest.raises(ConcurrencyError):
            store.append(stream, 1, [new_event(n=4)])
        store.read_stream(stream)
        store.append(other, 0, [new_event(n=5)])
        replayed = list(store.read_all_ordered())
    sent = cosmos_wire.since(mark)

    charges = store.request_charges
    on_stream = [r for r in sent if r.partition_key == stream]
    assert charges.of_stream(stream) == sum(r.request_charge for r in on_stream) > 0
    assert charges.of_stream(other) == 1.0
    assert charges.total == sum(r.request_charge for r in sent)
    assert len(replayed) == 4
    logged = [r.getMessage() for r in caplog.records if r.name == "adapters.cosmos_charges"]
    assert sum(stream in message for message in logged) == len(on_stream)
    assert any(message.endswith(f"on {stream}: 1.00 RU") for message in logged)
    assert any("all streams" in message for message in logged)  # the replay
    assert charges.take(stream) == len(on_stream)
    assert charges.of_stream(stream) == 0.0


def test_a_conflicting_batch_is_charged_too(store: CosmosEventStore, cosmos_wire: WireLog) -> None:
    stream = stream_name()
    store.append(stream, 0, [new_event(n=1)])
    before = store.request_charges.of_stream(stream)
    mark = cosmos_wire.mark()

    with pytest.raises(ConcurrencyError):
        store.append(stream, 0, [new_event(n=2)])  # expected 0: straight to the batch

    sent = cosmos_wire.since(mark)
    assert [(r.is_batch, r.is_query) for r in sent] == [
        (True, False),  # refused: version 1 exists
        (False, True),  # are these event ids recorded? (a retry)
        (False, True),  # the head, for the error
    ]
    assert store.request_charges.of_stream(stream) - before == sum(r.request_charge for r in sent)


def test_an_append_given_the_heads_hash_is_its_batch_alone(
    store: CosmosEventStore, cosmos_wire: WireLog
) -> None:
    stream = stream_name()
    (head,) = store.append(stream, 0, [new_event(n=1)])
    mark = cosmos_wire.mark()

    store.append(stream, 1, [new_event(n=2)], head_hash=head.hash)
    with pytest.raises(ConcurrencyError) as raised:
        store.append(stream, 1, [new_event(n=3)], head_hash=head.hash)

    sent = cosmos_wire.since(mark)
    assert [(r.is_batch, r.is_query) for r in sent] == [
        (True, False),  # version 2, chained after the hash given: no head read
        (True, False),  # version 2 again: refused
        (False, True),  # are these event ids recorded? (a retry)
        (False, True),  # the head, for the error
    ]
    assert (raised.value.expected, raised.value.actual) == (1, 2)
    without_hash = cosmos_wire.mark()
    store.append(stream, 2, [new_event(n=3)])
    assert [r.is_query for r in cosmos_wire.since(without_hash)] == [True, False]


# --- the container ----------------------------------------------------------------------


def test_the_container_is_created_with_the_stores_policies(
    cosmos_database: DatabaseProxy, container: ContainerProxy
) -> None:
    properties = container.read()

    assert container.id == "events"
    assert properties["partitionKey"]["paths"] == ["/streamId"]
    assert properties["uniqueKeyPolicy"] == {"uniqueKeys": [{"paths": ["/eventId"]}]}
    policy = properties["indexingPolicy"]
    assert policy["includedPaths"] == [
        {"path": "/streamId/?"},
        {"path": "/version/?"},
        {"path": "/eventId/?"},
        {"path": "/recordedAt/?"},
        {"path": "/type/?"},
        {"path": "/_ts/?"},
    ]
    assert policy["excludedPaths"] == [{"path": "/*"}]  # so `/data/*` and `/actor/*` too
    assert policy["compositeIndexes"] == INDEXING_POLICY["compositeIndexes"]
    assert ensure_event_container(cosmos_database).read()["_rid"] == properties["_rid"]


def test_the_unique_key_refuses_an_event_id_twice_in_a_stream_but_not_across_streams(
    container: ContainerProxy, store: CosmosEventStore
) -> None:
    """Cosmos scopes unique keys to a logical partition: an event id is unique within its
    stream, not across streams as in the SQLite store."""
    stream, elsewhere = stream_name(), stream_name()
    reused = new_event()
    store.append(stream, 0, [reused])
    duplicate = {
        key: value
        for key, value in container.read_item(item_id(1), partition_key=stream).items()
        if not key.startswith("_")
    }

    with pytest.raises(CosmosResourceExistsError):
        container.create_item({**duplicate, "id": item_id(2), "version": 2})

    (copied,) = store.append(elsewhere, 0, [reused])
    assert copied.event_id == reused.event_id
    assert [e.version for e in store.read_stream(stream)] == [1]
