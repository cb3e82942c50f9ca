"""The platform's event store is a traced wrapper behind the port, and what the store can
do beyond the port (the whole log's replay) is handed over beside it, not probed for."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from adapters.traced_event_store import TracedEventStore
from bootstrap import build_platform
from domain.access import Principal, Role
from domain.envelope import Actor, NewEvent
from services.audit_log import EventFilter, feed_page
from services.ports import ConcurrencyError
from services.settings import Settings

AUDITOR = Principal(
    user_id="carol", roles=frozenset({Role.COMPLIANCE_AUDITOR}), department_id=None, tenant_id=None
)


def new_event(n: int) -> NewEvent:
    actor = Actor(user_id="alice", roles=("Generator.Standard",), department_id="research")
    return NewEvent(type="GenerationRequested", data={"n": n}, actor=actor, correlation_id=uuid4())


def test_the_wrapper_delegates_appends_reads_and_conflicts_to_the_store(tmp_path: Path) -> None:
    inner = SqliteEventStore(tmp_path / "events.db")
    store = TracedEventStore(inner)

    recorded = store.append("s-1", 0, [new_event(1), new_event(2)])

    assert [e.version for e in recorded] == [1, 2]
    assert store.read_stream("s-1") == inner.read_stream("s-1") == recorded
    assert store.read_stream("s-1", from_version=2) == recorded[1:]
    with pytest.raises(ConcurrencyError):
        store.append("s-1", 1, [new_event(3)])
    assert "append" not in vars(inner)  # the store itself is left as it was built


def test_the_audit_feed_reads_the_replay_the_composition_root_handed_over(tmp_path: Path) -> None:
    platform = build_platform(Settings(data_dir=tmp_path))
    assert isinstance(platform.store, TracedEventStore)
    (recorded,) = platform.store.append("s-1", 0, [new_event(1)])

    page = feed_page(
        platform,
        AUDITOR,
        EventFilter(types=frozenset({"GenerationRequested"})),
        after=None,
        limit=10,
        route="t",
    )

    assert [e.event_id for e in page.events] == [recorded.event_id]
    assert page.after is not None
    assert not page.more
