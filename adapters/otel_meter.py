"""The `Meter` port over OpenTelemetry's metrics API, for the Azure shape.

On Azure the measurements go where the Azure Monitor OpenTelemetry distro sends them
(`install_azure_monitor`, when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set): into
the Application Insights resource `infra/bicep` creates, as custom metrics named as in
services/metrics.py, beside the spans of services/tracing.py and the log records.

A gauge's value is exported once, at the next collection after it was set, by the
process that set it (an observable gauge whose callback hands over what was set since).
OpenTelemetry's synchronous gauge would repeat its last value at every export for the
life of the process: one Function App instance that read a queue's age once, before
another instance took the timer over, would keep reporting that stale age, and an alert
on the largest value would never clear.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from functools import cache

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, MeterProvider, Observation

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
        self._set_since_collected: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self._lock = threading.Lock()
        for m in catalogue:
            if m.kind is Kind.COUNTER:
                self._counters[m.name] = meter.create_counter(m.name, description=m.help)
            elif m.kind is Kind.HISTOGRAM:
                self._histograms[m.name] = meter.create_histogram(
                    m.name, unit="s", description=m.help,
                    explicit_bucket_boundaries_advisory=list(BUCKETS),
                )  # fmt: skip
            else:
                self._set_since_collected[m.name] = {}
                meter.create_observable_gauge(
                    m.name, callbacks=[self._collect(m.name)], description=m.help
                )

    def add(self, metric: Metric, amount: float = 1.0, **labels: str) -> None:
        self._counters[metric.name].add(amount, _checked(metric, labels))

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        self._histograms[metric.name].record(value, _checked(metric, labels))

    def set(self, metric: Metric, value: float, **labels: str) -> None:
        key = tuple(sorted(_checked(metric, labels).items()))
        with self._lock:
            self._set_since_collected[metric.name][key] = value

    def _collect(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def collect(options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                latest, self._set_since_collected[name] = self._set_since_collected[name], {}
            return [Observation(value, dict(labels)) for labels, value in latest.items()]

        return collect


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
