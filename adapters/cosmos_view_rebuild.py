"""Rebuild a projection's Cosmos DB views beside the live ones, compare, then swap.

The live version keeps serving readers, and its change-feed trigger keeps folding,
while this builds the next version (`adapters.cosmos_view_versions` names them):

1. Build: mark version N+1 as building in the pointer item, then read the events
   container's change feed from the beginning under a lease of its own
   (`rebuild-budget.v2-…` in the `leases` container, checkpointed after every page) and
   fold each page into version N+1's documents, until a read finds nothing new.
2. Compare the two versions document by document in key order. The live trigger is
   still folding meanwhile, so a document whose two sides stand at different stream
   versions (or exist on one side only) is checked again after the build has caught
   up once more; what still differs is reported.
3. Swap, unless a dry run: open a cutover window in the pointer item, during which the
   live trigger holds its batches; wait until every process's copy of the pointer has
   seen it (`settle_seconds`), fold the last events into N+1, and make N+1 live. The
   trigger then writes N+1 from its own lease, which is behind the build's or level
   with it, so nothing is skipped (an event already in a document is recognised by
   its version). A swap that could not be written well inside the window is given up
   and tried again: a trigger whose copy of the pointer still shows the lapsed
   window could otherwise write version N after the swap.
4. Retire: wait `settle_seconds` more (readers' copies of the pointer may still name
   N), then delete version N's documents and the build's lease, and forget N.

Every step is recorded in the pointer item first, so a run that is stopped at any
point is resumed by the next: the build from its lease, an unfinished retirement
from the start. A cutover window that a dead run left open lapses by itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from azure.core.exceptions import AzureError
from azure.core.paging import PageIterator
from azure.cosmos import ContainerProxy, DatabaseProxy
from azure.cosmos.exceptions import CosmosResourceNotFoundError

from adapters.cosmos_view_versions import (
    POINTER_MAX_AGE_SECONDS,
    VersionState,
    ViewVersions,
    namespace,
)
from adapters.cosmos_views import CosmosViewStore, item_id
from projections.base import Projection
from projections.rebuild import Difference, Kind, RebuildFailed, merge_by_key

FEED_PAGE = 100  # events per change-feed read, as the trigger reads them
LAST_EVENTS_SECONDS = 30.0  # what the cutover window leaves for taking the last events
RECHECKS = 3  # rounds in which documents still moving are compared again
_PROGRESS_EVERY_SECONDS = 5.0

Progress = Callable[[str], None]
Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rebuilt:
    projection: str
    version: int  # the version built (live now, unless a dry run)
    documents: int
    events_read: int  # change-feed items read by this run
    differences: tuple[Difference, ...]
    swapped: bool


class CosmosViewRebuild:
    """Rebuilds projections in the views container of `database`, from its events.

    Give it a database proxy from a client of its own: the SDK keeps a change feed's
    place in its client, which other readers of the feed would disturb.
    """

    def __init__(
        self,
        database: DatabaseProxy,
        *,
        progress: Progress = lambda line: None,
        events_container: str = "events",
        views_container: str = "views",
        lease_container: str = "leases",
        pointer_max_age: float = POINTER_MAX_AGE_SECONDS,
        cutover_seconds: float | None = None,
        recheck_pause: float = 1.0,
    ) -> None:
        views = database.get_container_client(views_container)
        self._events = database.get_container_client(events_container)
        self._leases = database.get_container_client(lease_container)
        self._views = views
        self._versions = ViewVersions(views, max_age=0.0)  # this run reads it fresh
        self._store = CosmosViewStore(views, versions=self._versions)
        # How old a process's copy of the pointer may be, and as much again for the skew
        # between this machine's clock and the Functions hosts'.
        self._settle = 2 * pointer_max_age
        # The window holds the settling, the last events, and the margin the swap must
        # leave before it lapses (`_cut_over`): 60 s with the default pointer age.
        window = 3 * self._settle + LAST_EVENTS_SECONDS
        self._cutover = timedelta(seconds=window if cutover_seconds is None else cutover_seconds)
        self._recheck_pause = recheck_pause
        self._say = progress

    def rebuild(self, projections: Sequence[Projection], *, dry_run: bool = False) -> list[Rebuilt]:
        """Rebuild each of `projections` in turn; raises `RebuildFailed` with what went
        wrong, after which running it again resumes."""
        try:
            self._check_lease_container()
            return [self._rebuild(projection, dry_run) for projection in projections]
        except AzureError as error:
            status = getattr(error, "status_code", None)
            answer = "could not be reached" if status is None else f"answered {status}"
            reason = str(error.message).splitlines()[0] if error.message else type(error).__name__
            raise RebuildFailed(
                f"Cosmos DB {answer} ({reason}); running the rebuild again resumes it"
            ) from error

    def _rebuild(self, projection: Projection, dry_run: bool) -> Rebuilt:
        name = projection.name
        resuming = self._versions.current(fresh=True).of(name).building is not None
        state = self._versions.update(name, _started)
        for leftover in state.retiring:  # a run stopped while retiring it
            self._retire(name, leftover)
        version = state.building
        assert version is not None  # _started set it
        live = namespace(name, state.live)
        lease = _lease_prefix(name, version)
        self._say(
            f"{name}: resuming the build of version {version} from its lease {lease}…"
            if resuming
            else f"{name}: building version {version} beside live version {state.live} from"
            f" the start of the change feed (lease {lease}…)"
        )
        read = self._follow(projection, version)
        self._say(f"{name}: version {version} caught up ({read} events read); comparing")
        differences, documents = self._compare(projection, live, version)
        self._say(f"{name}: {documents} documents, {len(differences)} differing from live")
        if dry_run:
            self._versions.update(name, lambda s: _dropped(s, version))
            self._retire(name, version, settle=False)
            return Rebuilt(name, version, documents, read, differences, swapped=False)
        read += self._cut_over(projection, version)
        self._say(f"{name}: version {version} is live")
        self._retire(name, state.live)
        return Rebuilt(name, version, documents, read, differences, swapped=True)

    # --- 1. the build ------------------------------------------------------------------

    def _follow(self, projection: Projection, version: int) -> int:
        """Fold the change feed after the build's lease into `version` until a read finds
        nothing new; answer how many events were read."""
        lease_id = f"{_lease_prefix(projection.name, version)}{self._events.id}"
        lease = self._read(self._leases, lease_id) or {"id": lease_id, "eventsRead": 0}
        target = namespace(projection.name, version)
        read, said = 0, time.monotonic()
        while True:
            items, continuation = self._page(lease.get("continuationToken"))
            if not items:
                return read
            self._store.apply_to(target, projection, items)
            read += len(items)
            lease = {**lease, "continuationToken": continuation}
            lease["eventsRead"] = int(lease["eventsRead"]) + len(items)
            self._leases.upsert_item(lease)
            if time.monotonic() - said >= _PROGRESS_EVERY_SECONDS:
                said = time.monotonic()
                self._say(f"{projection.name}: version {version} at {lease['eventsRead']} events")

    def _page(self, continuation: str | None) -> tuple[list[Document], str | None]:
        options: dict[str, Any] = {"max_item_count": FEED_PAGE}
        if continuation is None:
            options["start_time"] = "Beginning"
        else:
            options["continuation"] = continuation
        # by_page() is typed as a plain iterator; it is a PageIterator, which carries the
        # continuation after the page it last answered.
        pager = cast(
            "PageIterator[Document]", self._events.query_items_change_feed(**options).by_page()
        )
        page = next(pager, None)
        items = [] if page is None else list(page)
        return items, pager.continuation_token if items else continuation

    # --- 2. the comparison -------------------------------------------------------------

    def _compare(
        self, projection: Projection, live: str, version: int
    ) -> tuple[tuple[Difference, ...], int]:
        built = namespace(projection.name, version)
        found: dict[str, tuple[Kind, bool]] = {}  # key: how it differs, and if settled
        for key, kind, old, new in merge_by_key(
            self._documents(live), self._documents(built), _key, _same_view
        ):
            if kind is not None:
                found[key] = (kind, _settled(old, new))
        for _round in range(RECHECKS):
            moving = [key for key, (_kind, settled) in found.items() if not settled]
            if not moving:
                break
            time.sleep(self._recheck_pause)  # let the live trigger fold what it has read
            self._follow(projection, version)
            for key in moving:
                old = self._read(self._views, item_id(live, key))
                new = self._read(self._views, item_id(built, key))
                kind_now = _kind(old, new)
                if kind_now is None:
                    del found[key]
                else:
                    found[key] = (kind_now, _settled(old, new))
        differences = [Difference(projection.name, key, kind) for key, (kind, _) in found.items()]
        return tuple(sorted(differences, key=lambda d: d.key)), self._count(built)

    def _count(self, space: str) -> int:
        counted = self._views.query_items(
            "SELECT VALUE COUNT(1) FROM c WHERE c.projection = @space",
            parameters=[{"name": "@space", "value": space}],
            enable_cross_partition_query=True,
        )
        return sum(int(count) for count in cast("Iterator[int]", counted))

    def _documents(self, space: str) -> Iterator[Document]:
        yield from self._views.query_items(
            "SELECT c.key, c.appliedVersion, c.view FROM c WHERE c.projection = @space"
            " ORDER BY c.key",
            parameters=[{"name": "@space", "value": space}],
            enable_cross_partition_query=True,
            max_item_count=500,
        )

    # --- 3. the swap -------------------------------------------------------------------

    def _cut_over(self, projection: Projection, version: int) -> int:
        """Hold the live trigger, take the last events, make `version` live; answer how
        many events were read meanwhile."""
        name, read = projection.name, 0
        for _attempt in range(3):
            deadline = self._versions.now() + self._cutover
            self._versions.update(name, partial(_holding, until=deadline))
            try:
                self._say(
                    f"{name}: holding the live trigger's writes for at most"
                    f" {self._cutover.total_seconds():.0f} s while version {version} takes"
                    " the last events"
                )
                time.sleep(self._settle)  # every copy of the pointer now shows the window
                last = self._follow(projection, version)
                self._say(f"{name}: version {version} took the last {last} events")
                read += last
                # Written well inside the window: a trigger that still holds a copy of
                # the pointer from before the swap must see the window as open.
                if self._versions.now() + 2 * timedelta(seconds=self._settle) <= deadline:
                    self._versions.update(name, lambda s: _swapped(s, version))
                    return read
            except BaseException:
                self._versions.update(name, partial(_holding, until=None))
                raise
            self._versions.update(name, partial(_holding, until=None))
            self._say(f"{name}: the last events took too long; opening the window again")
        raise RebuildFailed(
            f"{name}: version {version} could not take the last events inside the cutover"
            " window; run the rebuild again (it resumes) or give it a longer window"
        )

    # --- 4. retiring a version ---------------------------------------------------------

    def _retire(self, name: str, version: int, *, settle: bool = True) -> None:
        if settle:
            time.sleep(self._settle)  # until no reader's copy of the pointer names it
        space = namespace(name, version)
        deleted = self._delete_where(
            self._views, "c.projection = @value", space, f"{name}: deleting version {version}"
        )
        # The retired version's build lease, if an earlier rebuild built it, and the live
        # version's, whose build is over.
        live = self._versions.current(fresh=True).of(name).live
        leases = sum(
            self._delete_where(self._leases, "STARTSWITH(c.id, @value)", _lease_prefix(name, v))
            for v in {version, live}
        )
        self._versions.update(
            name, lambda s: replace(s, retiring=tuple(v for v in s.retiring if v != version))
        )
        self._say(
            f"{name}: deleted version {version} ({deleted} documents) and {leases} rebuild"
            f" lease{'' if leases == 1 else 's'}"
        )

    def _delete_where(
        self, container: ContainerProxy, condition: str, value: str, saying: str | None = None
    ) -> int:
        found_ids = container.query_items(
            f"SELECT VALUE c.id FROM c WHERE {condition}",  # noqa: S608 (fixed conditions)
            parameters=[{"name": "@value", "value": value}],
            enable_cross_partition_query=True,
        )
        deleted, said = 0, time.monotonic()
        for found in cast("Iterator[str]", found_ids):
            try:
                container.delete_item(found, partition_key=found)
            except CosmosResourceNotFoundError:
                continue  # deleted by an earlier run that stopped before forgetting it
            deleted += 1
            if saying and time.monotonic() - said >= _PROGRESS_EVERY_SECONDS:
                said = time.monotonic()
                self._say(f"{saying}: {deleted} documents so far")
        return deleted

    def _read(self, container: ContainerProxy, item: str) -> Document | None:
        # A query, not a point read: cosmosdb-server answers a point read of a missing
        # item with 500 (the real service: 404).
        found = container.query_items(
            "SELECT * FROM c WHERE c.id = @id",
            parameters=[{"name": "@id", "value": item}],
            partition_key=item,
        )
        return next(iter(found), None)

    def _check_lease_container(self) -> None:
        try:
            self._leases.read()
        except CosmosResourceNotFoundError:
            raise RebuildFailed(
                f"no container {self._leases.id!r}: the change-feed triggers keep their leases"
                " there, and the infrastructure templates create it"
            ) from None


def _lease_prefix(name: str, version: int) -> str:
    # Not the live trigger's prefix (`budget-`): its lease must survive every rebuild.
    return f"rebuild-{namespace(name, version)}-"


def _started(state: VersionState) -> VersionState:
    """Resume the build a stopped run left, or start the next version; no window open."""
    building = state.building if state.building is not None else state.newest() + 1
    return replace(state, building=building, cutover_until=None)


def _holding(state: VersionState, until: datetime | None) -> VersionState:
    return replace(state, cutover_until=until)


def _swapped(state: VersionState, version: int) -> VersionState:
    if state.building != version:
        raise RebuildFailed(f"another rebuild took over: the pointer now builds {state.building}")
    return VersionState(live=version, retiring=(*state.retiring, state.live))


def _dropped(state: VersionState, version: int) -> VersionState:
    return replace(state, building=None, retiring=(*state.retiring, version))


def _key(document: Mapping[str, Any]) -> str:
    return str(document["key"])


def _same_view(live: Mapping[str, Any], built: Mapping[str, Any]) -> bool:
    return bool(live["view"] == built["view"])


def _settled(live: Mapping[str, Any] | None, built: Mapping[str, Any] | None) -> bool:
    """Both sides hold the same events: a difference between them is not one in flight."""
    return (
        live is not None and built is not None and live["appliedVersion"] == built["appliedVersion"]
    )


def _kind(live: Mapping[str, Any] | None, built: Mapping[str, Any] | None) -> Kind | None:
    if live is None:
        return None if built is None else "extra"
    if built is None:
        return "missing"
    return None if _same_view(live, built) else "changed"
