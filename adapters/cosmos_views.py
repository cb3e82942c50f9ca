"""Projection views in Cosmos DB for NoSQL, fed by the events container's change feed.

Implements `services.ports.ViewReader` (the same answers as `SqliteViewStore` for the
same events) and `services.projection_feed.ChangeFeedViews`, the writer that the
change-feed trigger hands each batch to.

Layout: container `views`, partition key `/id`, one item per view document:

    {"id": "budget:d-1:2026-03", "projection": "budget", "key": "d-1:2026-03",
     "partition": "2026-03", "stream": "budget-d-1-2026-03", "appliedVersion": 12,
     "view": {...the projection's document...}}

`projection` and the id's prefix name the projection's version (`budget.v2` for its
second): which one readers and the triggers use is in the container's pointer item
(`adapters.cosmos_view_versions`), so that a rebuild can build the next beside it.

Every document is its own logical partition. Writes, which are most of the traffic
(one per document per change-feed batch), are single-partition and spread evenly, and
no partition nears Cosmos' 20 GB or per-partition throughput limits however many
generations there are. Partitioning by projection would put every generation in one
logical partition; by department, one busy department would be a hot partition and a
generation could not be read by id alone. The price is that the listings (history,
budgets of a month, unfinished generations) are cross-partition queries: each is one
indexed query per physical partition, which the SDK merges in order.

Applying a batch: the events of a batch are grouped by the document they feed. Each
document is fed by exactly one stream (generation status by its generation stream,
budget by `budget-{dept}-{period}`, policy by `budget-policy-{dept}`; a fact from
another stream is refused), so `appliedVersion`, the version of the last event of that
stream folded in, says exactly which events are new: a redelivered event is at or below
it and skipped. The change feed keeps each stream's order. The document is read with its
ETag, the new events folded in, and the result written only if the document is still
that version (replace with If-Match, or create); a 412 or 409 means another instance
wrote it first, so it is read again and only what is still new is folded.

Request units are logged at DEBUG and summed per source stream (so a generation's RU
includes its views) in `request_charges`, as the event store does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.cosmos import ContainerProxy, DatabaseProxy, PartitionKey
from azure.cosmos.exceptions import CosmosAccessConditionFailedError, CosmosResourceExistsError

from adapters.cosmos_charges import RequestCharges
from adapters.cosmos_event_store import event_from_item
from adapters.cosmos_view_versions import ViewVersions
from adapters.view_pages import decode_continuation, encode_continuation, instant
from domain.access import Reach
from projections.base import Fact, Projection, View
from projections.generation_status import NAME as HISTORY
from projections.generation_status import UNFINISHED_STATUSES
from services.ports import HistoryQuery, Page, history_equalities

logger = logging.getLogger(__name__)

CONTAINER_ID = "views"
PARTITION_KEY_PATH = "/id"
MAX_WRITE_ATTEMPTS = 20  # each lost race means another writer moved the document on
_LIST_PAGE = 500

# What is queried is indexed, nothing else (each indexed path costs every write).
INDEXING_POLICY: dict[str, Any] = {
    "indexingMode": "consistent",
    "automatic": True,
    "includedPaths": [
        {"path": "/projection/?"},  # every listing filters on it
        {"path": "/key/?"},  # listings sort by it; history breaks ties on it
        {"path": "/partition/?"},  # budgets of one month
        {"path": "/view/user_id/?"},  # history filters
        {"path": "/view/department_id/?"},
        {"path": "/view/status/?"},
        {"path": "/view/created_at/?"},
        {"path": "/view/updated_at/?"},  # unfinished generations, oldest first
    ],
    "excludedPaths": [{"path": "/*"}],
    # History's ORDER BY on two fields is served only from a composite index.
    "compositeIndexes": [
        [
            {"path": "/view/created_at", "order": "descending"},
            {"path": "/key", "order": "descending"},
        ]
    ],
}


def ensure_view_container(
    database: DatabaseProxy, container_id: str = CONTAINER_ID
) -> ContainerProxy:
    """The views container, created with this layout's partition key and indexing policy
    unless it exists (in Azure the infrastructure templates create it)."""
    return database.create_container_if_not_exists(
        id=container_id,
        partition_key=PartitionKey(path=PARTITION_KEY_PATH),
        indexing_policy=INDEXING_POLICY,
    )


class SourceStreamMismatch(ValueError):
    """A document was fed by a second stream: its applied version would mean nothing."""


class CosmosViewStore:
    """View documents in a container made by `ensure_view_container`. Thread-safe."""

    def __init__(
        self,
        container: ContainerProxy,
        *,
        request_charges: RequestCharges | None = None,
        versions: ViewVersions | None = None,
    ) -> None:
        self._container = container
        self._charges = RequestCharges() if request_charges is None else request_charges
        self._versions = ViewVersions(container) if versions is None else versions

    @property
    def request_charges(self) -> RequestCharges:
        return self._charges

    # --- ViewReader --------------------------------------------------------------------

    def get(self, projection: str, key: str) -> dict[str, Any] | None:
        item = self._read_item(self._versions.live(projection), key, None)
        return None if item is None else dict(item["view"])

    def history(self, reach: Reach, query: HistoryQuery) -> Page:
        """Generations newest first; `created_from` is inclusive, `created_to` exclusive."""
        equalities = history_equalities(reach, query)
        if equalities is None:
            return Page(items=[], continuation=None)
        conditions = ["c.projection = @projection"]
        parameters: list[dict[str, object]] = [
            {"name": "@projection", "value": self._versions.live(HISTORY)}
        ]
        for n, (field, value) in enumerate(equalities):  # fields from a fixed set
            conditions.append(f"c.view.{field} = @is{n}")
            parameters.append({"name": f"@is{n}", "value": value})
        if query.created_from is not None:
            conditions.append("c.view.created_at >= @from")
            parameters.append(
                {"name": "@from", "value": instant(query.created_from, "created_from")}
            )
        if query.created_to is not None:
            conditions.append("c.view.created_at < @to")
            parameters.append({"name": "@to", "value": instant(query.created_to, "created_to")})
        if query.continuation is not None:
            created_at, key = decode_continuation(query.continuation)
            conditions.append(
                "(c.view.created_at < @after OR (c.view.created_at = @after AND c.key < @key))"
            )
            parameters.extend(
                [{"name": "@after", "value": created_at}, {"name": "@key", "value": key}]
            )
        limit = max(1, query.limit)
        # Built from the fixed fragments above only; every value is a parameter.
        text = (
            f"SELECT TOP {limit + 1} c.key, c.view FROM c"  # noqa: S608
            f" WHERE {' AND '.join(conditions)} ORDER BY c.view.created_at DESC, c.key DESC"
        )
        rows = list(self._query_all("history", text, parameters))
        continuation = None
        if len(rows) > limit:
            last = rows[limit - 1]
            continuation = encode_continuation(last["view"]["created_at"], last["key"])
        return Page(items=[row["view"] for row in rows[:limit]], continuation=continuation)

    def unfinished_generations(
        self, updated_before: datetime, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Generations short of a terminal status and untouched since `updated_before`."""
        text = (
            f"SELECT TOP {max(1, limit)} c.view FROM c"  # noqa: S608 (an int and fixed text)
            " WHERE c.projection = @projection AND ARRAY_CONTAINS(@statuses, c.view.status)"
            " AND c.view.updated_at < @before ORDER BY c.view.updated_at"
        )
        parameters: list[dict[str, object]] = [
            {"name": "@projection", "value": self._versions.live(HISTORY)},
            {"name": "@statuses", "value": list(UNFINISHED_STATUSES)},
            {"name": "@before", "value": instant(updated_before, "updated_before")},
        ]
        return [row["view"] for row in self._query_all("unfinished", text, parameters)]

    # --- ChangeFeedViews: the projector's side -----------------------------------------

    def apply_changes(self, projection: Projection, items: Sequence[Mapping[str, Any]]) -> int:
        """Fold a change-feed batch of event items into `projection`'s live documents.

        Answers how many documents were written. Redelivered events change nothing;
        raises `SourceStreamMismatch` if a document would be fed by a second stream.
        """
        return self.apply_to(self._versions.for_writing(projection.name), projection, items)

    def apply_to(
        self, namespace: str, projection: Projection, items: Sequence[Mapping[str, Any]]
    ) -> int:
        """`apply_changes` into the documents filed under `namespace` (one version of
        `projection`: see `adapters.cosmos_view_versions`)."""
        types = projection.types
        pending: dict[str, list[Fact]] = {}
        for item in items:
            if types is not None and item["type"] not in types:
                continue  # not this projection's: skip decoding it
            fact = event_from_item(item)
            for key in projection.keys(fact):
                pending.setdefault(key, []).append(fact)
        return sum(
            self._apply_to_document(namespace, projection, key, facts)
            for key, facts in pending.items()
        )

    def oldest_recorded(self, items: Sequence[Mapping[str, Any]]) -> datetime | None:
        """When the batch's oldest event was recorded (the event store's `recordedAt`)."""
        return min((datetime.fromisoformat(item["recordedAt"]) for item in items), default=None)

    def _apply_to_document(
        self, namespace: str, projection: Projection, key: str, facts: list[Fact]
    ) -> int:
        stream = facts[0].stream_id
        for fact in facts:
            if fact.stream_id != stream:
                raise SourceStreamMismatch(_mismatch(projection, key, stream, fact.stream_id))
        facts.sort(key=lambda fact: fact.version)
        for _attempt in range(MAX_WRITE_ATTEMPTS):
            item = self._read_item(namespace, key, stream)
            if item is not None and item["stream"] != stream:
                raise SourceStreamMismatch(_mismatch(projection, key, item["stream"], stream))
            applied = 0 if item is None else int(item["appliedVersion"])
            fresh = [fact for fact in facts if fact.version > applied]
            if not fresh:
                return 0  # a redelivery: all of it is in the document already
            view = _fold(projection, key, None if item is None else item["view"], fresh)
            written = _item(namespace, projection, key, stream, fresh[-1].version, view)
            try:
                self._write(stream, item, written)
            except (CosmosAccessConditionFailedError, CosmosResourceExistsError):
                logger.debug(
                    "%s %s: another writer got there first; reading it again", projection.name, key
                )
                continue
            return 1
        raise RuntimeError(
            f"{projection.name} {key!r}: lost {MAX_WRITE_ATTEMPTS} write races in a row"
        )

    def _write(self, stream: str, current: dict[str, Any] | None, item: dict[str, Any]) -> None:
        if current is None:
            operation = "view create"
            with self._charges.charging_failures(stream, operation):
                self._container.create_item(
                    item, response_hook=self._charges.hook(stream, operation)
                )
            return
        operation = "view replace"
        with self._charges.charging_failures(stream, operation):
            self._container.replace_item(
                item["id"],
                item,
                etag=current["_etag"],
                match_condition=MatchConditions.IfNotModified,
                response_hook=self._charges.hook(stream, operation),
            )

    # --- items and queries -------------------------------------------------------------

    def _read_item(self, namespace: str, key: str, stream: str | None) -> dict[str, Any] | None:
        # A single-partition query rather than a point read: cosmosdb-server answers a
        # point read of a missing item with 500, where the real service answers 404.
        # On the real service the query costs a little more (about 2.5 RU against 1).
        found_id = item_id(namespace, key)
        operation = "view read"
        with self._charges.charging_failures(stream, operation):
            found = self._container.query_items(
                "SELECT * FROM c WHERE c.id = @id",
                parameters=[{"name": "@id", "value": found_id}],
                partition_key=found_id,
                response_hook=self._charges.hook(stream, operation),
            )
            return next(iter(found), None)

    def _query_all(
        self, operation: str, text: str, parameters: list[dict[str, object]], **options: Any
    ) -> Iterator[dict[str, Any]]:
        with self._charges.charging_failures(None, operation):
            yield from self._container.query_items(
                text,
                parameters=parameters,
                enable_cross_partition_query=True,
                response_hook=self._charges.hook(None, operation),
                **options,
            )

    # Last, so that `list` in the annotations above still means the builtin.
    def list(self, projection: str, partition: str | None = None) -> Iterator[dict[str, Any]]:
        """The projection's documents in key order, optionally of one partition; lazily
        fetched a page at a time."""
        condition = "" if partition is None else " AND c.partition = @partition"
        parameters: list[dict[str, object]] = [
            {"name": "@projection", "value": self._versions.live(projection)}
        ]
        if partition is not None:
            parameters.append({"name": "@partition", "value": partition})
        text = f"SELECT c.view FROM c WHERE c.projection = @projection{condition} ORDER BY c.key"  # noqa: S608
        for row in self._query_all("list", text, parameters, max_item_count=_LIST_PAGE):
            yield row["view"]


def _fold(projection: Projection, key: str, view: View | None, facts: Sequence[Fact]) -> View:
    if projection.fold is not None:
        changed = projection.fold({} if view is None else {key: view}, [(key, f) for f in facts])
        folded = changed.get(key, view)
    else:
        folded = view
        for fact in facts:
            folded = projection.apply(folded, fact)
    if folded is None:  # facts were given, so a fold that starts from nothing made something
        raise AssertionError(f"{projection.name} folded {key!r} into nothing")
    return folded


def _item(
    namespace: str, projection: Projection, key: str, stream: str, version: int, view: View
) -> dict[str, Any]:
    field = projection.partition_field
    return {
        "id": item_id(namespace, key),
        "projection": namespace,
        "key": key,
        "partition": None if field is None else view.get(field),
        "stream": stream,
        "appliedVersion": version,
        "view": view,
    }


def item_id(namespace: str, key: str) -> str:
    # Cosmos ids may not hold / \ ? #; percent-encoding keeps every key distinct.
    return f"{namespace}:{quote(key, safe=':')}"


def _mismatch(projection: Projection, key: str, first: str, second: str) -> str:
    return (
        f"{projection.name} document {key!r} is fed by stream {first!r}; an event of"
        f" {second!r} names it too"
    )
