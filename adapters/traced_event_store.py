"""An event store whose appends and stream reads are spans of the current trace.

A wrapper behind the `EventStore` port: what a store can do beyond the port (the
embedded store's global order, Cosmos DB's ordered replay) is handed to the platform
by the composition root alongside it (`Platform.replay`, `Platform.log_tail`), so no
code needs to see through this wrapper to the store it wraps.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from opentelemetry.trace import SpanKind, StatusCode

from domain.envelope import Event, NewEvent
from services.ports import ConcurrencyError, EventStore
from services.tracing import tracer

STREAM = "donatello.stream"


class TracedEventStore:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        head_hash: str | None = None,
    ) -> list[Event]:
        # Exceptions are recorded here, not by the span: a lost race is no error, and its
        # formatted traceback cost more CPU than the rest of the telemetry together.
        with tracer.start_as_current_span(
            "eventstore.append",
            kind=SpanKind.CLIENT,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            span.set_attribute(STREAM, stream_id)
            span.set_attribute("donatello.expected_version", expected_version)
            span.set_attribute("donatello.events", len(events))
            span.set_attribute("donatello.head_known", head_hash is not None)
            try:
                return self._store.append(stream_id, expected_version, events, head_hash=head_hash)
            except ConcurrencyError:
                # An expected outcome (another worker moved first), not a failure.
                span.set_attribute("donatello.conflict", True)
                raise
            except Exception as error:
                span.record_exception(error)
                span.set_status(StatusCode.ERROR, type(error).__name__)
                raise

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        with tracer.start_as_current_span("eventstore.read", kind=SpanKind.CLIENT) as span:
            span.set_attribute(STREAM, stream_id)
            events = self._store.read_stream(stream_id, from_version)
            span.set_attribute("donatello.events", len(events))
            return events

    def find_event(self, stream_id: str, event_id: UUID) -> Event | None:
        with tracer.start_as_current_span("eventstore.find", kind=SpanKind.CLIENT) as span:
            span.set_attribute(STREAM, stream_id)
            found = self._store.find_event(stream_id, event_id)
            span.set_attribute("donatello.found", found is not None)
            return found
