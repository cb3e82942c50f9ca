"""Spans of the platform's work, through OpenTelemetry's API.

The API is the port: without an SDK installed it hands out non-recording spans, so the
services trace unconditionally and the composition root decides whether anything is
kept and where it goes (adapters/otel_tracing.py). A trace crosses the queue in the
message's application properties, as a W3C `traceparent`, so a generation's spans
form one tree from the POST to the charge, whichever process ran each step.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind

tracer = trace.get_tracer("donatello")

GENERATION_ID = "donatello.generation_id"


def with_trace_context(properties: Mapping[str, str]) -> dict[str, str]:
    """`properties` plus the current trace's `traceparent` (and `tracestate`), if any."""
    carried = dict(properties)
    if not any(name in carried for name in ("traceparent", "tracestate")):
        propagate.inject(carried)
    return carried


@contextmanager
def continued_span(
    name: str, properties: Mapping[str, Any], attributes: Mapping[str, str]
) -> Iterator[Span]:
    """A span for handling a message, in the trace its sender's properties carry."""
    carrier = {str(key): str(value) for key, value in properties.items()}
    parent = propagate.extract(carrier)
    with tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=dict(attributes)
    ) as span:
        yield span
