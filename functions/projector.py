"""The projections on the Azure shape: one Cosmos DB change-feed trigger per projection.

Each trigger watches the `events` container with its own lease prefix in the shared
`leases` container, so each projection keeps its own place in the feed and one slow or
failing projection holds up no other. It reads from the beginning of the feed the first
time (a projection must see the whole log), then from its leases.

Retries: by default the Cosmos DB trigger checkpoints its lease after an invocation
whether or not the function succeeded, so an exception would silently skip the batch
and leave the views short of those events forever. A function-level retry policy with
`max_retry_count` -1 makes the Functions runtime re-run the same batch (exponential
backoff, 1 s up to 1 min) until it succeeds; the lease does not move meanwhile, so a
failure delays the views but never loses an event. Folding is idempotent (the view
store skips events a document already has), so a re-run after a partial write is safe.

Connections are identity-based (`CosmosDbConnection__accountEndpoint`), which cannot
create containers: the infrastructure templates create `leases` (partition key `/id`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.functions as func

from bootstrap import EVENTS_CONTAINER, platform
from projections import OWN_FEED_PROJECTIONS
from services.projection_feed import project_changes

blueprint = func.Blueprint()

CONNECTION = "CosmosDbConnection"
DATABASE = "%DONATELLO_COSMOS_DATABASE%"  # the app setting that `Settings.cosmos_database` reads
LEASE_CONTAINER = "leases"
FEED_POLL_DELAY_MS = 1000  # an idle feed costs a read a second per partition and projection


def lease_prefix(projection: str) -> str:
    return f"{projection}-"


def function_name(projection: str) -> str:
    return f"project_{projection}"


def on_every_event(
    blueprint: func.Blueprint, name: str, lease_prefix: str
) -> Callable[[Callable[[func.DocumentList], None]], Any]:
    """Register a function as a change-feed trigger on the events container: from the
    beginning of the feed, its own lease prefix, retried until it succeeds."""

    def register(function: Callable[[func.DocumentList], None]) -> Any:
        decorated = blueprint.cosmos_db_trigger(
            arg_name="documents",
            connection=CONNECTION,
            database_name=DATABASE,
            container_name=EVENTS_CONTAINER,
            lease_container_name=LEASE_CONTAINER,
            lease_container_prefix=lease_prefix,
            create_lease_container_if_not_exists=False,
            # A flag, which azure-functions 1.26 annotates as `datetime.time`.
            start_from_beginning=True,  # type: ignore[arg-type]
            feed_poll_delay=FEED_POLL_DELAY_MS,
        )(function)
        decorated = blueprint.retry(
            strategy="exponential_backoff",
            max_retry_count="-1",
            minimum_interval="00:00:01",
            maximum_interval="00:01:00",
        )(decorated)
        return blueprint.function_name(name)(decorated)

    return register


def _register(projection: str) -> None:
    @on_every_event(blueprint, function_name(projection), lease_prefix(projection))
    def project(documents: func.DocumentList) -> None:
        project_changes(platform(), projection, [document.to_dict() for document in documents])


for _projection in OWN_FEED_PROJECTIONS:  # the deliveries view: functions/webhooks.py
    _register(_projection.name)
