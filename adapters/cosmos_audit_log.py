"""The Cosmos DB event store read for audit: seals by commit time, verify stream by stream.

Implements `services.seals.SealableLog` and `services.audit_verify.StreamwiseLog` over
the container `adapters.cosmos_event_store` writes.

Cosmos DB keeps no order across partitions, so where the SQLite log has positions:
- Seals use the server's commit time, `_ts` (whole seconds, set by Cosmos when the write
  commits, not by the writer's clock). A seal covers the events committed in (the
  previous seal's position, its own], and its own is `settle_seconds` before now: a write
  still in flight commits later than now, so it falls in the next seal's window, never
  in a window already sealed; the margin also covers the skew between the server's clock
  and ours.
- Verify reads each stream on its own, by descending version, in one cross-partition
  query ordered by stream (the events container's composite index serves it), and
  rebuilds each event's hashed text from the stored item exactly as it reads: the stored
  `recordedAt` text, and `data` as the text it was hashed as (`dataText`). Every chain
  rule of `domain/audit.py` holds per stream; `reordered` needs a global order and cannot
  arise. From a seal on (`--since`), only the events committed after it are read, each
  stream's first of them linked to the seal's head or the event before it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from azure.cosmos import ContainerProxy

from adapters.cosmos_event_store import item_id
from domain.audit import StreamEvent
from domain.envelope import canonical_json, hashed_fields, utc_now
from domain.seals import Head

SETTLE_SECONDS = 60
# Versions are read from item ids throughout: see `_stream_event`.
_CHANGED = "SELECT c.streamId, c.id, c.hash FROM c WHERE c._ts > @after AND c._ts <= @upto"
_STREAMS_AFTER = "SELECT * FROM c WHERE c._ts > @after ORDER BY c.streamId ASC, c.version DESC"
_NO_DATA = ',"data":{},'
# By item id, as everywhere here. A query, not a point read: cosmosdb-server answers
# a point read of a missing item with 500 where the service answers 404. It names the
# stream too, as every partition-scoped query does (see cosmos_event_store).
_HASH_AT = "SELECT VALUE c.hash FROM c WHERE c.streamId = @stream AND c.id = @id"


class CosmosAuditLog:
    """Reads the events container for audit; safe to share between threads."""

    def __init__(
        self,
        container: ContainerProxy,
        *,
        clock: Callable[[], datetime] = utc_now,
        settle_seconds: int = SETTLE_SECONDS,
        page_size: int = 1000,
    ) -> None:
        self._container = container
        self._clock = clock
        self._settle_seconds = settle_seconds
        self._page_size = page_size

    def last_position(self) -> int:
        """The commit time (epoch seconds) up to which every write has landed."""
        return int(self._clock().timestamp()) - self._settle_seconds

    def heads(self, after_position: int, up_to_position: int) -> list[Head]:
        """The head of every stream with an event committed in the window, as of its end."""
        newest: dict[str, tuple[int, str]] = {}
        for item in self._query(_CHANGED, after=after_position, upto=up_to_position):
            stream_id, version = item["streamId"], int(item["id"])
            if stream_id not in newest or newest[stream_id][0] < version:
                newest[stream_id] = (version, item["hash"])
        return sorted(Head(s, version, hash_) for s, (version, hash_) in newest.items())

    def streams(self, after_position: int = 0) -> Iterator[tuple[str, Iterator[StreamEvent]]]:
        """Every stream with events committed after `after_position`, with those events by
        descending version; one stream's at a time."""
        items = self._query(_STREAMS_AFTER, after=after_position)
        for stream_id, group in groupby(items, key=itemgetter("streamId")):
            yield stream_id, (_stream_event(item) for item in group)

    def hash_at(self, stream_id: str, version: int) -> str | None:
        found = self._query(_HASH_AT, stream_id, stream=stream_id, id=item_id(version))
        return next((str(hash_) for hash_ in found), None)

    def hashes_at(self, keys: Sequence[tuple[str, int]]) -> list[str | None]:
        return [self.hash_at(stream_id, version) for stream_id, version in keys]

    def close(self) -> None:
        """Nothing to release: the client belongs to whoever made the container."""

    def _query(self, text: str, partition_key: str | None = None, **values: Any) -> Iterator[Any]:
        """`text` with `@name` bound to each of `values`: in one stream's partition, or
        across partitions a page at a time."""
        parameters: list[dict[str, Any]] = [
            {"name": f"@{name}", "value": value} for name, value in values.items()
        ]
        if partition_key is not None:
            found: Iterator[Any] = self._container.query_items(
                text, parameters=parameters, partition_key=partition_key
            )
        else:
            found = self._container.query_items(
                text,
                parameters=parameters,
                enable_cross_partition_query=True,
                max_item_count=self._page_size,
            )
        return found


def _stream_event(item: Mapping[str, Any]) -> StreamEvent:
    # The item id is the version zero-padded (cosmos_event_store.item_id) and unique in its
    # partition: where the chain is, whatever a tampered `version` field says.
    # Its position is its version: with no global order, no event can sit out of it.
    version = int(item["id"])
    return (version, version, str(item.get("prevHash")), str(item.get("hash")), _hashed_text(item))


def _hashed_text(item: Mapping[str, Any]) -> str | None:
    """The canonical text the item's hash covers, from its fields as stored; None when an
    item lacks one, or its `dataText` says other than its `data` (it cannot be what was
    written). Items written before `dataText` was stored are rebuilt from `data`."""
    data_text = item.get("dataText")
    try:
        if data_text is not None and json.loads(data_text) != item["data"]:
            return None
        fields = item_hashed_fields(item, item["data"] if data_text is None else {})
    except (KeyError, TypeError, ValueError, AttributeError):  # a field missing or mistyped
        return None
    text = canonical_json(fields)
    if data_text is None:
        return text
    # The last "data" key is the envelope's: every key after it is one of its own fields,
    # whose values are strings (escaped) and integers.
    at = text.rfind(_NO_DATA)
    return f'{text[:at]},"data":{data_text},{text[at + len(_NO_DATA) :]}'


def item_hashed_fields(item: Mapping[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """`envelope.hashed_fields` of an event item's stored fields, with `data` as given."""
    return hashed_fields(
        event_id=item["eventId"],
        stream_id=item["streamId"],
        version=item["version"],
        type=item["type"],
        schema_version=item["schemaVersion"],
        recorded_at=item["recordedAt"],
        correlation_id=item["correlationId"],
        causation_id=item["causationId"],
        actor=item["actor"],
        data=data,
        prev_hash=item["prevHash"],
    )
