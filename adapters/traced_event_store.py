"""Appends and stream reads of an event store as spans of the current trace.

`traced` wraps the two methods on the store instance itself rather than putting a
proxy in front of it: the services probe the platform's store for what else it can do
(the embedded store's global order, Cosmos's ordered replay) by its type and its
attributes, and those checks must keep seeing the store they were written for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from opentelemetry.trace import SpanKind, StatusCode

from domain.envelope import Event, NewEvent
from services.ports import ConcurrencyError, EventStore
from services.tracing import tracer

STREAM = "donatello.stream"
Store = TypeVar("Store", bound=EventStore)


class Append(Protocol):
    def __call__(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        head_hash: str | None = None,
    ) -> list[Event]: ...


Read = Callable[[str, int], list[Event]]


def traced(store: Store) -> Store:
    """`store`, its `append` and `read_stream` now traced (once, however often called)."""
    if getattr(store, "_traced", False):
        return store
    store.append = _traced_append(store.append)  # type: ignore[method-assign]
    store.read_stream = _traced_read(store.read_stream)  # type: ignore[method-assign, assignment]
    store._traced = True  # type: ignore[attr-defined]
    return store


def _traced_append(append: Append) -> Append:
    def traced_append(
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        head_hash: str | None = None,
    ) -> list[Event]:
        with tracer.start_as_current_span(
            "eventstore.append", kind=SpanKind.CLIENT, set_status_on_exception=False
        ) as span:
            span.set_attribute(STREAM, stream_id)
            span.set_attribute("donatello.expected_version", expected_version)
            span.set_attribute("donatello.events", len(events))
            span.set_attribute("donatello.head_known", head_hash is not None)
            try:
                return append(stream_id, expected_version, events, head_hash=head_hash)
            except ConcurrencyError:
                # An expected outcome (another worker moved first), not a failure.
                span.set_attribute("donatello.conflict", True)
                raise
            except Exception as error:
                span.set_status(StatusCode.ERROR, type(error).__name__)
                raise

    return traced_append


def _traced_read(read_stream: Read) -> Read:
    def traced_read(stream_id: str, from_version: int = 1) -> list[Event]:
        with tracer.start_as_current_span("eventstore.read", kind=SpanKind.CLIENT) as span:
            span.set_attribute(STREAM, stream_id)
            events = read_stream(stream_id, from_version)
            span.set_attribute("donatello.events", len(events))
            return events

    return traced_read
