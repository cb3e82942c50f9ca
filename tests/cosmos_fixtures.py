"""Cosmos DB for the tests: `@vercel/cosmosdb-server` (npm) over TLS on loopback, and the
real `azure-cosmos` client pointed at it.

Load them in a test module (or a conftest.py) with

    pytest_plugins = ["tests.cosmos_fixtures"]

(an import of the fixture functions would need a lint exception at every test using one).

- `cosmos_emulator` (session): the running server, a `tests.emulators.RunningEmulator`.
- `cosmos_wire` (session): a `WireLog` of every HTTP request the session's client sent,
  with the answer's status and RU charge, as seen on the wire.
- `cosmos_client` (session): a `CosmosClient` on the emulator.
- `cosmos_database` (per test): a fresh database with a unique name, deleted afterwards.
  Make containers in it (e.g. `adapters.cosmos_event_store.ensure_event_container`).
- `new_cosmos_client` (per test): makes further clients on the emulator, e.g. one per
  simulated host, and closes them after the test.

Differences from the real service seen with cosmosdb-server 1.0.1 and azure-cosmos 4.17
(tests that meet one say so):
- A transactional batch whose second create conflicts answers [201, 409] and keeps the
  first create; the real service answers [424, 409] and keeps nothing.
- A query scoped to a partition key must also filter on it in its WHERE.
- A point read of a missing item answers 500 where the real service answers 404.
- Every response is charged 1 RU (`x-ms-request-charge: 1`), whatever it did.
- Its change feed answers every read that carries a continuation with 304, so nothing
  written after the first page would ever be seen; `tests/cosmos_emulator.js`, which
  starts it here (with keep-alive, which its CLI cannot turn on), gives it the real
  service's incremental reads by logical sequence number.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from azure.cosmos import CosmosClient, DatabaseProxy

from tests.emulators import RunningEmulator, run_cosmos_emulator

# The Cosmos DB emulator's published, well-known master key: not a secret. The server
# accepts any key; the client signs every request with it as it would with a real one.
EMULATOR_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)

# The server's certificate is the one bundled with the npm package (self-signed, expired,
# issued to "cosmosdb"), and its command line cannot be given another. So the client does
# not verify it: acceptable for a server on 127.0.0.1 that holds test data only, and never
# done outside these fixtures. urllib3 warns about each such request; the filter below is
# applied to exactly the tests that use these fixtures, and matches only requests to the
# loopback address.
LOOPBACK_UNVERIFIED_TLS = (
    "ignore:Unverified HTTPS request is being made to host '127.0.0.1'"
    ":urllib3.exceptions.InsecureRequestWarning"
)
_FIXTURES = frozenset({"cosmos_emulator", "cosmos_client", "cosmos_database"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.filterwarnings(LOOPBACK_UNVERIFIED_TLS))


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One HTTP exchange between a client and the emulator."""

    method: str
    partition_key: str | None  # the stream, for requests scoped to one
    is_batch: bool
    is_query: bool
    status: int
    request_charge: float


class WireLog:
    """HTTP exchanges recorded by a client's `raw_response_hook`, in the order answered.

    `mark()` before and `since(mark)` after an operation give what it sent.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[WireRequest] = []

    def record(self, pipeline_response: Any) -> None:
        request = pipeline_response.http_request
        response = pipeline_response.http_response
        headers = request.headers
        partition_key = headers.get("x-ms-documentdb-partitionkey")
        exchange = WireRequest(
            method=request.method,
            partition_key=None if partition_key is None else json.loads(partition_key)[0],
            is_batch=_is_true(headers.get("x-ms-cosmos-is-batch-request")),
            is_query=_is_true(headers.get("x-ms-documentdb-isquery")),
            status=response.status_code,
            request_charge=float(response.headers.get("x-ms-request-charge") or 0.0),
        )
        with self._lock:
            self._requests.append(exchange)

    def mark(self) -> int:
        with self._lock:
            return len(self._requests)

    def since(self, mark: int) -> list[WireRequest]:
        with self._lock:
            return self._requests[mark:]


def _is_true(header: object) -> bool:
    # The SDK sends some flags as "true" and others as Python's True, spelt "True".
    return str(header).lower() == "true"


def cosmos_client_for(emulator: RunningEmulator, wire: WireLog | None = None) -> CosmosClient:
    """A client on `emulator`; its HTTP exchanges go to `wire` if one is given."""
    options: dict[str, Any] = {} if wire is None else {"raw_response_hook": wire.record}
    return CosmosClient(
        f"https://{emulator.host}:{emulator.port}/",
        credential=EMULATOR_KEY,
        connection_verify=False,  # loopback emulator only: see LOOPBACK_UNVERIFIED_TLS
        **options,
    )


@pytest.fixture(scope="session")
def cosmos_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    workdir: Path = tmp_path_factory.mktemp("cosmosdb-server")
    with run_cosmos_emulator(workdir) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def cosmos_wire() -> WireLog:
    return WireLog()


@pytest.fixture(scope="session")
def cosmos_client(cosmos_emulator: RunningEmulator, cosmos_wire: WireLog) -> Iterator[CosmosClient]:
    with cosmos_client_for(cosmos_emulator, cosmos_wire) as client:
        yield client


@pytest.fixture
def new_cosmos_client(cosmos_emulator: RunningEmulator) -> Iterator[Callable[[], CosmosClient]]:
    with ExitStack() as clients:
        yield lambda: clients.enter_context(cosmos_client_for(cosmos_emulator))


@pytest.fixture
def cosmos_database(cosmos_client: CosmosClient) -> Iterator[DatabaseProxy]:
    name = f"test-{uuid4().hex}"
    database = cosmos_client.create_database(name)
    yield database
    cosmos_client.delete_database(name)
