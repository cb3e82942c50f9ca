"""The Azure shape's Cosmos DB side for the rebuild tests (`test_cosmos_view_rebuild.py`):
the events, the views, the leases, and the live triggers as the Functions host runs them.

The live triggers are the projector's own declarations (`functions.projector`'s
`on_every_event` and lease prefixes) run by the embedded host's change-feed poller,
each on a client of its own as a Functions instance would be; what they fold with is
`Shape.code`, which a test changes as a deployment would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import azure.functions as func
from azure.cosmos import CosmosClient, DatabaseProxy

from adapters.cosmos_event_store import _item_of, ensure_event_container
from adapters.cosmos_view_rebuild import CosmosViewRebuild
from adapters.cosmos_view_versions import VersionState, ViewVersions
from adapters.cosmos_views import CosmosViewStore, ensure_view_container
from devhost.change_feed import ChangeFeedPoller, FeedContainers, ensure_lease_container
from devhost.triggers import discover
from domain.envelope import Event, canonical_json
from functions.projector import function_name, lease_prefix, on_every_event
from projections import ALL_PROJECTIONS
from projections.base import Fact, Projection, View

POINTER_AGE = 0.2  # seconds a process keeps its copy of the version pointer, here


class Shape:
    """The Azure shape's Cosmos DB side: the events, the views, the leases, a live
    trigger per projection, and a reader as the API holds one."""

    def __init__(self, database: DatabaseProxy, new_client: Callable[[], CosmosClient]) -> None:
        self.database = database
        self.events = ensure_event_container(database)
        self.views = ensure_view_container(database)
        self.leases = ensure_lease_container(database)
        self.new_client = new_client
        self.reader = CosmosViewStore(self.views, versions=ViewVersions(self.views, max_age=0))
        # What the deployed triggers fold with.
        self.code: dict[str, Projection] = {p.name: p for p in ALL_PROJECTIONS}
        self.pollers = self._live_triggers()

    def _live_triggers(self) -> list[ChangeFeedPoller]:
        views = self._database().get_container_client("views")
        store = CosmosViewStore(views, versions=ViewVersions(views, max_age=POINTER_AGE))
        blueprint = func.Blueprint()  # type: ignore[no-untyped-call]  # its __init__ is bare
        for name in self.code:

            def project(documents: func.DocumentList, name: str = name) -> None:
                store.apply_changes(self.code[name], [d.to_dict() for d in documents])

            on_every_event(blueprint, function_name(name), lease_prefix(name))(project)
        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
        app.register_functions(blueprint)
        settings = {"DONATELLO_COSMOS_DATABASE": self.database.id}
        pollers = []
        for trigger in discover(app, settings, change_feed=True).cosmos_db:
            database = self._database()  # a client per instance, as the host makes them
            feed = FeedContainers(
                database.get_container_client("events"), database.get_container_client("leases")
            )
            pollers.append(ChangeFeedPoller(trigger, _given(feed)))
        return pollers

    def _database(self) -> DatabaseProxy:
        return self.new_client().get_database_client(self.database.id)

    def append(self, events: Sequence[Event]) -> None:
        for event in events:
            self.events.create_item(_item_of(event, canonical_json(event.data)))

    def drain(self) -> None:
        """Run every live trigger until none has anything left to fold."""
        while sum(poller.poll_once() for poller in self.pollers):
            pass

    def rebuild(self, progress: Callable[[str], None] = lambda line: None) -> CosmosViewRebuild:
        return CosmosViewRebuild(
            self._database(), progress=progress, pointer_max_age=POINTER_AGE, recheck_pause=0.05
        )

    def documents(self, projection: str) -> list[View]:
        """The live version's documents in key order, as a reader lists them."""
        return list(self.reader.list(projection))

    def namespaces(self) -> set[str]:
        found = self.views.query_items(
            "SELECT c.projection FROM c", enable_cross_partition_query=True
        )
        return {str(row["projection"]) for row in found if "projection" in row}

    def lease_ids(self) -> set[str]:
        found = self.leases.query_items(
            "SELECT VALUE c.id FROM c", enable_cross_partition_query=True
        )
        return {str(lease) for lease in found}


def _given(feed: FeedContainers) -> Callable[[], FeedContainers]:
    return lambda: feed


def legacy(projection: Projection) -> Projection:
    """`projection` as an older release folded it: every document with a field since
    dropped."""

    def apply(view: View | None, event: Fact) -> View:
        folded = projection.apply(view, event)
        return folded if folded is view else {**folded, "legacy": True}

    return dataclasses.replace(projection, apply=apply, fold=None)


def in_key_order(documents: dict[str, View]) -> list[View]:
    return [documents[key] for key in sorted(documents)]


def pointer(shape: Shape, projection: str) -> VersionState:
    return ViewVersions(shape.views, max_age=0).current().of(projection)
