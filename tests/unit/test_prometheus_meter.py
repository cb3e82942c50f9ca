"""The Prometheus adapter of the `Meter` port, its multiprocess mode, and `/metrics`'s guard."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from adapters.prometheus_meter import MULTIPROCESS_VARIABLE, PrometheusMeter
from devhost.metrics_route import MetricsRoute
from services.metrics import (
    BUDGET_UTILISATION,
    CATALOGUE,
    GENERATION_SECONDS,
    GENERATIONS,
    PROVIDER_CALL_SECONDS,
    QUOTA_REFUSALS,
)
from tests.metrics_scrape import histogram_quantile

ROOT = Path(__file__).resolve().parents[2]


def test_measurements_land_in_the_registry_under_their_names_and_labels() -> None:
    registry = CollectorRegistry()
    meter = PrometheusMeter(registry=registry)
    meter.add(GENERATIONS, status="charged", model="local-sketch")
    meter.add(GENERATIONS, status="charged", model="local-sketch")
    meter.observe(PROVIDER_CALL_SECONDS, 0.2, provider="local", outcome="ok")
    meter.add(QUOTA_REFUSALS)

    assert registry.get_sample_value(
        "donatello_generations_total", {"status": "charged", "model": "local-sketch"}
    ) == pytest.approx(2.0)
    labels = {"provider": "local", "outcome": "ok"}
    assert registry.get_sample_value("donatello_provider_call_seconds_count", labels) == 1.0
    assert registry.get_sample_value("donatello_quota_refusals_total") == 1.0


def test_a_label_outside_the_metrics_declared_set_is_refused() -> None:
    meter = PrometheusMeter(registry=CollectorRegistry())
    with pytest.raises(ValueError):
        meter.add(GENERATIONS, status="charged", model="m", user_id="alice")


def test_no_metric_is_labelled_by_a_person_or_a_prompt() -> None:
    forbidden = ("user", "prompt", "subject", "email", "generation_id", "delivery")
    for metric in CATALOGUE:
        assert not any(word in label for label in metric.labels for word in forbidden), metric
    # Departments label the budget gauge alone.
    departmental = {m.name for m in CATALOGUE if any("department" in n for n in m.labels)}
    assert departmental == {BUDGET_UTILISATION.name}


_RECORD = """
from adapters.prometheus_meter import PrometheusMeter
from services.metrics import GENERATIONS
PrometheusMeter().add(GENERATIONS, {count}, status="charged", model="local-sketch")
"""
_EXPOSE = "from adapters.prometheus_meter import exposition; print(exposition()[0].decode())"


def test_in_multiprocess_mode_the_exposition_sums_every_process(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROCESS_VARIABLE: str(tmp_path)}

    def python(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    python(_RECORD.format(count=2))
    python(_RECORD.format(count=3))
    text = python(_EXPOSE)
    line = 'donatello_generations_total{model="local-sketch",status="charged"} 5.0'
    assert line in text


def _get_metrics(client: tuple[str, int] | None, method: str = "GET") -> tuple[int, bytes]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the metrics route answers /metrics itself")

    route = MetricsRoute(app, lambda: (generate_latest(CollectorRegistry()), "text/plain"))
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/metrics", "method": method, "client": client}
    asyncio.run(route(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


@pytest.mark.parametrize("client", [("127.0.0.1", 50000), ("::1", 50000)])
def test_metrics_are_served_to_a_loopback_peer(client: tuple[str, int]) -> None:
    assert _get_metrics(client)[0] == 200


@pytest.mark.parametrize("client", [("192.0.2.7", 50000), ("::ffff:10.0.0.1", 1), None])
def test_metrics_are_refused_to_any_other_peer(client: tuple[str, int] | None) -> None:
    status, body = _get_metrics(client)
    assert status == 403
    assert b"loopback" in body


def test_metrics_are_read_not_written() -> None:
    assert _get_metrics(("127.0.0.1", 1), method="POST")[0] == 405


def test_a_histograms_quantile_is_estimated_from_its_buckets_across_labels() -> None:
    registry = CollectorRegistry()
    meter = PrometheusMeter(registry=registry)
    for seconds, status in ((0.2, "charged"), (0.3, "charged"), (0.4, "failed"), (7.0, "failed")):
        meter.observe(GENERATION_SECONDS, seconds, status=status)
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    # Rank 2 of 4 falls in (0.25, 0.5], which holds ranks 2 and 3: halfway to its top.
    assert histogram_quantile(samples, "donatello_generation_seconds", 0.5) == pytest.approx(0.375)
    # The fourth lies in (5, 10]: the p95 is interpolated inside it.
    assert histogram_quantile(samples, "donatello_generation_seconds", 0.95) == pytest.approx(9.0)
    assert histogram_quantile({}, "donatello_generation_seconds", 0.5) is None
