"""The OpenTelemetry SDK for the embedded host's processes (the composition root's part).

Each process of `donatello serve` gets a tracer provider, so spans have ids that log
lines and queue messages carry even when nothing is exported. Export is the standard
switch: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
set, spans go there over OTLP/HTTP (protobuf) in batches (`OTEL_BSP_*` tune them).
`OTEL_SDK_DISABLED=true` leaves the API's no-op in place: no ids, no spans, no cost.
"""

from __future__ import annotations

import os

from opentelemetry import trace

SERVICE_NAME = "donatello"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def install_tracing() -> None:
    """Install the SDK's tracer provider for this process, exporting if configured."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes: dict[str, str | int] = {"process.pid": os.getpid()}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = SERVICE_NAME
    provider = TracerProvider(resource=Resource.create(attributes))
    if any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
