"""Run Cosmos DB triggers from the change feed, the way Azure's change feed processor does.

One poller per trigger reads the monitored container's change feed (latest-version
mode) and calls the function with each batch as a `func.DocumentList`. Its place in the
feed is a lease document in the trigger's lease container, under the trigger's lease
prefix, so a restarted host resumes where it stopped. The lease moves only after the
function returned: at least once, never skipped by a crash.

A function that raises is handled as the Functions host handles it: with a retry policy
(`@app.retry`) the same batch is re-run after the policy's delay, until it succeeds or
the policy's count runs out; without one (or once the count is spent) the batch is
logged and checkpointed past, which is why the projector declares endless retries.

Differences from Azure, all on purpose for one process: one lease per trigger covers the
whole container (Azure keeps one per physical partition and spreads them over instances,
which only changes how the work is divided: order within a partition key holds either
way); and there is no lease ownership, so two hosts on one lease container would both
deliver a batch (harmless, since functions are idempotent), while the lease's ETag keeps
either from moving it back.

The SDK keeps a change feed's continuation in its client's `last_response_headers`, which
every thread using that client shares, so give each poller a monitored container from a
client that nothing else reads the feed with (`cosmos_change_feed` does).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import azure.functions as func
from azure.core import MatchConditions
from azure.core.paging import PageIterator
from azure.cosmos import ContainerProxy, DatabaseProxy, PartitionKey
from azure.cosmos.exceptions import CosmosAccessConditionFailedError, CosmosResourceExistsError

from devhost.threads import join_within
from devhost.triggers import CosmosDbTrigger

log = logging.getLogger("devhost.change_feed")

DEFAULT_MAX_ITEMS = 100  # the change feed processor's page size unless the binding sets one
_FAILURE_WAIT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class FeedContainers:
    monitored: ContainerProxy  # from a client of this poller's own (see the module doc)
    leases: ContainerProxy


FeedFactory = Callable[[CosmosDbTrigger], FeedContainers]


def ensure_lease_container(database: DatabaseProxy, container_id: str = "leases") -> ContainerProxy:
    """A lease container as the Functions host requires it: partition key `/id`."""
    return database.create_container_if_not_exists(
        id=container_id, partition_key=PartitionKey(path="/id")
    )


def cosmos_change_feed(
    app_settings: Mapping[str, str], open_database: Callable[[str, str], DatabaseProxy]
) -> FeedFactory:
    """Containers for each trigger, on the account its connection setting names.

    The connection is identity-based as on Azure (`{connection}__accountEndpoint`);
    `open_database` (`bootstrap.cosmos_databases`) gives a local emulator its key. The
    lease container is created if missing: in
    Azure the infrastructure templates make it (an identity cannot), here nobody else
    would.
    """

    def containers(trigger: CosmosDbTrigger) -> FeedContainers:
        endpoint = app_settings.get(f"{trigger.connection}__accountEndpoint")
        if not endpoint:
            raise ValueError(f"{trigger.connection}__accountEndpoint is not set")
        database = open_database(endpoint, trigger.database_name)  # a new client
        return FeedContainers(
            monitored=database.get_container_client(trigger.container_name),
            leases=ensure_lease_container(database, trigger.lease_container_name),
        )

    return containers


@dataclass(slots=True)
class _Lease:
    continuation: str | None
    start_time: datetime  # where a lease without a continuation starts, if not the beginning
    etag: str | None  # None: not written yet


class ChangeFeedPoller:
    """Feeds one trigger's function from its container's change feed.

    `connect` is called on the first poll (and again after a failed one), so that an
    account that cannot be reached yet delays the trigger instead of stopping the host.
    """

    def __init__(self, trigger: CosmosDbTrigger, connect: Callable[[], FeedContainers]) -> None:
        self.trigger = trigger
        self._connect = connect
        self._containers: FeedContainers | None = None
        self.lease_id = (
            f"{trigger.lease_container_prefix}{trigger.database_name}.{trigger.container_name}"
        )
        self._lease: _Lease | None = None  # None: read it before the next batch

    def run(self, stop: threading.Event) -> None:
        """Deliver batches until `stop` is set; wait the feed's poll delay when it is idle."""
        while not stop.is_set():
            try:
                delivered = self.poll_once(stop)
            except Exception:
                log.exception("change feed of %s failed; trying again", self.name)
                self._containers = self._lease = None
                stop.wait(_FAILURE_WAIT_SECONDS)
                continue
            if delivered == 0:
                stop.wait(self.trigger.feed_poll_delay.total_seconds())

    def poll_once(self, stop: threading.Event | None = None) -> int:
        """Read one batch after the lease, run the function on it, then move the lease.

        Answers how many items were delivered. If `stop` is set while the function is
        between retries, the lease stays where it was and the batch comes again.
        """
        feed = self._containers = self._containers or self._connect()
        lease = self._lease = self._lease or self._read_lease(feed.leases)
        items, continuation = self._read_batch(feed.monitored, lease)
        if not items:
            return 0
        if not self._deliver(items, stop or threading.Event()):
            return 0
        self._save(feed.leases, lease, continuation)
        return len(items)

    @property
    def name(self) -> str:
        return self.trigger.binding.function_name

    # --- the feed ----------------------------------------------------------------------

    def _read_batch(
        self, monitored: ContainerProxy, lease: _Lease
    ) -> tuple[list[dict[str, Any]], str | None]:
        options: dict[str, Any] = {
            "max_item_count": self.trigger.max_items_per_invocation or DEFAULT_MAX_ITEMS
        }
        if lease.continuation is not None:
            options["continuation"] = lease.continuation
        else:
            start = lease.start_time
            options["start_time"] = "Beginning" if self.trigger.start_from_beginning else start
        # by_page() is typed as a plain iterator; it is a PageIterator, which carries the
        # continuation after the page it last answered.
        pager = cast(
            "PageIterator[dict[str, Any]]",
            monitored.query_items_change_feed(**options).by_page(),
        )
        page = next(pager, None)
        items = [] if page is None else list(page)
        return items, pager.continuation_token if items else lease.continuation

    def _deliver(self, items: Sequence[dict[str, Any]], stop: threading.Event) -> bool:
        """Run the function until it succeeds or its retry policy gives up (True), or
        until `stop` is set between retries (False)."""
        retry = 0
        while True:
            documents = func.DocumentList([func.Document.from_dict(item) for item in items])
            try:
                self.trigger.binding.call_blocking(documents)
                return True
            except Exception:
                retry += 1
                policy = self.trigger.retry
                if policy is None or not policy.allows(retry):
                    # What the Functions host does: the lease moves on and the batch is lost.
                    log.exception(
                        "%s failed on %d changes and has no retries left; skipping them",
                        self.name,
                        len(items),
                    )
                    return True
                delay = policy.delay(retry)
                log.exception(
                    "%s failed on %d changes; retry %d in %.1f s",
                    self.name,
                    len(items),
                    retry,
                    delay.total_seconds(),
                )
                if stop.wait(delay.total_seconds()):
                    return False

    # --- the lease ---------------------------------------------------------------------

    def _read_lease(self, leases: ContainerProxy) -> _Lease:
        # A query, not a point read: cosmosdb-server answers a point read of a missing
        # item with 500 (the real service: 404).
        found = leases.query_items(
            "SELECT * FROM c WHERE c.id = @id",
            parameters=[{"name": "@id", "value": self.lease_id}],
            partition_key=self.lease_id,
        )
        item = next(iter(found), None)
        if item is None:
            # Written at once, as the Functions host does, so that a trigger that starts
            # from now keeps that moment across restarts until its first batch.
            item = self._write_lease(leases, None, datetime.now(UTC), None)
            if item is None:
                return self._read_lease(leases)
        return _Lease(
            item.get("continuationToken"),
            datetime.fromisoformat(item["startTime"]),
            item["_etag"],
        )

    def _save(self, leases: ContainerProxy, lease: _Lease, continuation: str | None) -> None:
        saved = self._write_lease(leases, continuation, lease.start_time, lease.etag)
        if saved is None:
            log.warning("lease %s was moved by another host; continuing from it", self.lease_id)
            self._lease = None
            return
        self._lease = _Lease(continuation, lease.start_time, saved["_etag"])

    def _write_lease(
        self,
        leases: ContainerProxy,
        continuation: str | None,
        start_time: datetime,
        etag: str | None,
    ) -> dict[str, Any] | None:
        """Create the lease (no `etag`) or replace that version of it; None if another
        host wrote it first."""
        item = {
            "id": self.lease_id,
            "continuationToken": continuation,
            "startTime": start_time.isoformat(),
            "timestamp": datetime.now(UTC).isoformat(),
        }
        try:
            if etag is None:
                return leases.create_item(item)
            return leases.replace_item(
                self.lease_id, item, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except (CosmosAccessConditionFailedError, CosmosResourceExistsError):
            return None


class ChangeFeedRunner:
    """A thread per Cosmos DB trigger, each running its `ChangeFeedPoller`."""

    def __init__(self, pollers: Sequence[ChangeFeedPoller]) -> None:
        self.pollers = list(pollers)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stopping.clear()
        for poller in self.pollers:
            thread = threading.Thread(
                target=poller.run, args=(self._stopping,), name=f"feed-{poller.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop polling and wait up to `timeout` s for running invocations; True if all ended."""
        self._stopping.set()
        self._threads = join_within(self._threads, timeout, "change feed pollers")
        return not self._threads
