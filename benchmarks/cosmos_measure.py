"""Measures the Cosmos DB operations of generations, for `benchmarks.cosmos_ru`.

`@vercel/cosmosdb-server` (npm) runs on loopback through the tests' launcher
(`tests.emulators.run_cosmos_emulator`), and the real `azure-cosmos` SDK talks to it. The
composition root builds the Cosmos shape (`build_platform` with `event_store="cosmos"`);
its event store and views are then made again on a client whose `raw_response_hook`
records every HTTP exchange, each named by the adapters' own `RequestCharges` operation
name. The queue (SQLite), images (a folder) and subject keys stay embedded. Generations
run through the real services (`submit_generation`, `advance_generation`, the `local`
provider). The events they write go to the change-feed projector (`project_changes`, as
the Cosmos DB trigger calls it) in the two shapes a change feed delivers, each into its
own views container: one event per batch (the worst case: a lease per physical partition
polled more often than events arrive), and batches of `FEED_BATCH` events (a loaded
feed), the last batch holding what is left. Then a new instance (the platform built
again, with new adapters and so every process cache empty) runs one more generation, in
its own phase: what a host instance's first generation reads that a warm one does not.

Each exchange also names the code that issued it: the innermost frame of `services/`
(the service deciding), else of `adapters/`, on the stack when the adapter charged it.

What each operation would cost in RU is not measured: the emulator charges a flat 1 RU
for everything (kept in its own column). Each operation is priced with Microsoft's
published costs applied to the items it wrote or returned (`cosmos_costs.RuModel`).
Change-feed reads and lease checkpoints (no change-feed processor runs here) are
estimated by `cosmos_ru`, one each per batch and projection, and labelled so.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import traceback
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.cosmos import CosmosClient, DatabaseProxy

from adapters.cosmos_charges import RequestCharges
from adapters.cosmos_event_store import CONTAINER_ID as EVENTS
from adapters.cosmos_event_store import CosmosEventStore, ensure_event_container
from adapters.cosmos_snapshots import CosmosSnapshotStore, ensure_snapshot_container
from adapters.cosmos_views import CosmosViewStore, ensure_view_container
from bootstrap import build_platform
from domain.access import Principal, Role
from domain.generation import ImageGenerated, Status
from services.context import Platform
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.ports import OutgoingMessage, WorkQueue
from services.projection_feed import PROJECTIONS, project_changes
from services.repository import Repository
from services.settings import Settings
from tests.cosmos_fixtures import EMULATOR_KEY
from tests.emulators import run_cosmos_emulator

PIPELINE = "pipeline"
PER_EVENT = "views, 1 event/batch"
PER_BATCH = "views, 100 events/batch"
FEED_BATCH = 100  # events per change-feed batch under load (the trigger's default maximum)
SHAPES = {PER_EVENT: 1, PER_BATCH: FEED_BATCH}  # views phase: events per change-feed batch
COLD = "new instance"
# A department's requesters, in turn: each has a daily quota (50 images by default).
REQUESTERS = tuple(
    Principal(
        user_id=f"user-{n}",
        roles=frozenset({Role.GENERATOR_STANDARD}),
        department_id="marketing",
        tenant_id=None,
    )
    for n in range(10)
)
PROMPTS = (
    "a watercolour lighthouse at dawn",
    "an isometric city of spreadsheets, soft light",
    "a poster for jane.citizen@example.com in art deco style",  # screened and redacted
)
_REPOSITORY = Path(__file__).resolve().parent.parent
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
    caller: str = ""  # the code that issued it: `services/repository.py:load`
    from_version: int | None = None  # a query's @from parameter: where a stream read starts


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
            from_version=_from_version(sent),
        )
        with self._lock:
            if kind in _DOCUMENT_KINDS:
                self._unnamed.append(len(self.exchanges))
            self.exchanges.append(exchange)
            if kind == "batch" and response.status_code == 200 and f"/colls/{EVENTS}/" in path:
                self._written.extend(operation["resourceBody"] for operation in sent)

    def name(self, operation: str, caller: str) -> None:
        with self._lock:
            for index in self._unnamed:
                self.exchanges[index] = dataclasses.replace(
                    self.exchanges[index], operation=operation, caller=caller
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
        self._recorder.name(operation, _caller())


def _caller() -> str:
    """The innermost frame of `services/` on the stack, else of `adapters/`."""
    frames = [(frame, _layer_of(frame.filename)) for frame in traceback.extract_stack()]
    for layer in ("services", "adapters"):
        for frame, in_layer in reversed(frames):
            if in_layer == layer:
                return f"{layer}/{Path(frame.filename).name}:{frame.name}"
    return ""


@functools.cache
def _layer_of(filename: str) -> str | None:
    """`services` or `adapters` for a module of this repository's layer, else None."""
    folder = Path(filename).resolve().parent
    return folder.name if folder.parent == _REPOSITORY else None


@dataclass
class CountingQueue:
    """The platform's queue, counting what is sent (each send is a Service Bus message)."""

    inner: WorkQueue
    sent: int = 0

    def send(self, message: OutgoingMessage) -> None:
        self.inner.send(message)
        self.sent += 1


@dataclass(frozen=True, slots=True)
class Written:
    """An event item as written: what the model needs of it."""

    stream: str
    type: str
    bytes: int  # its JSON
    image_bytes: int = 0  # the PNG's size, for an image generated


@dataclass
class Measurement:
    generations: int
    exchanges: list[Exchange]
    events: list[Written] = field(default_factory=list)  # by the generations measured
    statuses: dict[str, int] = field(default_factory=dict)  # final status: generations
    queue_sends: int = 0
    feed_batches: dict[str, list[int]] = field(default_factory=dict)  # shape: batch sizes
    label: str = ""  # what was measured: a commit, a date

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Measurement:
        saved = json.loads(text)
        return cls(
            generations=saved["generations"],
            exchanges=[
                Exchange(**{**e, "item_sizes": tuple(e["item_sizes"])}) for e in saved["exchanges"]
            ],
            events=[Written(**e) for e in saved["events"]],
            statuses=saved["statuses"],
            queue_sends=saved["queue_sends"],
            feed_batches=saved["feed_batches"],
            label=saved["label"],
        )


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
            instance = _Instance(settings, database, NamingCharges(recorder))
            queue = CountingQueue(instance.platform(PER_EVENT).queue)
            feeds = {
                shape: _Feed(instance.platform(shape, queue), size)
                for shape, size in SHAPES.items()
            }
            measured = Measurement(generations, recorder.exchanges)
            for index in range(generations):
                recorder.phase = PIPELINE
                status = _one_generation(feeds[PER_EVENT].platform, index)
                measured.statuses[status.value] = measured.statuses.get(status.value, 0) + 1
                written = recorder.take_written()
                measured.events.extend(_written(item) for item in written)
                for shape, feed in feeds.items():
                    recorder.phase = shape
                    feed.deliver(written)
            for shape, feed in feeds.items():
                recorder.phase = shape
                feed.deliver([], flush=True)
                measured.feed_batches[shape] = feed.batches
            measured.queue_sends = queue.sent
            recorder.phase = COLD
            _one_generation(_Instance(settings, database, instance.charges).platform(COLD), 0)
            recorder.take_written()
            return measured


class _Instance:
    """A host instance: the composition root's platform, its event store and views made
    on the recording client, so every cache a process keeps starts empty."""

    def __init__(self, settings: Settings, database: DatabaseProxy, charges: NamingCharges):
        self.charges = charges
        self._database = database
        self._built = build_platform(settings)
        self._store = CosmosEventStore(ensure_event_container(database), request_charges=charges)
        snapshots = CosmosSnapshotStore(
            ensure_snapshot_container(database), request_charges=charges
        )
        # The command side's loads, on the recording client too: one repository (and so
        # one cache) per instance, its snapshots shared with every other instance.
        self._repository = Repository(
            self._store,
            snapshots,
            cache_entries=settings.state_cache_entries,
            snapshot_every=settings.snapshot_every,
        )

    def platform(self, views: str, queue: WorkQueue | None = None) -> Platform:
        container = "views-" + "".join(c if c.isalnum() else "-" for c in views)
        return dataclasses.replace(
            self._built,
            store=self._store,
            repository=self._repository,
            queue=self._built.queue if queue is None else queue,
            views=CosmosViewStore(
                ensure_view_container(self._database, container), request_charges=self.charges
            ),
        )


class _Feed:
    """Delivers written events to every projection in change-feed batches of `size`."""

    def __init__(self, platform: Platform, size: int) -> None:
        self.platform = platform
        self.batches: list[int] = []
        self._size = size
        self._pending: list[dict[str, Any]] = []

    def deliver(self, written: list[dict[str, Any]], *, flush: bool = False) -> None:
        self._pending.extend(written)
        while len(self._pending) >= self._size or (flush and self._pending):
            batch, self._pending = self._pending[: self._size], self._pending[self._size :]
            self.batches.append(len(batch))
            for projection in PROJECTIONS:
                project_changes(self.platform, projection, batch)


def _one_generation(platform: Platform, index: int) -> Status:
    request = GenerationRequest(prompt=PROMPTS[index % len(PROMPTS)])
    requester = REQUESTERS[index % len(REQUESTERS)]
    submitted = submit_generation(platform, requester, request, None)
    return advance_generation(platform, submitted.generation_id).status


def _written(item: dict[str, Any]) -> Written:
    image = item["data"].get("bytes", 0) if item["type"] == ImageGenerated.TYPE else 0
    return Written(item["streamId"], item["type"], json_size(item), image)


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


def _from_version(sent: Any) -> int | None:
    if not isinstance(sent, dict):
        return None
    for parameter in sent.get("parameters") or ():
        if parameter.get("name") == "@from" and isinstance(parameter.get("value"), int):
            return int(parameter["value"])
    return None


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
