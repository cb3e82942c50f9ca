"""Which version of each projection the Cosmos DB views serve: the pointer document.

A rebuild on the Azure shape builds a projection's next version beside the live one
(`adapters.cosmos_view_rebuild`), so the view documents are namespaced by version:
version 1 is the projection's name (`budget:d-1:2026-03`, the layout before versions
existed), version N > 1 is `budget.vN` (`budget.v2:d-1:2026-03`). One item in the views
container says which version is live, and what a rebuild is doing:

    {"id": "projection-versions", "versions": {"budget": {"live": 2, "building": 3,
     "retiring": [1], "cutover_until": "2026-03-02T01:02:03+00:00"}}}

A projection it does not name is at version 1. Readers and the change-feed triggers
read the item through `ViewVersions`, which keeps it for `max_age` seconds, so each
process reads it about once every few seconds rather than once per request.

`cutover_until` is the rebuild's short window at the switch: the live triggers hold
their batches (waiting, then re-reading the item) until the rebuild has swapped or the
moment has passed, so that the new version takes every event before the old one's
trigger writes to it. A rebuild that dies holding a window lets it lapse; nothing stays
held.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from azure.core import MatchConditions
from azure.cosmos import ContainerProxy
from azure.cosmos.exceptions import CosmosAccessConditionFailedError, CosmosResourceExistsError

POINTER_ID = "projection-versions"
POINTER_MAX_AGE_SECONDS = 5.0  # how stale a process's copy of the pointer may be
_HOLD_POLL_SECONDS = 0.25
_UPDATE_ATTEMPTS = 20


def namespace(projection: str, version: int) -> str:
    """What a version's documents are filed under (their `projection` field and id prefix)."""
    return projection if version == 1 else f"{projection}.v{version}"


@dataclass(frozen=True, slots=True)
class VersionState:
    live: int = 1
    building: int | None = None  # the version a rebuild is building beside the live one
    retiring: tuple[int, ...] = ()  # superseded versions whose documents are being deleted
    cutover_until: datetime | None = None  # live triggers hold their writes until then

    def newest(self) -> int:
        return max(self.live, self.building or 0, *self.retiring)

    def holding(self, now: datetime) -> bool:
        return self.cutover_until is not None and now < self.cutover_until


@dataclass(frozen=True, slots=True)
class Versions:
    states: Mapping[str, VersionState] = field(default_factory=dict)
    etag: str | None = None  # None: the pointer item does not exist yet

    def of(self, projection: str) -> VersionState:
        return self.states.get(projection, VersionState())


class ViewVersions:
    """The pointer item of one views container, read at most every `max_age` seconds
    (unless asked for fresh) and changed by compare-and-set. Thread-safe."""

    def __init__(
        self,
        container: ContainerProxy,
        *,
        max_age: float = POINTER_MAX_AGE_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._container = container
        self.max_age = max_age
        self._clock = clock
        self._sleep = sleep
        self._lock = Lock()
        self._cached: tuple[float, Versions] | None = None

    def current(self, *, fresh: bool = False) -> Versions:
        with self._lock:
            cached = self._cached
        if not fresh and cached is not None and time.monotonic() - cached[0] < self.max_age:
            return cached[1]
        read_at = time.monotonic()  # before the read: the copy is at least this old
        versions = self._read()
        with self._lock:
            self._cached = (read_at, versions)
        return versions

    def live(self, projection: str) -> str:
        """The namespace readers read `projection` from."""
        return namespace(projection, self.current().of(projection).live)

    def for_writing(self, projection: str) -> str:
        """The namespace the live trigger writes `projection` to, once any cutover
        window is over: a batch waits out the window here rather than write a version
        that is about to be replaced."""
        state = self.current().of(projection)
        while state.holding(self._clock()):
            self._sleep(_HOLD_POLL_SECONDS)
            state = self.current(fresh=True).of(projection)
        return namespace(projection, state.live)

    def now(self) -> datetime:
        return self._clock()

    def update(
        self, projection: str, change: Callable[[VersionState], VersionState]
    ) -> VersionState:
        """Apply `change` to `projection`'s state on the latest pointer; answer the result."""
        for _attempt in range(_UPDATE_ATTEMPTS):
            versions = self.current(fresh=True)
            state = change(versions.of(projection))
            item = {"id": POINTER_ID, "versions": _encode({**versions.states, projection: state})}
            try:
                if versions.etag is None:
                    self._container.create_item(item)
                else:
                    self._container.replace_item(
                        POINTER_ID,
                        item,
                        etag=versions.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (CosmosAccessConditionFailedError, CosmosResourceExistsError):
                continue  # another rebuild changed the pointer meanwhile: redo on its version
            with self._lock:
                self._cached = None
            return state
        raise RuntimeError(f"the projection versions item kept changing under {projection!r}")

    def _read(self) -> Versions:
        # A query, not a point read: cosmosdb-server answers a point read of a missing
        # item with 500 (the real service: 404).
        found = self._container.query_items(
            "SELECT * FROM c WHERE c.id = @id",
            parameters=[{"name": "@id", "value": POINTER_ID}],
            partition_key=POINTER_ID,
        )
        item = next(iter(found), None)
        if item is None:
            return Versions()
        return Versions(_decode(item.get("versions", {})), item["_etag"])


def _encode(states: Mapping[str, VersionState]) -> dict[str, Any]:
    return {
        name: {
            "live": state.live,
            "building": state.building,
            "retiring": list(state.retiring),
            "cutover_until": None
            if state.cutover_until is None
            else state.cutover_until.isoformat(),
        }
        for name, state in states.items()
    }


def _decode(states: Mapping[str, Mapping[str, Any]]) -> dict[str, VersionState]:
    decoded = {}
    for name, state in states.items():
        until = state.get("cutover_until")
        decoded[name] = VersionState(
            live=int(state.get("live", 1)),
            building=state.get("building"),
            retiring=tuple(state.get("retiring", ())),
            cutover_until=None if until is None else datetime.fromisoformat(until),
        )
    return decoded
