"""Snapshots of folded stream states in a Cosmos DB container of their own.

One item per stream and fold, partitioned by stream id, so a load's snapshot read is one
small single-partition read. The container is not the event container: the change-feed
triggers and `audit verify` never see a snapshot, and deleting every one (`clear`) is
always safe, since each is a cache of a fold of the log.
"""

from __future__ import annotations

from typing import Any

from azure.cosmos import ContainerProxy, DatabaseProxy, PartitionKey

from adapters.cosmos_charges import RequestCharges
from services.ports import Snapshot

CONTAINER_ID = "snapshots"
PARTITION_KEY_PATH = "/streamId"
# Only the point lookups by id are ever made: nothing needs an index.
INDEXING_POLICY = {
    "indexingMode": "consistent",
    "includedPaths": [],
    "excludedPaths": [{"path": "/*"}],
}


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
    """Thread-safe. Last writer wins: two instances folding the same stream may write
    an older snapshot over a newer one, which costs the next load a longer tail only."""

    def __init__(
        self, container: ContainerProxy, *, request_charges: RequestCharges | None = None
    ) -> None:
        self._container = container
        self._charges = RequestCharges() if request_charges is None else request_charges

    def get(self, aggregate: str, stream_id: str) -> Snapshot | None:
        # A single-partition query rather than a point read: cosmosdb-server answers a
        # point read of a missing item with 500, where the real service answers 404.
        operation = "snapshot read"
        with self._charges.charging_failures(stream_id, operation):
            found = self._container.query_items(
                "SELECT * FROM c WHERE c.id = @id",
                parameters=[{"name": "@id", "value": aggregate}],
                partition_key=stream_id,
                response_hook=self._charges.hook(stream_id, operation),
            )
            item = next(iter(found), None)
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
        operation = "snapshot write"
        with self._charges.charging_failures(snapshot.stream_id, operation):
            self._container.upsert_item(
                item, response_hook=self._charges.hook(snapshot.stream_id, operation)
            )

    def clear(self) -> int:
        cleared = 0
        with self._charges.charging_failures(None, "snapshot clear"):
            for item in self._container.query_items(
                "SELECT c.id, c.streamId FROM c", enable_cross_partition_query=True
            ):
                self._container.delete_item(item["id"], partition_key=item["streamId"])
                cleared += 1
        return cleared
