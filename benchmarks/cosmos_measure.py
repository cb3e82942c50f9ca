"""Measures the Cosmos DB operations of generations, for `benchmarks.cosmos_ru`.

`@vercel/cosmosdb-server` (npm) runs on loopback through the tests' launcher
(`tests.emulators.run_cosmos_emulator`), and the real `azure-cosmos` SDK talks to it. The
composition root builds the Cosmos shape (`build_platform` with `event_store="cosmos"`);
its event store and views are then made again on a client whose `raw_response_hook`
records every HTTP exchange, each named by the adapters' own `RequestCharges` operation
name. The queue (SQLite), images (a folder) and subject keys stay embedded. Generations
run through the real services (`submit_generation`, `advance_generation`, the `local`
provider). After each, the events it wrote go to the change-feed projector
(`project_changes`, as the Cosmos DB trigger calls it) twice, into two views containers:
once one event per change-feed batch, once one batch for the whole generation.

What each operation would cost in RU is not measured: the emulator charges a flat 1 RU
for everything (kept in its own column). Each operation is priced with Microsoft's
published costs applied to the items it wrote or returned (`cosmos_costs.RuModel`).
Change-feed reads and lease checkpoints (no change-feed processor runs here) are
estimated by `cosmos_ru`, one each per batch and projection, and labelled so.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.cosmos import CosmosClient

from adapters.cosmos_charges import RequestCharges
from adapters.cosmos_event_store import CONTAINER_ID as EVENTS
from adapters.cosmos_event_store import CosmosEventStore, ensure_event_container
from adapters.cosmos_views import CosmosViewStore, ensure_view_container
from bootstrap import build_platform
from domain.access import Principal, Role
from domain.generation import Status
from services.context import Platform
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.ports import OutgoingMessage, WorkQueue
from services.projection_feed import PROJECTIONS, project_changes
from services.settings import Settings
from tests.cosmos_fixtures import EMULATOR_KEY
from tests.emulators import run_cosmos_emulator

PIPELINE = "pipeline"
PER_EVENT = "views, 1 event/batch"
PER_GENERATION = "views, 1 batch/generation"
REQUESTER = Principal(
    user_id="alice",
    roles=frozenset({Role.GENERATOR_STANDARD}),
    department_id="marketing",
    tenant_id=None,
)
PROMPTS = (
    "a watercolour lighthouse at dawn",
    "an isometric city of spreadsheets, soft light",
    "a poster for jane.citizen@example.com in art deco style",  # screened and redacted
)
_DOCUMENT_KINDS = frozenset({"batch", "query", "create", "replace", "read", "read feed"})


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request to Cosmos DB and its answer."""

    phase: str
    kind: str  # batch, query, create, replace, read, read feed, change feed, metadata, ...
    operation: str  # the adapter's name for it (RequestCharges), else the kind
    stream: str | None  # the partition key, when the request names one
    item_sizes: tuple[int, ...]  # JSON bytes of each item written or returned
    status: int
    charge: float  # x-ms-request-charge as answered


class WireRecorder:
    """Every exchange of one client, via its `raw_response_hook`.

    The adapters name their operations when they are charged (`NamingCharges`), right
    after the SDK answered them on the same thread; the benchmark is single-threaded.
    """

    def __init__(self) -> None:
        self.phase = "setup"
        self.exchanges: list[Exchange] = []
        self._unnamed: list[int] = []
        self._written: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def on_response(self, pipeline_response: Any) -> None:
        request, response = pipeline_response.http_request, pipeline_response.http_response
        headers = {name.lower(): str(value) for name, value in request.headers.items()}
        path = urlsplit(request.url).path
        kind = _kind(request.method, path, headers)
        sent, answered = _json(request.body), _json(response.body())
        partition = headers.get("x-ms-documentdb-partitionkey")
        exchange = Exchange(
            phase=self.phase,
            kind=kind,
            operation=kind,
            stream=None if partition is None else json.loads(partition)[0],
            item_sizes=_item_sizes(kind, sent, answered),
            status=response.status_code,
            charge=float(response.headers.get("x-ms-request-charge") or 0.0),
        )
        with self._lock:
            if kind in _DOCUMENT_KINDS:
                self._unnamed.append(len(self.exchanges))
            self.exchanges.append(exchange)
            if kind == "batch" and response.status_code == 200 and f"/colls/{EVENTS}/" in path:
                self._written.extend(operation["resourceBody"] for operation in sent)

    def name(self, operation: str) -> None:
        with self._lock:
            for index in self._unnamed:
                self.exchanges[index] = dataclasses.replace(
                    self.exchanges[index], operation=operation
                )
            self._unnamed.clear()

    def take_written(self) -> list[dict[str, Any]]:
        """The event items written since the last call, in the order they were written
        (the order a change feed delivers one stream's changes in)."""
        with self._lock:
            written, self._written = self._written, []
            return written


class NamingCharges(RequestCharges):
    """The adapters' RU account, which also names the exchange each charge is for."""

    def __init__(self, recorder: WireRecorder) -> None:
        super().__init__()
        self._recorder = recorder

    def record(self, stream_id: str | None, operation: str, headers: Mapping[str, Any]) -> None:
        super().record(stream_id, operation, headers)
        self._recorder.name(operation)


@dataclass
class CountingQueue:
    """The platform's queue, counting what is sent (each send is a Service Bus message)."""

    inner: WorkQueue
    sent: int = 0

    def send(self, message: OutgoingMessage) -> None:
        self.inner.send(message)
        self.sent += 1


@dataclass
class Measurement:
    generations: int
    exchanges: list[Exchange]
    events: list[dict[str, Any]] = field(default_factory=list)  # event items, as written
    statuses: dict[str, int] = field(default_factory=dict)  # final status: generations
    queue_sends: int = 0


def measure(generations: int, workdir: Path) -> Measurement:
    with (
        warnings.catch_warnings(),
        run_cosmos_emulator(workdir / "cosmos") as emulator,
    ):
        # The emulator's certificate is self-signed; only this loopback server is trusted.
        warnings.filterwarnings("ignore", "Unverified HTTPS request .* host '127.0.0.1'")
        endpoint = f"https://{emulator.host}:{emulator.port}/"
        recorder = WireRecorder()
        client = CosmosClient(
            endpoint,
            credential=EMULATOR_KEY,
            connection_verify=False,
            raw_response_hook=recorder.on_response,
        )
        with client:
            settings = Settings(
                data_dir=workdir / "platform",
                event_store="cosmos",
                cosmos_endpoint=endpoint,
                cosmos_emulator_key=EMULATOR_KEY,
                provider_backoff_seconds=(0.0,),
            )
            database = client.create_database_if_not_exists(settings.cosmos_database)
            charges = NamingCharges(recorder)
            built = build_platform(settings)
            queue = CountingQueue(built.queue)
            per_event = dataclasses.replace(
                built,
                store=CosmosEventStore(ensure_event_container(database), request_charges=charges),
                queue=queue,
                views=CosmosViewStore(
                    ensure_view_container(database, "views-per-event"), request_charges=charges
                ),
            )
            per_generation = dataclasses.replace(
                per_event,
                views=CosmosViewStore(
                    ensure_view_container(database, "views-per-generation"),
                    request_charges=charges,
                ),
            )
            measured = Measurement(generations, recorder.exchanges)
            for index in range(generations):
                status = _one_generation(recorder, per_event, per_generation, index, measured)
                measured.statuses[status.value] = measured.statuses.get(status.value, 0) + 1
            measured.queue_sends = queue.sent
            return measured


def _one_generation(
    recorder: WireRecorder,
    per_event: Platform,
    per_generation: Platform,
    index: int,
    measured: Measurement,
) -> Status:
    recorder.phase = PIPELINE
    request = GenerationRequest(prompt=PROMPTS[index % len(PROMPTS)])
    submitted = submit_generation(per_event, REQUESTER, request, None)
    status = advance_generation(per_event, submitted.generation_id).status
    written = recorder.take_written()
    measured.events.extend(written)
    recorder.phase = PER_EVENT
    for item in written:
        for projection in PROJECTIONS:
            project_changes(per_event, projection, [item])
    recorder.phase = PER_GENERATION
    for projection in PROJECTIONS:
        project_changes(per_generation, projection, written)
    return status


# --- the HTTP exchanges -----------------------------------------------------------------


def _kind(method: str, path: str, headers: Mapping[str, str]) -> str:
    if "/docs" not in path:
        return "metadata"  # databases, containers, partition key ranges: cached by the SDK
    if _flag(headers.get("x-ms-cosmos-is-query-plan-request")):
        return "query plan"
    if _flag(headers.get("x-ms-cosmos-is-batch-request")):
        return "batch"
    if _flag(headers.get("x-ms-documentdb-isquery")):
        return "query"
    if "a-im" in headers:
        return "change feed"
    if method == "GET":
        return "read feed" if path.rstrip("/").endswith("/docs") else "read"
    return {"POST": "create", "PUT": "replace", "DELETE": "delete"}.get(method, method.lower())


def _flag(header: str | None) -> bool:
    # The SDK sends some flags as "true" and others as Python's True, spelt "True".
    return (header or "").lower() == "true"


def _json(body: Any) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return None


def json_size(item: Any) -> int:
    return len(json.dumps(item, separators=(",", ":")).encode("utf-8"))


def _item_sizes(kind: str, sent: Any, answered: Any) -> tuple[int, ...]:
    if kind == "batch" and isinstance(sent, list):
        return tuple(json_size(op["resourceBody"]) for op in sent if "resourceBody" in op)
    if kind in ("create", "replace") and isinstance(sent, dict):
        return (json_size(sent),)
    if isinstance(answered, dict) and isinstance(answered.get("Documents"), list):
        return tuple(json_size(document) for document in answered["Documents"])
    if kind == "read" and isinstance(answered, dict):
        return (json_size(answered),)
    return ()
