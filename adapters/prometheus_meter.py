"""The `Meter` port over prometheus-client, and the text exposition `GET /metrics` serves.

`donatello serve --processes N` runs the pipeline in several processes, so the host
uses prometheus-client's multiprocess mode: `use_multiprocess_dir` (called by the CLI
before prometheus-client is first imported) points every process at one folder of
memory-mapped files, and the exposition sums them. Without it (a host in a test, a
single process), the metrics live in this process's default registry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from services.metrics import CATALOGUE, Kind, Metric

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# From a 5 ms screening to a provider's two minutes.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def use_multiprocess_dir(folder: Path) -> None:
    """Share metrics between this process and the ones it starts, through `folder`.

    Must run before prometheus-client is imported (it picks its storage at import).
    The previous run's files are removed: their counters belong to processes now gone.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_VARIABLE] = str(folder)


class PrometheusMeter:
    def __init__(
        self, catalogue: Iterable[Metric] = CATALOGUE, registry: CollectorRegistry | None = None
    ) -> None:
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram

        target = REGISTRY if registry is None else registry
        self._counters: dict[str, Counter] = {}
        self._histograms: dict[str, Histogram] = {}
        self._gauges: dict[str, Gauge] = {}
        for m in catalogue:
            if m.kind is Kind.COUNTER:
                self._counters[m.name] = Counter(m.name, m.help, m.labels, registry=target)
            elif m.kind is Kind.HISTOGRAM:
                self._histograms[m.name] = Histogram(
                    m.name, m.help, m.labels, registry=target, buckets=BUCKETS
                )
            else:  # the value any process set last, as a reading of shared state is
                self._gauges[m.name] = Gauge(
                    m.name, m.help, m.labels, registry=target, multiprocess_mode="mostrecent"
                )

    def add(self, metric: Metric, amount: float = 1.0, **labels: str) -> None:
        counter = self._counters[metric.name]
        (counter.labels(**labels) if labels else counter).inc(amount)

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        histogram = self._histograms[metric.name]
        (histogram.labels(**labels) if labels else histogram).observe(value)

    def set(self, metric: Metric, value: float, **labels: str) -> None:
        gauge = self._gauges[metric.name]
        (gauge.labels(**labels) if labels else gauge).set(value)


@cache
def prometheus_meter() -> PrometheusMeter:
    """This process's meter: the default registry takes each metric name once."""
    return PrometheusMeter()


def exposition() -> tuple[bytes, str]:
    """Every process's metrics in the Prometheus text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    prometheus_meter()  # registered even before the first measurement, so all are listed
    if MULTIPROCESS_VARIABLE not in os.environ:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
