"""The embedded host's change-feed poller against `@vercel/cosmosdb-server`: it runs a
Cosmos DB trigger as Azure's change feed processor does, with its place kept in a lease.

What the emulator can show, and where it differs (each test that meets it says so):
its change feed is a stub. A read from the beginning answers the container's items in
the order written, up to the page size, with the ETag "1"; any read that carries a
continuation is answered 304 Not Modified, whatever was written since. The real service
answers a continued read with the changes after it. So against the emulator a poller
sees what was written before its first delivery, and nothing after: the tests check
that part, and assert the stub where the real service would deliver more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import azure.functions as func
import pytest
from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy, PartitionKey

from bootstrap import cosmos_databases
from devhost.change_feed import (
    ChangeFeedPoller,
    FeedContainers,
    cosmos_change_feed,
    ensure_lease_container,
)
from devhost.host import LocalHost
from devhost.triggers import CosmosDbTrigger, RetryPolicy, discover
from services.settings import Settings
from tests.emulators import RunningEmulator

pytest_plugins = ["tests.cosmos_fixtures"]

SETTINGS = {"FEED_DATABASE": "set per test"}


class Calls:
    """What the function saw, and how many of its next calls fail."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[list[dict[str, Any]]] = []
        self.failures_left = 0
        self.called = threading.Event()

    def __call__(self, documents: func.DocumentList) -> None:
        with self.lock:
            self.batches.append([document.to_dict() for document in documents])
            self.called.set()
            if self.failures_left:
                self.failures_left -= 1
                raise RuntimeError("the view store is down")

    def versions(self, batch: int = -1) -> list[tuple[str, int]]:
        return [(item["streamId"], item["version"]) for item in self.batches[batch]]


def feed_app(calls: Calls, *, retry: bool = True, prefix: str = "record-") -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    def record(documents: func.DocumentList) -> None:
        calls(documents)

    decorated: Callable[..., Any] = app.cosmos_db_trigger(
        arg_name="documents",
        connection="CosmosDbConnection",
        database_name="%FEED_DATABASE%",
        container_name="events",
        lease_container_name="leases",
        lease_container_prefix=prefix,
        start_from_beginning=True,  # type: ignore[arg-type]  # a flag, typed as time
        feed_poll_delay=50,
    )(record)
    if retry:
        decorated = app.retry(
            strategy="exponential_backoff",
            max_retry_count="-1",
            minimum_interval="00:00:01",
            maximum_interval="00:00:01",
        )(decorated)
    app.function_name("record")(decorated)
    return app


@pytest.fixture
def events(cosmos_database: DatabaseProxy) -> ContainerProxy:
    ensure_lease_container(cosmos_database)
    return cosmos_database.create_container("events", partition_key=PartitionKey("/streamId"))


@pytest.fixture
def settings(cosmos_database: DatabaseProxy) -> dict[str, str]:
    return {"FEED_DATABASE": cosmos_database.id}


@pytest.fixture
def poller_for(
    cosmos_database: DatabaseProxy,
    settings: dict[str, str],
    new_cosmos_client: Callable[[], CosmosClient],
) -> Callable[..., ChangeFeedPoller]:
    """A poller for `feed_app(calls, ...)`, on a client of its own, as a host would make."""

    def make(calls: Calls, **options: Any) -> ChangeFeedPoller:
        (trigger,) = discover(feed_app(calls, **options), settings, change_feed=True).cosmos_db
        database = new_cosmos_client().get_database_client(cosmos_database.id)
        containers = FeedContainers(
            database.get_container_client("events"), database.get_container_client("leases")
        )
        return ChangeFeedPoller(trigger, lambda: containers)

    return make


def append(events: ContainerProxy, stream: str, versions: range) -> None:
    for version in versions:
        events.create_item({"id": f"{version:010d}", "streamId": stream, "version": version})


def lease(cosmos_database: DatabaseProxy, lease_id: str) -> dict[str, Any]:
    leases = cosmos_database.get_container_client("leases")
    found = leases.query_items(
        "SELECT * FROM c WHERE c.id = @id",
        parameters=[{"name": "@id", "value": lease_id}],
        partition_key=lease_id,
    )
    return dict(next(iter(found)))


def test_the_trigger_is_read_as_the_functions_host_reads_it(settings: dict[str, str]) -> None:
    declared = feed_app(Calls())
    (trigger,) = discover(declared, settings, change_feed=True).cosmos_db
    assert isinstance(trigger, CosmosDbTrigger)
    assert (trigger.database_name, trigger.container_name) == (settings["FEED_DATABASE"], "events")
    assert (trigger.lease_container_name, trigger.lease_container_prefix) == ("leases", "record-")
    assert trigger.start_from_beginning
    assert trigger.feed_poll_delay == timedelta(milliseconds=50)
    assert trigger.retry == RetryPolicy(
        "exponential_backoff", -1, None, timedelta(seconds=1), timedelta(seconds=1)
    )
    assert trigger.retry.allows(10_000)
    # Without the change feed (the embedded shape) the trigger is skipped, not run.
    skipped = discover(feed_app(Calls()), settings)
    assert skipped.cosmos_db == ()
    assert [s.trigger_type for s in skipped.skipped] == ["cosmosDBTrigger"]


def test_exponential_backoff_doubles_up_to_its_maximum() -> None:
    policy = RetryPolicy("exponential_backoff", 5, None, timedelta(seconds=2), timedelta(minutes=1))
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 5, 6, 500)] == [
        2,
        4,
        8,
        32,
        60,
        60,
    ]
    assert policy.allows(5)
    assert not policy.allows(6)


def test_a_poller_delivers_what_was_appended_in_stream_order_and_keeps_its_place(
    events: ContainerProxy,
    poller_for: Callable[..., ChangeFeedPoller],
    cosmos_database: DatabaseProxy,
) -> None:
    calls = Calls()
    poller = poller_for(calls)
    assert poller.poll_once() == 0  # nothing written yet: no call, a lease from the start
    assert calls.batches == []
    assert lease(cosmos_database, poller.lease_id)["continuationToken"] is None

    append(events, "s-a", range(1, 4))
    append(events, "s-b", range(1, 3))
    assert poller.poll_once() == 5
    assert [v for s, v in calls.versions() if s == "s-a"] == [1, 2, 3]
    assert [v for s, v in calls.versions() if s == "s-b"] == [1, 2]
    assert poller.lease_id == f"record-{cosmos_database.id}.events"
    assert lease(cosmos_database, poller.lease_id)["continuationToken"]

    # Polled again, the feed has nothing new: no call, and the lease stays.
    assert poller.poll_once() == 0
    assert len(calls.batches) == 1


def test_after_a_restart_the_poller_resumes_from_its_lease(
    events: ContainerProxy, poller_for: Callable[..., ChangeFeedPoller]
) -> None:
    append(events, "s-a", range(1, 4))
    first = Calls()
    assert poller_for(first).poll_once() == 3

    restarted = Calls()
    assert poller_for(restarted).poll_once() == 0  # its lease is past these
    assert restarted.batches == []
    # A trigger with another lease prefix has a place of its own: from the beginning.
    other = Calls()
    assert poller_for(other, prefix="other-").poll_once() == 3


def test_events_appended_after_a_delivery_come_on_the_next_poll_and_only_they(
    events: ContainerProxy, poller_for: Callable[..., ChangeFeedPoller]
) -> None:
    """The lease's continuation picks up where the last delivery ended. (The emulator's
    own change feed answers every continued read 304; `tests/cosmos_emulator.js` gives it
    the real service's incremental reads.)"""
    calls = Calls()
    poller = poller_for(calls)
    append(events, "s-a", range(1, 3))
    assert poller.poll_once() == 2
    assert poller.poll_once() == 0  # nothing new: not the same batch again
    append(events, "s-a", range(3, 5))
    append(events, "s-b", range(1, 2))
    assert poller.poll_once() == 3
    assert [[(d["streamId"], d["version"]) for d in batch] for batch in calls.batches] == [
        [("s-a", 1), ("s-a", 2)],
        [("s-a", 3), ("s-a", 4), ("s-b", 1)],
    ]


def test_a_failing_function_is_retried_with_the_same_batch_until_it_succeeds(
    events: ContainerProxy, poller_for: Callable[..., ChangeFeedPoller]
) -> None:
    append(events, "s-a", range(1, 4))
    calls = Calls()
    calls.failures_left = 2
    assert poller_for(calls).poll_once() == 3
    assert len(calls.batches) == 3  # two failures, then the success
    assert calls.batches[0] == calls.batches[1] == calls.batches[2]
    assert poller_for(Calls()).poll_once() == 0  # and only then did the lease move


def test_a_batch_whose_retries_are_cut_short_by_a_stop_comes_again(
    events: ContainerProxy, poller_for: Callable[..., ChangeFeedPoller]
) -> None:
    append(events, "s-a", range(1, 3))
    calls = Calls()
    calls.failures_left = 1_000
    stop = threading.Event()
    runner = threading.Thread(target=poller_for(calls).run, args=(stop,))
    runner.start()
    assert calls.called.wait(30)
    stop.set()
    runner.join(timeout=10)
    assert not runner.is_alive()

    after_restart = Calls()
    assert poller_for(after_restart).poll_once() == 2
    assert after_restart.batches == calls.batches[:1]


def test_without_a_retry_policy_a_failed_batch_is_skipped_as_on_azure(
    events: ContainerProxy, poller_for: Callable[..., ChangeFeedPoller]
) -> None:
    """Why the projector declares endless retries: without a policy, the Functions host
    checkpoints past a batch whose function failed, and so does this host."""
    append(events, "s-a", range(1, 3))
    calls = Calls()
    calls.failures_left = 1
    assert poller_for(calls, retry=False).poll_once() == 2
    assert len(calls.batches) == 1
    assert poller_for(Calls(), retry=False).poll_once() == 0  # the batch is gone


@pytest.fixture
def running_host(
    cosmos_emulator: RunningEmulator, cosmos_database: DatabaseProxy
) -> Iterator[Callable[[func.FunctionApp], LocalHost]]:
    hosts: list[LocalHost] = []
    settings = {
        "FEED_DATABASE": cosmos_database.id,
        "CosmosDbConnection__accountEndpoint": f"https://{cosmos_emulator.host}:{cosmos_emulator.port}/",
    }

    def start(app: func.FunctionApp) -> LocalHost:
        # Imported here: the plugin must load (and be assertion-rewritten) first.
        from tests.cosmos_fixtures import EMULATOR_KEY

        config = Settings(cosmos_emulator_key=EMULATOR_KEY)
        host = LocalHost(
            app,
            queue_for=lambda name: pytest.fail(f"no queue expected, got {name}"),
            http_port=0,
            change_feed=cosmos_change_feed(settings, cosmos_databases(config)),
            app_settings=settings,
        )
        hosts.append(host)
        host.start_in_thread()
        return host

    yield start
    for host in hosts:
        host.stop()


def test_the_local_host_runs_cosmos_triggers_when_given_a_change_feed(
    events: ContainerProxy, running_host: Callable[[func.FunctionApp], LocalHost]
) -> None:
    calls = Calls()
    stream = f"s-{uuid4().hex[:8]}"
    append(events, stream, range(1, 4))
    running_host(feed_app(calls))
    assert calls.called.wait(30), "the host never called the trigger"
    assert calls.versions(0) == [(stream, 1), (stream, 2), (stream, 3)]
