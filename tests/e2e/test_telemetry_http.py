"""The platform's own metrics and traces over `donatello serve`, after known generations.

Two processes run the queue workers (`--processes 2`), so the counts are only right if
the processes' metrics are summed. OpenAI is a local server in its wire format that
answers 500 until the platform fails over to the `local` model. Spans go over OTLP/HTTP
to a local collector (`tests/otlp_collector.py`) that decodes the exporter's protobuf.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from services.metrics import CATALOGUE, SEAL_AGE_SECONDS, Kind, reason_kind
from services.tracing import GENERATION_ID
from tests.e2e.test_pipeline_http import wait_for_budget_spend
from tests.metrics_scrape import Samples, scrape, value
from tests.openai_server import Mode, OpenAIServer, run_openai_server
from tests.otlp_collector import CollectedSpan, Collector, running_collector
from tests.platform_process import RunningPlatform, running_platform
from tests.webhook_receiver import Receiver, running_receiver

REQUESTER = ("alice", ["Generator.Standard"], "marketing")


@pytest.fixture(scope="module")
def openai() -> Iterator[OpenAIServer]:
    with run_openai_server() as server:
        yield server


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with running_collector() as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, openai: OpenAIServer, collector: Collector
) -> Iterator[RunningPlatform]:
    with running_platform(
        tmp_path_factory.mktemp("telemetry"),
        ["--processes", "2"],
        DONATELLO_ENABLED_PROVIDERS="openai,local",
        DONATELLO_OPENAI_BASE_URL=f"{openai.url}/v1",
        DONATELLO_SECRET_OPENAI_API_KEY="sk-test-not-a-real-key",
        DONATELLO_DEFAULT_STRATEGY="quality_focused",  # OpenAI first, `local` next
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="100",  # milliseconds between the exporter's batches
        DONATELLO_WEBHOOK_ALLOW_PRIVATE="true",  # the receiver is on 127.0.0.1
    ) as running:
        yield running


@dataclass(frozen=True)
class Sequence:
    """From a fresh host (the circuit's history would otherwise route around OpenAI at
    once): one generation failed over from OpenAI to `local`, one rejected, and one
    charged straight to `local` that spends its department's whole limit."""

    before: Samples
    charged: dict[str, Any]
    rejected: dict[str, Any]


@pytest.fixture(scope="module")
def sequence(platform: RunningPlatform, openai: OpenAIServer, receiver: Receiver) -> Sequence:
    openai.mode = Mode.SERVER_ERROR
    before = scrape(platform.url)
    client = platform.client(platform.token(*REQUESTER))
    failed_over = client.post("/api/v1/generations", json={"prompt": "a lighthouse at dusk"})
    card = client.post(
        "/api/v1/generations", json={"prompt": "a card for card 4111 1111 1111 1111 please"}
    )
    assert card.status_code == 422  # refused at the door, recorded redacted
    # A department whose month one local image (0.01 AUD) spends in full.
    admin = platform.client(platform.token("ada", ["Platform.Admin"], None))
    limit = {"monthly_limit_aud": "0.01", "enforcement": "hard", "strategy": "cost_optimised"}
    assert admin.put("/api/v1/budgets/studio", json=limit).status_code == 200
    manager = platform.client(platform.token("max", ["Dept.Manager"], "studio"))
    hook = {"url": f"{receiver.url}/hook", "events": ["budget.threshold_crossed"]}
    assert manager.put("/api/v1/webhooks/studio", json=hook).status_code in (200, 201)
    studio = platform.client(platform.token("sam", ["Generator.Power"], "studio"))
    sketch = studio.post(
        "/api/v1/generations", json={"prompt": "a teapot", "model": "local-sketch"}
    )
    anonymous = httpx.get(f"{platform.url}/api/v1/generations", timeout=10)
    assert anonymous.status_code == 401
    charged = platform.wait_terminal(client, failed_over.json()["id"])
    rejected = client.get(f"/api/v1/generations/{card.json()['generation_id']}").json()
    assert charged["status"] == "charged"
    assert charged["model_id"] == "local-sketch", charged
    assert rejected["status"] == "rejected"
    assert platform.wait_terminal(studio, sketch.json()["id"])["status"] == "charged"
    return Sequence(before, charged, rejected)


def test_one_failed_over_and_one_rejected_generation_are_counted_as_they_happened(
    platform: RunningPlatform, sequence: Sequence
) -> None:
    before, rejected = sequence.before, sequence.rejected
    expected = {
        ("donatello_generations_total", (("status", "charged"), ("model", "local-sketch"))): 2,
        ("donatello_generations_total", (("status", "rejected"), ("model", "none"))): 1,
        ("donatello_rejections_total", (("reason", reason_kind(rejected["reason"])),)): 1,
        ("donatello_screening_findings_total", (("entity_type", "CREDIT_CARD"),)): 1,
        ("donatello_provider_errors_total", (("provider", "openai"), ("kind", "retryable"))): 3,
        ("donatello_provider_retries_total", (("provider", "openai"),)): 2,
        (
            "donatello_reroutes_total",
            (("from_provider", "openai"), ("to_provider", "local")),
        ): 1,
        (
            "donatello_provider_call_seconds_count",
            (("provider", "local"), ("outcome", "ok")),
        ): 2,
        # The rejected prompt was refused at the door: only two generations were queued.
        ("donatello_generation_queue_wait_seconds_count", ()): 2,
        ("donatello_generation_platform_seconds_count", ()): 2,
        ("donatello_generation_provider_seconds_count", ()): 2,
        ("donatello_screening_seconds_count", ()): 3,
        ("donatello_budget_threshold_crossings_total", (("threshold_percent", "80"),)): 1,
        ("donatello_budget_threshold_crossings_total", (("threshold_percent", "90"),)): 1,
        ("donatello_budget_threshold_crossings_total", (("threshold_percent", "100"),)): 1,
        ("donatello_budget_utilisation_ratio", (("department", "studio"),)): 1,
        ("donatello_provider_circuit_state", (("provider", "openai"),)): 0,  # 3 of 5
        ("donatello_auth_failures_total", (("reason", "missing bearer token"),)): 1,
        ("donatello_queue_depth", (("queue", "generation-jobs"),)): 0,
    }
    # The counts follow the terminal event by a moment: wait for them, then hold them.
    deadline = time.monotonic() + 10
    while True:
        samples = scrape(platform.url)
        found = {key: delta(before, samples, key) for key in expected}
        if found == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found == expected


def delta(before: Samples, after: Samples, key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
    """How far a counter moved; a gauge's value as it stands."""
    name, labels = key
    now = value(after, name, **dict(labels))
    if now is None or name.endswith(("_state", "_depth", "_ratio")):
        return -1.0 if now is None else now
    return now - (value(before, name, **dict(labels)) or 0.0)


def test_every_metric_of_the_catalogue_is_exposed(
    platform: RunningPlatform, sequence: Sequence
) -> None:
    names = {name for name, _ in scrape(platform.url)}
    sealed = any((platform.data_dir / "seals").glob("*.json"))
    for metric in CATALOGUE:
        if metric is SEAL_AGE_SECONDS and not sealed:  # the first seal is minutes away
            assert metric.name not in names
            continue
        exposed = f"{metric.name}_total" if metric.kind is Kind.COUNTER else metric.name
        if metric.kind is Kind.HISTOGRAM:
            exposed += "_count"
        assert exposed in names, metric.name


def test_metrics_are_not_an_api_route(platform: RunningPlatform) -> None:
    assert httpx.get(f"{platform.url}/api/metrics", timeout=10).status_code == 404


def test_a_generations_spans_form_one_tree_from_the_post_to_the_charge(
    platform: RunningPlatform, sequence: Sequence, collector: Collector
) -> None:
    generation_id = sequence.charged["id"]

    def settled(spans: list[CollectedSpan]) -> bool:
        return any(
            s.name == "generation.process" and s.attributes.get(GENERATION_ID) == generation_id
            for s in spans
        ) and any(s.name == "generation.charge" for s in spans)

    spans = collector.wait_for(settled)
    process = next(
        s
        for s in spans
        if s.name == "generation.process" and s.attributes.get(GENERATION_ID) == generation_id
    )
    tree = [s for s in spans if s.trace_id == process.trace_id]
    by_id = {s.span_id: s for s in tree}
    (root,) = [s for s in tree if s.parent_span_id not in by_id]
    assert root.name == "POST /api/v1/generations"
    assert root.parent_span_id == ""
    assert root.kind == Span.SpanKind.SPAN_KIND_SERVER
    assert root.attributes["http.response.status_code"] == 202
    assert platform.process is not None
    assert root.resource["process.pid"] == platform.process.pid  # served by the host
    # The worker's span hangs off the request's, through the queue message alone.
    assert process.kind == Span.SpanKind.SPAN_KIND_CONSUMER
    assert by_id[process.parent_span_id] is root
    steps = [s for s in tree if s.parent_span_id == process.span_id]
    # The prompt was screened at the door, inside the request, before it was queued.
    door = [s.name for s in tree if s.parent_span_id == root.span_id]
    assert sorted(n for n in door if not n.startswith("eventstore.")) == [
        "generation.process",
        "prompt.screen",
    ]
    assert [s.name for s in steps if s.name.startswith("generation.")] == [
        "generation.route",
        "generation.generate",  # OpenAI fails thrice: rerouted
        "generation.generate",  # the fallback's image
        "generation.charge",
    ]
    calls = [
        (s.attributes["donatello.provider"], s.attributes["donatello.outcome"])
        for s in tree
        if s.name == "provider.call"
    ]
    assert calls == [("openai", "retryable")] * 3 + [("local", "ok")]
    assert all(
        by_id[s.parent_span_id].name == "generation.generate"
        for s in tree
        if s.name == "provider.call"
    )
    appended = {s.attributes["donatello.stream"] for s in tree if s.name == "eventstore.append"}
    assert f"generation-{generation_id}" in appended
    assert any(s.name == "eventstore.read" for s in tree)

    # Its log lines carry the trace id beside the correlation id.
    lines = [
        json.loads(line)
        for line in platform.log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    worker_lines = [line for line in lines if line.get("correlation_id") == generation_id]
    assert worker_lines
    assert {line.get("trace_id") for line in worker_lines} == {process.trace_id}


def test_the_budget_gauge_is_the_months_spend_over_its_limit(
    platform: RunningPlatform, sequence: Sequence
) -> None:
    budget = wait_for_budget_spend(platform, "marketing")  # one charge so far, the lighthouse
    ratio = Decimal(budget["spent_aud"]) / Decimal(budget["limit_aud"])
    samples = scrape(platform.url)
    gauge = value(samples, "donatello_budget_utilisation_ratio", department="marketing")
    assert gauge == pytest.approx(float(ratio))
    departments = {
        dict(labels)["department"]
        for name, labels in samples
        if name == "donatello_budget_utilisation_ratio"
    }
    assert departments == {"marketing", "studio"}


def test_webhook_deliveries_are_spans(
    sequence: Sequence, receiver: Receiver, collector: Collector
) -> None:
    delivered = receiver.wait_for(lambda received: len(received) >= 1)
    assert delivered

    def traced(spans: list[CollectedSpan]) -> bool:
        return any(s.name == "webhook.deliver" for s in spans)

    deliveries = [s for s in collector.wait_for(traced) if s.name == "webhook.deliver"]
    assert deliveries
    assert all(s.kind == Span.SpanKind.SPAN_KIND_CONSUMER for s in deliveries)
    assert all(s.attributes["donatello.delivery_id"] for s in deliveries)
