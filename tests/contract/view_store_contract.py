"""The views port's contract: the same events in, the same documents, listings and pages out.

Every view store is fed the same log through its own writer: `SqliteViewStore` by the
checkpointed runner, `CosmosViewStore` by the change-feed projector. A subclass provides
`reader`, a class-scoped fixture that feeds `logged.events` through its store and
answers it as a `ViewReader`. What each store must show is derived from a pure fold of
the same events (`reference_views`), so two stores that pass agree with each other.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from domain.access import EVERYTHING, NOTHING, InDepartment, OwnedBy, Reach
from domain.envelope import Event
from projections import ALL_PROJECTIONS
from projections.base import View, timestamp
from projections.generation_status import NAME as HISTORY
from projections.generation_status import UNFINISHED_STATUSES
from services.ports import HistoryQuery, InvalidContinuation, ViewReader
from tests.contract.view_workload import Stage, Workload

T0 = datetime(2026, 3, 2, tzinfo=UTC)
PERIODS = ("2026-03", "2026-04")
DEPARTMENTS = ("d-0", "d-1", "d-2")


class TickingClock:
    """Each event one second after the last, from T0: distinct, repeatable times."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> datetime:
        return T0 + timedelta(seconds=next(self._ticks))


@dataclass(frozen=True)
class LoggedEvents:
    store: SqliteEventStore
    events: list[Event]


def log_workload(directory: Path, generations: int = 36, seed: int = 7) -> LoggedEvents:
    """Generations that stop at every stage, over users, departments and two months."""
    store = SqliteEventStore(directory / "events.db", synchronous="NORMAL", clock=TickingClock())
    workload = Workload(store, seed)
    for department in DEPARTMENTS[:2]:  # d-2 has months but no standing policy
        workload.set_policy(department)
    for n in range(generations):
        user = f"u-{workload.rng.randrange(4)}"
        stop_after = Stage(workload.rng.randrange(len(Stage)))
        workload.generation(DEPARTMENTS[n % len(DEPARTMENTS)], user, PERIODS[n % 2], stop_after)
    return LoggedEvents(store, [p.event for p in store.read_all(0, 1_000_000)])


def reference_views(events: Sequence[Event]) -> dict[str, dict[str, View]]:
    """Each projection's documents, folded event by event with its pure `apply`."""
    views: dict[str, dict[str, View]] = {p.name: {} for p in ALL_PROJECTIONS}
    for event in events:
        for projection in ALL_PROJECTIONS:
            documents = views[projection.name]
            for key in projection.keys(event):
                documents[key] = projection.apply(documents.get(key), event)
    return views


def change_feed_batches(events: Sequence[Event], seed: int) -> Iterator[list[Event]]:
    """`events` as a change feed could deliver them: in order within each stream,
    interleaved at random across streams, in batches of random size."""
    rng = random.Random(seed)
    queues: dict[str, list[Event]] = {}
    for event in events:
        queues.setdefault(event.stream_id, []).append(event)
    order = [stream for stream, queue in queues.items() for _ in queue]
    rng.shuffle(order)
    cursor = dict.fromkeys(queues, 0)
    interleaved = []
    for stream in order:
        interleaved.append(queues[stream][cursor[stream]])
        cursor[stream] += 1
    start = 0
    while start < len(interleaved):
        size = rng.randrange(1, 60)
        yield interleaved[start : start + size]
        start += size


def pages(reader: ViewReader, reach: Reach = EVERYTHING, **filters: Any) -> list[list[str]]:
    found: list[list[str]] = []
    continuation = None
    while True:
        page = reader.history(reach, HistoryQuery(continuation=continuation, **filters))
        found.append([item["id"] for item in page.items])
        if page.continuation is None:
            return found
        continuation = page.continuation


class ViewStoreContract:
    @pytest.fixture(scope="class")
    def logged(self, tmp_path_factory: pytest.TempPathFactory) -> LoggedEvents:
        return log_workload(tmp_path_factory.mktemp("view-contract"))

    @pytest.fixture(scope="class")
    def reference(self, logged: LoggedEvents) -> dict[str, dict[str, View]]:
        return reference_views(logged.events)

    @pytest.fixture(scope="class")
    def reader(self, logged: LoggedEvents) -> ViewReader:
        raise NotImplementedError("a subclass feeds `logged.events` through its store")

    @pytest.fixture
    def generations(self, reference: dict[str, dict[str, View]]) -> list[View]:
        """Generation documents newest first, as history lists them."""
        docs = reference[HISTORY].values()
        return sorted(docs, key=lambda d: (d["created_at"], d["id"]), reverse=True)

    def test_the_workload_covers_what_the_views_distinguish(
        self, generations: list[View], reference: dict[str, dict[str, View]]
    ) -> None:
        statuses = {d["status"] for d in generations}
        assert statuses >= {*UNFINISHED_STATUSES, "charged", "rejected", "failed"}
        assert {d["period"] for d in reference["budget"].values()} == set(PERIODS)
        assert len(reference["budget_policy"]) == 2

    def test_every_document_is_the_pure_fold_of_its_events(
        self, reader: ViewReader, reference: dict[str, dict[str, View]]
    ) -> None:
        for name, documents in reference.items():
            for key, document in documents.items():
                assert reader.get(name, key) == document, (name, key)
        assert reader.get("budget", "d-9:2026-03") is None
        some_generation = next(iter(reference[HISTORY]))
        assert reader.get("budget", some_generation) is None  # projections are apart

    def test_list_by_partition_in_key_order(
        self, reader: ViewReader, reference: dict[str, dict[str, View]]
    ) -> None:
        months = reference["budget"]
        for period in PERIODS:
            expected = [months[k] for k in sorted(months) if months[k]["period"] == period]
            assert list(reader.list("budget", period)) == expected
            assert expected
        assert list(reader.list("budget")) == [months[k] for k in sorted(months)]
        assert list(reader.list("budget", "2099-01")) == []
        policies = reference["budget_policy"]
        assert list(reader.list("budget_policy")) == [policies[k] for k in sorted(policies)]

    def test_history_is_newest_first_and_pages_cover_everything_once(
        self, reader: ViewReader, generations: list[View]
    ) -> None:
        found = pages(reader, limit=5)
        assert [len(p) for p in found] == [5] * (len(generations) // 5) + (
            [len(generations) % 5] if len(generations) % 5 else []
        )
        assert [i for p in found for i in p] == [d["id"] for d in generations]
        first = reader.history(EVERYTHING, HistoryQuery(limit=3)).items
        assert first == generations[:3]  # whole documents, not only ids

    def test_history_filters_combine(self, reader: ViewReader, generations: list[View]) -> None:
        cases: list[dict[str, Any]] = [
            {"user_id": "u-1"},
            {"department_id": "d-2"},
            {"status": "charged"},
            {"department_id": "d-1", "status": "requested"},
            {"user_id": "u-2", "department_id": "d-0"},
            {"user_id": "u-3", "department_id": "d-1", "status": "generated"},
        ]
        for filters in cases:
            expected = [d["id"] for d in generations if all(d[f] == v for f, v in filters.items())]
            assert [i for p in pages(reader, limit=2, **filters) for i in p] == expected, filters
            assert expected  # each case selects something, so the check has teeth
        assert pages(reader, user_id="nobody") == [[]]

    def test_history_shows_only_what_the_reach_covers_and_the_query_narrows(
        self, reader: ViewReader, generations: list[View]
    ) -> None:
        everything = [d["id"] for d in generations]
        assert [i for p in pages(reader, limit=7) for i in p] == everything
        for reach, field, value in (
            (InDepartment("d-1"), "department_id", "d-1"),
            (OwnedBy("u-2"), "user_id", "u-2"),
        ):
            expected = [d["id"] for d in generations if d[field] == value]
            assert [i for p in pages(reader, reach, limit=4) for i in p] == expected, reach
            assert 0 < len(expected) < len(everything)  # both kinds of document are there
        # A query cannot widen a reach: naming another department or owner finds nothing.
        assert pages(reader, InDepartment("d-1"), department_id="d-0") == [[]]
        assert pages(reader, OwnedBy("u-2"), user_id="u-1") == [[]]
        narrowed = [
            d["id"] for d in generations if (d["department_id"], d["user_id"]) == ("d-0", "u-1")
        ]
        assert [i for p in pages(reader, InDepartment("d-0"), user_id="u-1") for i in p] == narrowed
        assert narrowed

    def test_history_of_nothing_is_empty_whatever_the_query(
        self, reader: ViewReader, generations: list[View]
    ) -> None:
        assert generations  # there is something it could wrongly show
        for filters in ({}, {"department_id": "d-0"}, {"user_id": "u-1"}, {"status": "charged"}):
            assert pages(reader, NOTHING, **filters) == [[]], filters

    def test_history_created_range_is_from_inclusive_to_exclusive(
        self, reader: ViewReader, generations: list[View]
    ) -> None:
        oldest_first = generations[::-1]
        low, high = oldest_first[5]["created_at"], oldest_first[12]["created_at"]
        sydney = datetime.fromisoformat(low).astimezone(ZoneInfo("Australia/Sydney"))
        page = reader.history(
            EVERYTHING,
            HistoryQuery(created_from=sydney, created_to=datetime.fromisoformat(high), limit=100),
        )
        assert [i["id"] for i in page.items] == [d["id"] for d in oldest_first[5:12]][::-1]
        assert page.continuation is None
        with pytest.raises(ValueError, match="timezone"):
            reader.history(EVERYTHING, HistoryQuery(created_from=datetime(2026, 3, 2)))

    def test_history_refuses_a_continuation_it_did_not_issue(self, reader: ViewReader) -> None:
        for token in ("not base64!", "e30", "WyJhIl0"):  # garbage, {}, ["a"]
            with pytest.raises(InvalidContinuation):
                reader.history(EVERYTHING, HistoryQuery(continuation=token))

    def test_unfinished_generations_are_the_stale_non_terminal_ones_oldest_first(
        self, reader: ViewReader, generations: list[View]
    ) -> None:
        unfinished = sorted(
            (d for d in generations if d["status"] in UNFINISHED_STATUSES),
            key=lambda d: d["updated_at"],
        )
        cutoff = datetime.fromisoformat(unfinished[-3]["updated_at"])
        stale = [d for d in unfinished if d["updated_at"] < timestamp(cutoff)]
        assert [d["id"] for d in reader.unfinished_generations(updated_before=cutoff)] == [
            d["id"] for d in stale
        ]
        assert len(stale) > 3
        limited = reader.unfinished_generations(updated_before=cutoff, limit=2)
        assert [d["id"] for d in limited] == [d["id"] for d in stale[:2]]
        assert reader.unfinished_generations(updated_before=T0) == []
