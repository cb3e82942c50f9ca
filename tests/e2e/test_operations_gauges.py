"""The scrape-time gauges over the embedded shape's real stores: the SQLite queue, the
projection runner over the local log, the file seal store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry

from adapters.fs_seal_store import FsSealStore
from adapters.prometheus_meter import PrometheusMeter
from adapters.sqlite_audit_log import SqliteAuditLog
from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_queue import SqliteQueue
from adapters.sqlite_record_log import SqliteRecordLog
from adapters.sqlite_views import SqliteViewStore
from projections import ALL_PROJECTIONS
from projections.runner import ProjectionRunner
from services.operations_gauges import OperationsGauges
from services.ports import OutgoingMessage
from services.seals import write_seal
from tests.contract.test_seal_stores import event

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def test_backlog_lag_and_seal_age_are_read_when_sampled(tmp_path: Path) -> None:
    clock = Clock()
    registry = CollectorRegistry()
    queue = SqliteQueue(tmp_path / "queue.db", "generation-jobs", clock=clock)
    store = SqliteEventStore(tmp_path / "events.db", synchronous="NORMAL", clock=clock)
    runner = ProjectionRunner(
        SqliteRecordLog(tmp_path / "events.db"),
        SqliteViewStore(tmp_path / "views.db", synchronous="NORMAL"),
        ALL_PROJECTIONS,
    )
    seals = FsSealStore(tmp_path / "seals")
    gauges = OperationsGauges(
        PrometheusMeter(registry=registry), clock, queues=[queue], projections=runner, seals=seals
    )

    def gauge(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    queue.send(OutgoingMessage("waiting", b"{}"))
    later = START + timedelta(minutes=5)
    queue.send(OutgoingMessage("scheduled", b"{}", scheduled_enqueue_time=later))
    store.append("generation-x", 0, [event(), event(), event()])
    write_seal(SqliteAuditLog(tmp_path / "events.db"), seals, clock)
    clock.now = START + timedelta(seconds=42)
    gauges.sample()

    assert gauge("donatello_queue_depth", queue="generation-jobs") == 2
    # Only the message a worker could take now counts for the age.
    assert gauge("donatello_queue_oldest_message_age_seconds", queue="generation-jobs") == 42
    for projection in ALL_PROJECTIONS:
        assert gauge("donatello_projection_lag_events", projection=projection.name) == 3
        assert gauge("donatello_projection_lag_seconds", projection=projection.name) == 42
    assert gauge("donatello_audit_seal_age_seconds") == 42

    runner.run_until_caught_up()
    (taken,) = queue.receive(1)
    clock.now = START + timedelta(seconds=50)
    gauges.sample()
    # In flight still counts (Service Bus's peek cannot tell it apart either)...
    assert gauge("donatello_queue_oldest_message_age_seconds", queue="generation-jobs") == 50
    queue.complete(taken)
    gauges.sample()
    # ...until it is settled; the scheduled one is not due yet.
    assert gauge("donatello_queue_depth", queue="generation-jobs") == 1
    assert gauge("donatello_queue_oldest_message_age_seconds", queue="generation-jobs") == 0
    for projection in ALL_PROJECTIONS:
        assert gauge("donatello_projection_lag_events", projection=projection.name) == 0
        assert gauge("donatello_projection_lag_seconds", projection=projection.name) == 0
