"""Snapshots of folded stream states in a Cosmos DB container of their own.

One item per stream and fold, partitioned by stream id, so a load's snapshot read is one
small single-partition read. The container is not the event container: the change-feed
triggers and `audit verify` never see a snapshot, and deleting every one (`clear`) is
always safe, since each is a cache of a fold of the log.
"""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from azure.cosmos import ContainerProxy, DatabaseProxy, PartitionKey
from azure.cosmos.exceptions import CosmosAccessConditionFailedError, CosmosResourceExistsError

from adapters.cosmos_charges import RequestCharges
from services.ports import Snapshot

CONTAINER_ID = "snapshots"
PARTITION_KEY_PATH = "/streamId"
# Only lookups of one item by id and stream are ever made: nothing else needs an index.
INDEXING_POLICY = {
    "indexingMode": "consistent",
    "includedPaths": [{"path": "/streamId/?"}],
    "excludedPaths": [{"path": "/*"}],
}
# Writes racing for one stream's snapshot: each loss re-reads the winner's.
_WRITE_ATTEMPTS = 3


def ensure_snapshot_container(
    database: DatabaseProxy, container_id: str = CONTAINER_ID
) -> ContainerProxy:
    """The snapshots container, made unless it exists (in Azure the templates make it)."""
    return database.create_container_if_not_exists(
        id=container_id,
        partition_key=PartitionKey(path=PARTITION_KEY_PATH),
        indexing_policy=INDEXING_POLICY,
    )


class CosmosSnapshotStore:
    """Thread-safe. A snapshot never replaces a newer one of the same shape: two
    instances may fold the same stream, and the one that folded less may write last."""

    def __init__(
        self, container: ContainerProxy, *, request_charges: RequestCharges | None = None
    ) -> None:
        self._container = container
        self._charges = RequestCharges() if request_charges is None else request_charges

    def get(self, aggregate: str, stream_id: str) -> Snapshot | None:
        item = self._item(aggregate, stream_id)
        if item is None:
            return None
        return Snapshot(
            aggregate=aggregate,
            stream_id=stream_id,
            shape=item["shape"],
            version=item["version"],
            head_hash=item["headHash"],
            state=item["state"],
        )

    def put(self, snapshot: Snapshot) -> None:
        item: dict[str, Any] = {
            "id": snapshot.aggregate,
            "streamId": snapshot.stream_id,
            "shape": snapshot.shape,
            "version": snapshot.version,
            "headHash": snapshot.head_hash,
            "state": snapshot.state,
        }
        for _ in range(_WRITE_ATTEMPTS):
            current = self._item(snapshot.aggregate, snapshot.stream_id)
            if (
                current is not None
                and current["shape"] == snapshot.shape
                and current["version"] >= snapshot.version
            ):
                return
            try:
                self._write(snapshot.stream_id, current, item)
            except (CosmosAccessConditionFailedError, CosmosResourceExistsError):
                continue  # another instance wrote one meanwhile: compare with that one
            return
        # Beaten every time: the snapshots written meanwhile serve as well (a cache).

    def _write(self, stream_id: str, current: dict[str, Any] | None, item: dict[str, Any]) -> None:
        operation = "snapshot write"
        with self._charges.charging_failures(stream_id, operation):
            hook = self._charges.hook(stream_id, operation)
            if current is None:
                self._container.create_item(item, response_hook=hook)
            else:
                self._container.replace_item(
                    item["id"],
                    item,
                    etag=current["_etag"],
                    match_condition=MatchConditions.IfNotModified,
                    response_hook=hook,
                )

    def _item(self, aggregate: str, stream_id: str) -> dict[str, Any] | None:
        # A single-partition query rather than a point read: cosmosdb-server answers a
        # point read of a missing item with 500, where the real service answers 404; and
        # it wants the partition key in the WHERE of a query scoped to one.
        operation = "snapshot read"
        with self._charges.charging_failures(stream_id, operation):
            found = self._container.query_items(
                "SELECT * FROM c WHERE c.id = @id AND c.streamId = @stream",
                parameters=[
                    {"name": "@id", "value": aggregate},
                    {"name": "@stream", "value": stream_id},
                ],
                partition_key=stream_id,
                response_hook=self._charges.hook(stream_id, operation),
            )
            return next(iter(found), None)

    def clear(self) -> int:
        cleared = 0
        with self._charges.charging_failures(None, "snapshot clear"):
            for item in self._container.query_items(
                "SELECT c.id, c.streamId FROM c", enable_cross_partition_query=True
            ):
                self._container.delete_item(item["id"], partition_key=item["streamId"])
                cleared += 1
        return cleared
