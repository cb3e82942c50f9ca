"""The audit feed on Cosmos DB (the emulator): pages in (recorded_at, stream, version)
order that resume after their cursor, even between events recorded at the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.cosmos import DatabaseProxy

from adapters.cosmos_event_store import CosmosEventStore, ensure_event_container
from domain.access import Principal, Role
from domain.audit_reads import AuditLogRead
from domain.envelope import Event
from services.audit_log import EventFilter, export_events, feed_page
from services.audit_reads import AuditAccess
from services.log_replay import OrderedReplay
from services.ports import InvalidContinuation
from services.repository import Repository
from tests.contract.event_store_contract import new_event

pytest_plugins = ["tests.cosmos_fixtures"]

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
AUDITOR = Principal("carol", frozenset({Role.COMPLIANCE_AUDITOR}), None, None)


class Moments:
    """The given moments, one per append, then the last one for ever (the reads' records)."""

    def __init__(self, *moments: datetime) -> None:
        self._moments = list(moments)

    def __call__(self) -> datetime:
        return self._moments.pop(0) if len(self._moments) > 1 else self._moments[0]


def test_feed_pages_on_cosmos_resume_inside_an_instant(cosmos_database: DatabaseProxy) -> None:
    later = T0 + timedelta(seconds=1)
    clock = Moments(T0, T0, later, later, later + timedelta(hours=1))
    store = CosmosEventStore(ensure_event_container(cosmos_database), clock=clock)
    store.append("generation-b", 0, [new_event(n=1), new_event(n=2), new_event(n=3)])  # T0
    store.append("generation-a", 0, [new_event(n=4)])  # T0
    store.append("generation-c", 0, [new_event("PromptScreened", n=5)])  # later
    store.append("generation-a", 1, [new_event("PromptScreened", n=6)])  # later
    log = AuditAccess(
        store=store, clock=clock, repository=Repository(store), replay=OrderedReplay(store)
    )
    wanted = EventFilter(types=frozenset({"GenerationRequested", "PromptScreened"}))

    seen: list[Event] = []
    after: str | None = None
    pages, more = 0, True
    while more:
        page = feed_page(log, AUDITOR, wanted, after=after, limit=2, route="t")
        seen.extend(page.events)
        after, more, pages = page.after, page.more, pages + 1
    everything = list(export_events(log, AUDITOR, EventFilter(), command="t"))

    assert [e.data["n"] for e in seen] == [4, 1, 2, 3, 6, 5]
    assert [e for e in everything if e.type != AuditLogRead.TYPE] == seen
    # A full page cannot tell that the log ends there: an empty fourth page says so.
    assert pages == 4
    # Each page and the export were recorded, in the store the log lives in.
    assert sum(e.type == AuditLogRead.TYPE for e in everything) == pages + 1
    with pytest.raises(InvalidContinuation):
        feed_page(log, AUDITOR, wanted, after="42", limit=2, route="t")
