"""The platform's own metrics over `donatello serve`, after a known sequence of generations.

Two processes run the queue workers (`--processes 2`), so the counts are only right if
the processes' metrics are summed. OpenAI is a local server in its wire format that
answers 500 until the platform fails over to the `local` model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.metrics import CATALOGUE, Kind, reason_kind
from tests.openai_server import Mode, OpenAIServer, run_openai_server
from tests.platform_process import RunningPlatform, running_platform

REQUESTER = ("alice", ["Generator.Standard"], "marketing")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def openai() -> Iterator[OpenAIServer]:
    with run_openai_server() as server:
        yield server


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, openai: OpenAIServer
) -> Iterator[RunningPlatform]:
    with running_platform(
        tmp_path_factory.mktemp("telemetry"),
        ["--processes", "2"],
        DONATELLO_ENABLED_PROVIDERS="openai,local",
        DONATELLO_OPENAI_BASE_URL=f"{openai.url}/v1",
        DONATELLO_SECRET_OPENAI_API_KEY="sk-test-not-a-real-key",
        DONATELLO_DEFAULT_STRATEGY="quality_focused",  # OpenAI first, `local` next
    ) as running:
        yield running


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_one_failed_over_and_one_rejected_generation_are_counted_as_they_happened(
    platform: RunningPlatform, openai: OpenAIServer
) -> None:
    openai.mode = Mode.SERVER_ERROR
    client = platform.client(platform.token(*REQUESTER))
    failed_over = client.post("/api/v1/generations", json={"prompt": "a lighthouse at dusk"})
    card = client.post(
        "/api/v1/generations", json={"prompt": "a card for card 4111 1111 1111 1111 please"}
    )
    charged = platform.wait_terminal(client, failed_over.json()["id"])
    rejected = platform.wait_terminal(client, card.json()["id"])
    assert charged["status"] == "charged"
    assert charged["model_id"] == "local-sketch", charged
    assert rejected["status"] == "rejected"

    expected = {
        ("donatello_generations_total", (("status", "charged"), ("model", "local-sketch"))): 1,
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
        ): 1,
        ("donatello_generation_queue_wait_seconds_count", ()): 2,
        ("donatello_generation_platform_seconds_count", ()): 2,
        ("donatello_generation_provider_seconds_count", ()): 2,
        ("donatello_screening_seconds_count", ()): 2,
        ("donatello_provider_circuit_state", (("provider", "openai"),)): 0,  # 3 of 5
    }
    # The counts follow the terminal event by a moment: wait for them, then hold them.
    deadline = time.monotonic() + 10
    while True:
        samples = scrape(platform.url)
        found = {key: value(samples, key[0], **dict(key[1])) for key in expected}
        if found == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found == expected


def test_every_metric_of_the_catalogue_is_exposed(platform: RunningPlatform) -> None:
    names = {name for name, _ in scrape(platform.url)}
    for metric in CATALOGUE:
        exposed = f"{metric.name}_total" if metric.kind is Kind.COUNTER else metric.name
        if metric.kind is Kind.HISTOGRAM:
            exposed += "_count"
        assert exposed in names, metric.name


def test_metrics_are_not_an_api_route(platform: RunningPlatform) -> None:
    assert httpx.get(f"{platform.url}/api/metrics", timeout=10).status_code == 404
