"""The `Meter` port over OpenTelemetry's metrics API, for the Azure shape.

On Azure the measurements go where the Azure Monitor OpenTelemetry distro sends them
(`install_azure_monitor`, when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set): into
the Application Insights resource `infra/bicep` creates, as custom metrics named as in
services/metrics.py, beside the spans of services/tracing.py and the log records.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache

from opentelemetry import metrics
from opentelemetry.metrics import Counter, Histogram, MeterProvider
from opentelemetry.metrics import _Gauge as Gauge  # the synchronous gauge, not exported by name

from adapters.prometheus_meter import BUCKETS
from services.metrics import CATALOGUE, Kind, Metric

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_STRING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"


class OtelMeter:
    def __init__(
        self, catalogue: Iterable[Metric] = CATALOGUE, provider: MeterProvider | None = None
    ) -> None:
        meter = (provider or metrics.get_meter_provider()).get_meter("donatello")
        self._counters: dict[str, Counter] = {}
        self._histograms: dict[str, Histogram] = {}
        self._gauges: dict[str, Gauge] = {}
        for m in catalogue:
            if m.kind is Kind.COUNTER:
                self._counters[m.name] = meter.create_counter(m.name, description=m.help)
            elif m.kind is Kind.HISTOGRAM:
                self._histograms[m.name] = meter.create_histogram(
                    m.name, unit="s", description=m.help,
                    explicit_bucket_boundaries_advisory=list(BUCKETS),
                )  # fmt: skip
            else:
                self._gauges[m.name] = meter.create_gauge(m.name, description=m.help)

    def add(self, metric: Metric, amount: float = 1.0, **labels: str) -> None:
        self._counters[metric.name].add(amount, _checked(metric, labels))

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        self._histograms[metric.name].record(value, _checked(metric, labels))

    def set(self, metric: Metric, value: float, **labels: str) -> None:
        self._gauges[metric.name].set(value, _checked(metric, labels))


def _checked(metric: Metric, labels: dict[str, str]) -> dict[str, str]:
    """The labels, refused unless they are the metric's own (as prometheus-client does)."""
    if set(labels) != set(metric.labels):
        raise ValueError(f"{metric.name} takes labels {metric.labels}, not {tuple(labels)}")
    return labels


@cache
def install_azure_monitor() -> bool:
    """Once per process: the distro's tracer, meter and logger providers, exporting to
    Application Insights, if a connection string is configured. Answers whether it did."""
    if not os.environ.get(CONNECTION_STRING):
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor

    credential = None
    if "Authorization=AAD" in os.environ.get(AUTHENTICATION_STRING, ""):
        # Local authentication is off on the resource (infra/bicep): Entra ID it is.
        from adapters.azure_clients import managed_identity

        credential = managed_identity()
    configure_azure_monitor(credential=credential, enable_live_metrics=False)
    return True


@cache
def otel_meter() -> OtelMeter:
    return OtelMeter()
