"""The Azure event store: Cosmos DB for NoSQL, one item per event.

Implements `services.ports.EventStore`, plus a replay of every stream in time order for
compliance (`read_all_ordered`).

Layout: container `events`, partition key `/streamId`, so a stream is one logical
partition: its appends can be one transactional batch and its reads are single-partition
queries. An item's `id` is its version, zero-padded to ten digits; Cosmos keeps `id`
unique within a partition, which makes `(stream, version)` unique. A unique key on
`/eventId` makes an event id unique within its stream. Item shape (camelCase, as the
partition key path is):

    {"id": "0000000003", "streamId": ..., "version": 3, "eventId": ..., "type": ...,
     "schemaVersion": 1, "recordedAt": "2025-01-30T22:30:00.000005Z", "correlationId": ...,
     "causationId": null, "actor": {...}, "data": {...}, "dataText": "{...}",
     "prevHash": ..., "hash": ...}

`recordedAt` is the fixed-width UTC text that is hashed, so it sorts as time does.
`dataText` is `data` as the canonical JSON text the hash covers: Cosmos DB keeps numbers
as doubles, and (seen with the emulator) gives a float with no fraction back as an
integer, a score of 1.0 as 1, so the text cannot be rebuilt from `data` alone; verify
hashes it and holds it equal to `data` (adapters/cosmos_audit_log.py).

Concurrency: an append creates its items at expected + 1, + 2, ... in one transactional
batch of creates. The first writer of a version wins; any other create of it conflicts
(409) and Cosmos rolls the whole batch back, so the loser raises `ConcurrencyError`. The
head is read before writing only to chain the hash and to fail early; the batch's creates
are what make a race safe.

Head hash: a caller that folded the stream up to `expected_version` knows the hash of
that event and passes it as `head_hash`; the append then reads nothing before its batch
(the head query costs about 3 RU an append). This trusts the pair (`expected_version`,
`head_hash`) to be an event of this stream as this store returned it, which it is
whenever the caller got it from `read_stream` or `append`: items are only ever created,
never replaced or deleted, so a version's hash never changes. Then the pair is either
the head, and the chain is right, or behind it, and the create of expected + 1 conflicts.
A pair from anywhere else (another store, a made-up version) is not caught here: a hash
that is not version `expected_version`'s would break the chain at expected + 1, and a
version past the head would leave a gap, both found by `audit verify`. The embedded
store checks the pair on every append at no cost (it reads the head under its write
lock anyway), so a caller's bug fails the test suite, which runs on it.

Idempotency: when a batch conflicts or the head is not the expected version, the append
looks its event ids up in the stream. Exactly this batch, recorded: a retry of an append
that succeeded, so the recorded events are returned. Part of it: `EventIdConflict`.
Unlike the SQLite store, an event id is unique per stream only (Cosmos scopes unique keys
to a logical partition), so an id reused in another stream is not detected here.

Request units: the charge of every operation is logged at DEBUG and summed per stream in
`request_charges` (adapters/cosmos_charges.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from azure.cosmos import ContainerProxy, DatabaseProxy, PartitionKey
from azure.cosmos.exceptions import CosmosBatchOperationError
from azure.cosmos.http_constants import StatusCodes

from adapters.cosmos_charges import RequestCharges
from adapters.event_appends import as_this_batch, chain, distinct_event_ids, genesis_or_refused
from domain.envelope import (
    GENESIS_HASH,
    Actor,
    Event,
    EventText,
    NewEvent,
    format_timestamp,
    utc_now,
)
from services.ports import ConcurrencyError

CONTAINER_ID = "events"
PARTITION_KEY_PATH = "/streamId"
VERSION_DIGITS = 10
MAX_BATCH_OPERATIONS = 100  # the most a Cosmos transactional batch holds

# What is queried is indexed, nothing else: every indexed path adds to the RU of each
# write, and the payload (`data`, `actor`) is never filtered on. Excluding the root makes
# indexing opt-in, which also keeps fields added later out of the index.
INDEXING_POLICY: dict[str, Any] = {
    "indexingMode": "consistent",
    "automatic": True,
    "includedPaths": [
        {"path": "/streamId/?"},  # every stream query filters on it
        {"path": "/version/?"},  # stream reads and the head sort and filter on it
        {"path": "/eventId/?"},  # idempotency looks event ids up
        {"path": "/recordedAt/?"},  # replay filters on a time range
        {"path": "/type/?"},  # replay filters on event types (audit export)
        {"path": "/_ts/?"},  # seals take the events committed in a window of server time
    ],
    "excludedPaths": [{"path": "/*"}],
    # Cosmos serves an ORDER BY on several fields only from a composite index.
    "compositeIndexes": [
        [
            {"path": "/recordedAt", "order": "ascending"},
            {"path": "/streamId", "order": "ascending"},
            {"path": "/version", "order": "ascending"},
        ],
        # verify reads every stream's events, each stream by descending version
        [
            {"path": "/streamId", "order": "ascending"},
            {"path": "/version", "order": "descending"},
        ],
    ],
}
UNIQUE_KEY_POLICY: dict[str, Any] = {"uniqueKeys": [{"paths": ["/eventId"]}]}

# Every partition-scoped query also filters on `streamId`: the partition key routes it,
# and the filter keeps it correct should it ever run without one.
_READ_HEAD = (
    "SELECT TOP 1 c.version, c.hash FROM c WHERE c.streamId = @stream ORDER BY c.version DESC"
)
# What `event_from_item` reads, and no more: not `dataText` (`data` again, as the text the
# hash covers, which only `audit verify` needs) nor the system properties. A query is
# charged by the bytes it returns, and this is about half of each item.
_EVENT_FIELDS = (
    "c.eventId, c.streamId, c.version, c.type, c.schemaVersion, c.recordedAt,"
    " c.correlationId, c.causationId, c.actor, c.data, c.prevHash, c.hash"
)
_READ_STREAM = (
    f"SELECT {_EVENT_FIELDS} FROM c"  # noqa: S608 (the fields above, no input)
    " WHERE c.streamId = @stream AND c.version >= @from ORDER BY c.version"
)
_READ_BY_EVENT_IDS = (
    f"SELECT {_EVENT_FIELDS} FROM c"  # noqa: S608 (the fields above, no input)
    " WHERE c.streamId = @stream AND ARRAY_CONTAINS(@ids, c.eventId)"
    " ORDER BY c.version"
)
_REPLAY_ORDER = " ORDER BY c.recordedAt, c.streamId, c.version"


def ensure_event_container(
    database: DatabaseProxy, container_id: str = CONTAINER_ID
) -> ContainerProxy:
    """The events container, created with the store's partition key, unique key and
    indexing policy unless it exists.

    An existing container is returned as it is: Cosmos cannot add a unique key to a
    container, and in Azure the infrastructure templates create it with these policies
    (managed identities get data-plane roles, which cannot create containers).
    """
    return database.create_container_if_not_exists(
        id=container_id,
        partition_key=PartitionKey(path=PARTITION_KEY_PATH),
        indexing_policy=INDEXING_POLICY,
        unique_key_policy=UNIQUE_KEY_POLICY,
    )


class _Head(NamedTuple):
    version: int
    hash: str


class CosmosEventStore:
    """Event streams in a Cosmos DB container made by `ensure_event_container`.

    Safe to share between threads (the SDK's client is).
    """

    def __init__(
        self,
        container: ContainerProxy,
        *,
        clock: Callable[[], datetime] = utc_now,
        request_charges: RequestCharges | None = None,
    ) -> None:
        self._container = container
        self._clock = clock
        self._charges = RequestCharges() if request_charges is None else request_charges

    @property
    def request_charges(self) -> RequestCharges:
        return self._charges

    # --- EventStore --------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        head_hash: str | None = None,
    ) -> list[Event]:
        """Append `events` in one transactional batch at `expected_version` + 1, + 2, ...

        Raises `ConcurrencyError` when the stream is not at `expected_version`. Appending
        event ids that are already recorded as exactly this batch returns the recorded
        events and writes nothing; any other reuse of a recorded id in the stream raises
        `EventIdConflict`. With `head_hash` (see Head hash above) nothing is read first.
        """
        if not events:
            return []
        if len(events) > MAX_BATCH_OPERATIONS:
            raise ValueError(
                f"append to {stream_id!r} of {len(events)} events: a Cosmos transactional"
                f" batch holds at most {MAX_BATCH_OPERATIONS}"
            )
        ids = distinct_event_ids(stream_id, events)
        if expected_version == 0:
            # A new stream chains from the genesis hash: no read needed, the batch's
            # create of version 1 is what finds out whether the stream already exists.
            head = _Head(0, genesis_or_refused(stream_id, head_hash))
        elif head_hash is not None:
            # The caller's fold ends at this event: the batch's create of the version
            # after it is what finds out whether the stream moved on since.
            head = _Head(expected_version, head_hash)
        else:
            head = self._head(stream_id)
            if head.version != expected_version:
                return self._after_conflict(stream_id, expected_version, ids, head.version)
        texts = [EventText.of(event) for event in events]
        appended = chain(stream_id, head.version, head.hash, events, self._clock(), texts)
        try:
            self._create_batch(stream_id, appended, texts)
        except CosmosBatchOperationError as failure:
            if failure.status_code != StatusCodes.CONFLICT:
                raise
            return self._after_conflict(stream_id, expected_version, ids, None)
        return appended

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        items = self._query_stream(
            stream_id,
            "read stream",
            _READ_STREAM,
            [{"name": "@stream", "value": stream_id}, {"name": "@from", "value": from_version}],
        )
        return [event_from_item(item) for item in items]

    def find_event(self, stream_id: str, event_id: UUID) -> Event | None:
        found = self._read_by_event_ids(stream_id, [str(event_id)])
        return found[0] if found else None

    # --- compliance replay -------------------------------------------------------------

    def read_all_ordered(
        self,
        *,
        recorded_from: datetime | None = None,
        recorded_before: datetime | None = None,
        types: Collection[str] | None = None,
        page_size: int = 100,
    ) -> Iterator[Event]:
        """Every stream's events ordered by `recorded_at`, then stream id, then version.

        Optionally only those recorded in [`recorded_from`, `recorded_before`) and of
        `types`. A cross-partition query, fetched lazily `page_size` events at a time.
        """
        conditions: list[str] = []
        parameters: list[dict[str, object]] = []
        if recorded_from is not None:
            conditions.append("c.recordedAt >= @from")
            parameters.append({"name": "@from", "value": format_timestamp(recorded_from)})
        if recorded_before is not None:
            conditions.append("c.recordedAt < @before")
            parameters.append({"name": "@before", "value": format_timestamp(recorded_before)})
        if types is not None:
            conditions.append("ARRAY_CONTAINS(@types, c.type)")
            parameters.append({"name": "@types", "value": sorted(types)})
        # Built from the fixed conditions above only; every value is a parameter.
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        query = "SELECT * FROM c" + where + _REPLAY_ORDER  # noqa: S608
        items = self._query(
            None,
            "replay",
            query,
            parameters,
            enable_cross_partition_query=True,
            max_item_count=page_size,
        )
        for item in items:
            yield event_from_item(item)

    # --- appending ---------------------------------------------------------------------

    def _after_conflict(
        self, stream_id: str, expected_version: int, ids: list[str], actual: int | None
    ) -> list[Event]:
        """The recorded events if this append repeats one that succeeded; else raises."""
        recorded = as_this_batch(stream_id, ids, self._read_by_event_ids(stream_id, ids))
        if recorded:
            return recorded
        if actual is None:
            actual = self._head(stream_id).version
        raise ConcurrencyError(stream_id, expected_version, actual)

    def _create_batch(
        self, stream_id: str, events: list[Event], texts: Sequence[EventText]
    ) -> None:
        operations = [
            ("create", (_item_of(event, text.data),))
            for event, text in zip(events, texts, strict=True)
        ]
        operation = f"batch create of {len(events)}"
        with self._charges.charging_failures(stream_id, operation):
            self._container.execute_item_batch(
                operations,
                partition_key=stream_id,
                response_hook=self._charges.hook(stream_id, operation),
            )

    def _head(self, stream_id: str) -> _Head:
        items = self._query_stream(
            stream_id, "read head", _READ_HEAD, [{"name": "@stream", "value": stream_id}]
        )
        item = next(items, None)
        return _Head(0, GENESIS_HASH) if item is None else _Head(item["version"], item["hash"])

    def _read_by_event_ids(self, stream_id: str, ids: list[str]) -> list[Event]:
        items = self._query_stream(
            stream_id,
            "read by event ids",
            _READ_BY_EVENT_IDS,
            [{"name": "@stream", "value": stream_id}, {"name": "@ids", "value": ids}],
        )
        return [event_from_item(item) for item in items]

    # --- queries and request charges ---------------------------------------------------

    def _query_stream(
        self, stream_id: str, operation: str, query: str, parameters: list[dict[str, object]]
    ) -> Iterator[dict[str, Any]]:
        return self._query(stream_id, operation, query, parameters, partition_key=stream_id)

    def _query(
        self,
        stream_id: str | None,
        operation: str,
        query: str,
        parameters: list[dict[str, object]],
        **options: Any,
    ) -> Iterator[dict[str, Any]]:
        # The hook sees each page's response, so a lazily read query is charged page by
        # page, as it is fetched.
        with self._charges.charging_failures(stream_id, operation):
            yield from self._container.query_items(
                query,
                parameters=parameters,
                response_hook=self._charges.hook(stream_id, operation),
                **options,
            )


# --- items -----------------------------------------------------------------------------


def item_id(version: int) -> str:
    """The item id of a stream's `version`: zero-padded, so ids sort as versions do."""
    return f"{version:0{VERSION_DIGITS}d}"


def _item_of(event: Event, data_text: str) -> dict[str, Any]:
    """The item of `event`; `data_text` is its data's canonical JSON, as hashed."""
    return {
        "id": item_id(event.version),
        "streamId": event.stream_id,
        "version": event.version,
        "eventId": str(event.event_id),
        "type": event.type,
        "schemaVersion": event.schema_version,
        "recordedAt": format_timestamp(event.recorded_at),
        "correlationId": str(event.correlation_id),
        "causationId": None if event.causation_id is None else str(event.causation_id),
        "actor": event.actor.model_dump(mode="json"),
        "data": event.data,
        "dataText": data_text,
        "prevHash": event.prev_hash,
        "hash": event.hash,
    }


def event_from_item(item: Mapping[str, Any]) -> Event:
    causation_id = item["causationId"]
    return Event(
        event_id=UUID(item["eventId"]),
        stream_id=item["streamId"],
        version=item["version"],
        type=item["type"],
        schema_version=item["schemaVersion"],
        recorded_at=datetime.fromisoformat(item["recordedAt"]),
        correlation_id=UUID(item["correlationId"]),
        causation_id=None if causation_id is None else UUID(causation_id),
        actor=Actor.model_validate(item["actor"]),
        data=item["data"],
        prev_hash=item["prevHash"],
        hash=item["hash"],
    )
