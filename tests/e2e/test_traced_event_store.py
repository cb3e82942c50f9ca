"""The event store's spans (adapters/traced_event_store.py) over the real SQLite store:
a lost race for a stream is marked on its span, not recorded as an error with its
traceback; a real failure is."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from adapters import traced_event_store
from adapters.sqlite_event_store import SqliteEventStore
from adapters.traced_event_store import TracedEventStore
from services.ports import ConcurrencyError
from tests.contract.test_seal_stores import event


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(traced_event_store, "tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def test_a_conflict_is_marked_on_its_span_without_an_exception_event(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    store = TracedEventStore(SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL"))
    store.append("budget-x", 0, [event()])
    with pytest.raises(ConcurrencyError):
        store.append("budget-x", 0, [event()])  # another worker moved first
    appended, lost = spans.get_finished_spans()
    assert appended.attributes is not None
    assert "donatello.conflict" not in appended.attributes
    assert lost.attributes is not None
    assert lost.attributes["donatello.conflict"] is True
    # Workers race for budget and health streams all day: a formatted traceback for
    # each lost race was most of the telemetry's CPU.
    assert lost.events == ()
    assert lost.status.status_code is StatusCode.UNSET


def test_a_failing_append_is_an_error_with_its_exception(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    store = SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        TracedEventStore(store).append("budget-x", 0, [event()])
    (failed,) = spans.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    (recorded,) = failed.events
    assert recorded.name == "exception"
    assert recorded.attributes is not None
    assert recorded.attributes["exception.type"] == "sqlite3.ProgrammingError"
