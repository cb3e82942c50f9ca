"""The Cosmos DB view store against `@vercel/cosmosdb-server`: the views contract fed by
the change-feed projector, then what the change feed demands of it: redelivery is a
no-op, racing projector instances each apply their batch exactly once (ETags), and a
batch that fails part-way is applied in full when it is retried.

Change-feed batches are the event store's own items (`_item_of`) for events logged by
the contract's workload, interleaved across streams as the change feed may deliver them.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest
from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy

from adapters.cosmos_event_store import _item_of
from adapters.cosmos_view_versions import ViewVersions
from adapters.cosmos_views import (
    CONTAINER_ID,
    CosmosViewStore,
    SourceStreamMismatch,
    ensure_view_container,
)
from bootstrap import build_platform
from domain.envelope import Event, canonical_json
from projections import ALL_PROJECTIONS, budget, generation_status
from projections.base import Fact, Projection, View
from services.ports import ViewReader
from services.projection_feed import NotFedByChangeFeed, project_changes
from services.settings import Settings
from tests.contract.view_store_contract import (
    LoggedEvents,
    ViewStoreContract,
    change_feed_batches,
    log_workload,
    reference_views,
)
from tests.emulators import RunningEmulator

if TYPE_CHECKING:
    from tests.cosmos_fixtures import WireLog

pytest_plugins = ["tests.cosmos_fixtures"]

Items = list[dict[str, Any]]


def items_of(events: Sequence[Event]) -> Items:
    return [_item_of(event, canonical_json(event.data)) for event in events]


def project_all(views: CosmosViewStore, events: Sequence[Event], seed: int) -> None:
    """What the three triggers do: each projection sees every batch of the feed."""
    for projection in ALL_PROJECTIONS:
        for batch in change_feed_batches(events, seed):
            views.apply_changes(projection, items_of(batch))


class TestCosmosViewStore(ViewStoreContract):
    @pytest.fixture(scope="class")
    def reader(self, logged: LoggedEvents, cosmos_client: CosmosClient) -> Iterator[ViewReader]:
        name = f"test-{uuid4().hex}"
        database = cosmos_client.create_database(name)
        views = CosmosViewStore(ensure_view_container(database))
        project_all(views, logged.events, seed=1)
        yield views
        cosmos_client.delete_database(name)


# --- the projector's side ----------------------------------------------------------------


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> LoggedEvents:
    return log_workload(tmp_path_factory.mktemp("cosmos-views"), generations=12, seed=3)


@pytest.fixture
def container(cosmos_database: DatabaseProxy) -> ContainerProxy:
    return ensure_view_container(cosmos_database)


@pytest.fixture
def views(container: ContainerProxy) -> CosmosViewStore:
    return CosmosViewStore(container)


def busiest_month(events: Sequence[Event]) -> list[Event]:
    """The events of the budget stream with the most charges."""
    months: dict[str, list[Event]] = {}
    for event in events:
        if event.stream_id.startswith("budget-") and event.data.get("period"):
            months.setdefault(event.stream_id, []).append(event)
    return max(months.values(), key=lambda e: sum(x.type == "CostCharged" for x in e))


def charges(events: Sequence[Event]) -> Decimal:
    return sum(
        (Decimal(e.data["amount_aud"]) for e in events if e.type == "CostCharged"), Decimal(0)
    )


def test_a_redelivered_batch_changes_nothing_and_writes_nothing(
    views: CosmosViewStore, logged: LoggedEvents, cosmos_wire: WireLog
) -> None:
    month = busiest_month(logged.events)
    key = budget.keys(month[0])[0]
    first, rest = month[: len(month) // 2], month[len(month) // 2 :]
    assert views.apply_changes(budget.PROJECTION, items_of(first)) == 1
    before = views.get("budget", key)

    mark = cosmos_wire.mark()
    assert views.apply_changes(budget.PROJECTION, items_of(first)) == 0
    assert views.get("budget", key) == before
    assert [r.method for r in cosmos_wire.since(mark) if not r.is_query] == []  # only reads

    # A batch that overlaps what was applied folds only the new part.
    assert views.apply_changes(budget.PROJECTION, items_of(first[-2:] + rest)) == 1
    document = views.get("budget", key)
    assert document == reference_views(month)["budget"][key]
    assert document is not None
    assert Decimal(document["spent_aud"]) == charges(month) > 0


def test_items_of_other_types_and_streams_are_left_alone(
    views: CosmosViewStore, logged: LoggedEvents
) -> None:
    generation_events = [e for e in logged.events if e.stream_id.startswith("generation-")]
    assert views.apply_changes(budget.POLICY_PROJECTION, items_of(generation_events)) == 0
    assert list(views.list("budget_policy")) == []


def test_request_units_are_charged_to_the_stream_that_fed_the_document(
    views: CosmosViewStore, logged: LoggedEvents
) -> None:
    stream = next(e.stream_id for e in logged.events if e.stream_id.startswith("generation-"))
    events = [e for e in logged.events if e.stream_id == stream]
    views.apply_changes(generation_status.PROJECTION, items_of(events))
    # The emulator charges 1 RU per response: one read and one write here. The real
    # service charges by size and indexing, which a unit cannot be checked against.
    assert views.request_charges.of_stream(stream) == 2.0


def test_a_document_fed_by_a_second_stream_is_refused(
    views: CosmosViewStore, logged: LoggedEvents
) -> None:
    def by_department(event: Fact) -> tuple[str, ...]:
        department = event.data.get("department_id")
        return (department,) if isinstance(department, str) else ()

    def count(view: View | None, event: Fact) -> View:
        return {"events": (view or {"events": 0})["events"] + 1}

    per_department = Projection("per_department", by_department, count)
    streams = [e for e in logged.events if e.data.get("department_id") == "d-0"]
    assert len({e.stream_id for e in streams}) > 1
    with pytest.raises(SourceStreamMismatch, match="d-0"):
        views.apply_changes(per_department, items_of(streams))


def test_a_batch_that_fails_part_way_is_applied_in_full_when_retried(
    views: CosmosViewStore, logged: LoggedEvents
) -> None:
    """The trigger re-runs a failed batch (its retry policy): documents the failed run
    wrote are not counted twice, and those it did not reach are written."""
    batch = logged.events[:80]
    expected = reference_views(batch)["generation_status"]
    assert len(expected) > 3
    # The store goes through a batch's documents in feed order: the last one to appear
    # fails after the others were written.
    doomed_key = list(dict.fromkeys(k for e in batch for k in generation_status.keys(e)))[-1]

    def failing_apply(view: View | None, event: Fact) -> View:
        if generation_status.keys(event) == (doomed_key,):
            raise RuntimeError("the view store went away")
        return generation_status.apply(view, event)

    failing = Projection(generation_status.NAME, generation_status.keys, failing_apply)
    with pytest.raises(RuntimeError, match="went away"):
        views.apply_changes(failing, items_of(batch))
    written = {d["id"] for d in views.list(generation_status.NAME)}
    assert doomed_key not in written
    assert 0 < len(written) < len(expected)

    assert views.apply_changes(generation_status.PROJECTION, items_of(batch)) == len(
        expected
    ) - len(written)
    assert {d["id"]: d for d in views.list(generation_status.NAME)} == expected


class RacingClient:
    """A client whose first query answer runs `interloper` before handing the answer on:
    another writer goes between this client's read of a document and its write."""

    def __init__(self, emulator: RunningEmulator, interloper: Callable[[], None]) -> None:
        self.statuses: list[int] = []
        self._interloper = interloper
        self._fired = False
        # Imported here: the plugin must load (and be assertion-rewritten) first.
        from tests.cosmos_fixtures import EMULATOR_KEY

        self.client = CosmosClient(
            f"https://{emulator.host}:{emulator.port}/",
            credential=EMULATOR_KEY,
            connection_verify=False,  # loopback emulator only
            raw_response_hook=self._hook,
        )

    def _hook(self, pipeline_response: Any) -> None:
        self.statuses.append(pipeline_response.http_response.status_code)
        is_query = pipeline_response.http_request.headers.get("x-ms-documentdb-isquery")
        if is_query and not self._fired:
            self._fired = True
            self._interloper()


@pytest.mark.parametrize("already_written", [False, True], ids=["create", "replace"])
def test_two_projectors_racing_on_a_document_each_apply_their_batch_once(
    already_written: bool,
    views: CosmosViewStore,
    container: ContainerProxy,
    cosmos_database: DatabaseProxy,
    logged: LoggedEvents,
    cosmos_emulator: RunningEmulator,
) -> None:
    """Two instances hold overlapping batches from the same checkpoint, as they may while
    a lease changes hands. Theirs writes between my read and my write: mine loses the
    ETag check (409 on a create, 412 on a replace), reads again and folds only the part
    theirs did not have. Each event counts once."""
    month = busiest_month(logged.events)
    key = budget.keys(month[0])[0]
    third = len(month) // 3
    start = third if already_written else 0
    if already_written:
        views.apply_changes(budget.PROJECTION, items_of(month[:start]))
    written: dict[str, int] = {}

    def theirs() -> None:
        written["theirs"] = views.apply_changes(
            budget.PROJECTION, items_of(month[start : 2 * third])
        )

    racing = RacingClient(cosmos_emulator, theirs)
    with racing.client:
        racing_container = racing.client.get_database_client(
            cosmos_database.id
        ).get_container_client(CONTAINER_ID)
        # The pointer to the live version is read on another client: the race is
        # between the document's read and its write.
        mine = CosmosViewStore(racing_container, versions=ViewVersions(container))
        written["mine"] = mine.apply_changes(budget.PROJECTION, items_of(month[start:]))

    assert written == {"theirs": 1, "mine": 1}
    assert racing.statuses.count(412 if already_written else 409) == 1
    document = views.get("budget", key)
    assert document == reference_views(month)["budget"][key]
    assert document is not None
    assert Decimal(document["spent_aud"]) == charges(month)


def test_projectors_applying_the_feed_side_by_side_agree_with_the_pure_fold(
    logged: LoggedEvents,
    cosmos_database: DatabaseProxy,
    new_cosmos_client: Callable[[], CosmosClient],
) -> None:
    """Three instances, each with its own client, each given the whole feed in its own
    batches and interleaving: every document ends as the fold of its events."""

    def instance(seed: int) -> None:
        database = new_cosmos_client().get_database_client(cosmos_database.id)
        project_all(CosmosViewStore(database.get_container_client(CONTAINER_ID)), events, seed)

    events = logged.events
    container = ensure_view_container(cosmos_database)
    threads = [threading.Thread(target=instance, args=(seed,)) for seed in (11, 12, 13)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    reader = CosmosViewStore(container)
    for name, documents in reference_views(events).items():
        assert {k: reader.get(name, k) for k in documents} == documents


def test_the_projector_service_feeds_the_named_projection_through_the_platforms_views(
    views: CosmosViewStore, logged: LoggedEvents, tmp_path: Path
) -> None:
    embedded = build_platform(Settings(data_dir=tmp_path))
    month = busiest_month(logged.events)
    with pytest.raises(NotFedByChangeFeed):
        project_changes(embedded, budget.NAME, items_of(month))
    on_cosmos = dataclasses.replace(embedded, views=views)
    assert project_changes(on_cosmos, budget.NAME, items_of(month)) == 1
    assert project_changes(on_cosmos, budget.POLICY_NAME, items_of(month)) == 0
    assert (
        views.get(budget.NAME, budget.keys(month[0])[0])
        == (reference_views(month)[budget.NAME][budget.keys(month[0])[0]])
    )


def test_the_projector_records_how_old_the_oldest_event_of_each_batch_is(
    views: CosmosViewStore, logged: LoggedEvents, tmp_path: Path
) -> None:
    from prometheus_client import CollectorRegistry

    from adapters.prometheus_meter import PrometheusMeter

    registry = CollectorRegistry()
    month = busiest_month(logged.events)
    oldest = min(event.recorded_at for event in month)
    now = oldest + timedelta(seconds=90)
    on_cosmos = dataclasses.replace(
        build_platform(Settings(data_dir=tmp_path)),
        views=views,
        meter=PrometheusMeter(registry=registry),
        clock=lambda: now,
    )
    # Out of order, as the change feed may deliver streams.
    project_changes(on_cosmos, budget.NAME, items_of(list(reversed(month))))
    lag = registry.get_sample_value("donatello_projection_lag_seconds", {"projection": budget.NAME})
    assert lag == 90
    project_changes(on_cosmos, budget.POLICY_NAME, [])
    assert (
        registry.get_sample_value(
            "donatello_projection_lag_seconds", {"projection": budget.POLICY_NAME}
        )
        is None
    ), "an empty batch says nothing"
