"""SqliteViewStore as a ViewReader and as the runner's checkpointed writer, and the
runner over a real SQLite event store file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_views import SqliteViewStore
from domain import budget as b
from domain import generation as g
from domain.access import EVERYTHING
from domain.envelope import Event
from domain.streams import budget_stream, generation_stream
from projections import ALL_PROJECTIONS, budget, generation_status
from projections.base import (
    Fact,
    Projection,
    StalePosition,
    View,
    ViewBatch,
    ViewWriter,
    timestamp,
)
from projections.runner import ProjectionRunner, replay_all
from services.ports import HistoryQuery, ViewReader
from tests.contract.view_workload import Workload

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HISTORY = generation_status.NAME


@pytest.fixture
def views(tmp_path: Path) -> Iterator[SqliteViewStore]:
    store = SqliteViewStore(tmp_path / "views.db")
    yield store
    store.close()


def generation_doc(n: int, *, user: str, department: str, status: str) -> View:
    at = timestamp(T0 + timedelta(minutes=n))
    return {
        "id": f"g-{n:04d}",
        "user_id": user,
        "department_id": department,
        "status": status,
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }


@pytest.fixture
def generations(views: SqliteViewStore) -> list[View]:
    """60 generations, one a minute, spread over 3 users, 2 departments and 3 statuses."""
    docs = [
        generation_doc(
            n,
            user=f"u-{n % 3}",
            department=f"d-{n % 2}",
            status=("requested", "charged", "failed")[n % 3 if n % 5 else 0],
        )
        for n in range(60)
    ]
    views.apply_batch(HISTORY, {d["id"]: d for d in docs}, 60)
    return docs


# --- ViewReader --------------------------------------------------------------------------


def test_it_is_the_ports_it_claims_to_be(views: SqliteViewStore) -> None:
    reader: ViewReader = views  # checked by mypy
    writer: ViewWriter = views
    assert reader.get("budget", "x") is None
    assert writer.positions(["budget"]) == {"budget": 0}


def test_get_answers_the_stored_document_or_none(views: SqliteViewStore) -> None:
    assert views.get("budget", "d-1:2026-03") is None
    doc = {"department_id": "d-1", "period": "2026-03", "by_user": {"ü": "1.50"}}
    views.apply_batch("budget", {"d-1:2026-03": doc}, 3, partition_field="period")
    assert views.get("budget", "d-1:2026-03") == doc
    assert views.get("budget_policy", "d-1:2026-03") is None  # projections are apart
    views.apply_batch("budget", {"d-1:2026-03": {**doc, "by_user": {}}}, 4)
    assert views.get("budget", "d-1:2026-03") == {**doc, "by_user": {}}


def test_get_many_answers_each_stored_document_asked_for_once(views: SqliteViewStore) -> None:
    # Counts either side of the powers of two its statements are padded to, and past a chunk.
    docs = {f"d-{n:04d}": {"department_id": f"d-{n:04d}", "n": n} for n in range(1100)}
    views.apply_batch("budget_policy", docs, 1)
    views.apply_batch("budget", {"d-0000": {"other": True}}, 1)
    keys = list(docs)
    for count in (1, 2, 3, 5, 8, 255, 511, 512, 513, 1024, 1100):
        asked = [*keys[-count:], "absent"][::-1]
        assert views.get_many("budget_policy", asked) == {k: docs[k] for k in keys[-count:]}
    assert views.get_many("budget_policy", []) == {}
    assert views.get_many("budget", ["d-0000", "d-0001"]) == {"d-0000": {"other": True}}


def test_get_many_needs_few_statement_texts_whatever_the_count(
    views: SqliteViewStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sqlite3 module keeps up to 128 texts prepared on each connection: a text per
    # count of keys held megabytes on every connection of a long-running process.
    texts: set[str] = set()
    connection = views._connection()

    class Recording:
        def execute(self, sql: str, *args: Any) -> Any:
            texts.add(sql)
            return connection.execute(sql, *args)

    monkeypatch.setattr(views, "_connection", Recording)
    for count in range(1, 1100, 7):
        views.get_many("budget", [f"k-{n}" for n in range(count)])
    assert 1 < len(texts) <= 10


def test_list_by_partition_and_across_pages(views: SqliteViewStore) -> None:
    docs = {
        f"d-{n:04d}:{period}": {"department_id": f"d-{n:04d}", "period": period}
        for n in range(700)
        for period in ("2026-02", "2026-03")
    }
    views.apply_batch("budget", docs, 1, partition_field="period")
    march = list(views.list("budget", "2026-03"))
    assert [d["department_id"] for d in march] == [f"d-{n:04d}" for n in range(700)]
    assert {d["period"] for d in march} == {"2026-03"}
    assert len(list(views.list("budget"))) == 1400
    assert list(views.list("budget", "2026-04")) == []
    assert list(views.list("budget_policy")) == []


def test_history_ignores_other_projections(views: SqliteViewStore) -> None:
    doc = generation_doc(1, user="u-1", department="d-1", status="requested")
    views.apply_batch("shadow_generation_status", {"g-0001": doc}, 1)
    assert views.history(EVERYTHING, HistoryQuery()).items == []


def test_a_generation_that_moves_on_leaves_the_unfinished_list(
    views: SqliteViewStore, generations: list[View]
) -> None:
    # The contract checks the listing itself; here a document is rewritten in place.
    cutoff = T0 + timedelta(minutes=30)
    stuck = [d["id"] for d in views.unfinished_generations(updated_before=cutoff)]
    assert stuck[0] == generations[0]["id"]
    first = {**generations[0], "status": "screened", "updated_at": timestamp(cutoff)}
    views.apply_batch(HISTORY, {first["id"]: first}, 61)
    assert [d["id"] for d in views.unfinished_generations(updated_before=cutoff)] == stuck[1:]


def test_other_threads_read_what_was_committed(
    views: SqliteViewStore, generations: list[View]
) -> None:
    seen: list[Any] = []
    reader = threading.Thread(target=lambda: seen.append(views.get(HISTORY, "g-0007")))
    reader.start()
    reader.join()
    assert seen == [generations[7]]


# --- the runner's side -----------------------------------------------------------------


def test_positions_start_at_zero_and_move_with_their_documents(views: SqliteViewStore) -> None:
    assert views.positions(["a", "b"]) == {"a": 0, "b": 0}
    views.apply_batch("a", {"k": {"n": 1}}, 10, expected_position=0)
    assert views.positions(["a", "b"]) == {"a": 10, "b": 0}
    assert views.position("a") == 10


def test_a_stale_writer_writes_nothing(views: SqliteViewStore) -> None:
    views.apply_batch("a", {"k": {"n": 1}}, 10, expected_position=0)
    with pytest.raises(StalePosition):
        views.apply_batch("a", {"k": {"n": 0}, "j": {"n": 0}}, 10, expected_position=0)
    assert (views.get("a", "k"), views.get("a", "j"), views.position("a")) == ({"n": 1}, None, 10)


def test_a_write_that_fails_half_way_leaves_no_trace(views: SqliteViewStore) -> None:
    views.apply_batch("a", {"k": {"n": 1}}, 10)
    # The first batch is written inside the transaction before the second one fails.
    with pytest.raises(StalePosition):
        views.apply_batches(
            [
                ViewBatch("a", {"k": {"n": 2}, "j": {"n": 2}}, 20, expected_position=10),
                ViewBatch("b", {"k": {"n": 2}}, 20, expected_position=3),
            ]
        )
    assert (views.get("a", "k"), views.get("a", "j"), views.get("b", "k")) == ({"n": 1}, None, None)
    assert views.positions(["a", "b"]) == {"a": 10, "b": 0}


# --- the runner over a real event store ------------------------------------------------


def charges_of(events: list[Event], department: str) -> Decimal:
    return sum(
        (
            Decimal(e.data["amount_aud"])
            for e in events
            if e.type == "CostCharged" and e.data["department_id"] == department
        ),
        Decimal(0),
    )


def check_views_match_the_log(store: SqliteEventStore, views: SqliteViewStore) -> None:
    events = [p.event for p in store.read_all(0, 1_000_000)]
    for department in ("d-0", "d-1"):
        month = views.get("budget", f"{department}:2026-03")
        assert month is not None
        assert Decimal(month["spent_aud"]) == charges_of(events, department)
        assert month["reserved_aud"] in ("0", "0.00")  # every lifecycle finished
        state = b.fold(store.read_stream(budget_stream(department, "2026-03")))
        assert Decimal(month["spent_aud"]) == state.spent
        assert month["charged_count"] == state.charged_count
        assert sum(Decimal(v) for v in month["by_user"].values()) == state.spent
        assert views.get("budget_policy", department) is not None
    for doc in views.list(HISTORY):
        folded = g.fold(store.read_stream(generation_stream(UUID(doc["id"]))))
        assert (doc["status"], doc["version"]) == (folded.status.value, folded.version)


def test_runner_keeps_views_equal_to_the_log(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    workload = Workload(store)
    workload.run(60)
    views = SqliteViewStore(tmp_path / "views.db")
    processed = ProjectionRunner(store, views, ALL_PROJECTIONS, 64).run_until_caught_up()
    assert processed == store.last_position() > 400
    check_views_match_the_log(store, views)
    assert len(list(views.list(HISTORY))) == 60
    mine = views.history(EVERYTHING, HistoryQuery(user_id="u-d-0-1", limit=200)).items
    assert mine
    assert len(mine) == sum(1 for d in views.list(HISTORY) if d["user_id"] == "u-d-0-1")
    # Later events are picked up incrementally.
    workload.run(5)
    assert replay_all(store, views) == store.last_position() - processed
    check_views_match_the_log(store, views)


def test_runner_survives_a_crash_mid_replay_without_double_counting(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    Workload(store, seed=5).run(40)
    views = SqliteViewStore(tmp_path / "views.db")
    crash_after = 150

    def crashing(projection: Projection) -> Projection:
        applied = [0]

        def apply(view: View | None, event: Fact) -> View:
            applied[0] += 1
            if applied[0] > crash_after:
                raise RuntimeError("power cut")
            return projection.apply(view, event)

        return Projection(projection.name, projection.keys, apply, projection.partition_field)

    doomed = ProjectionRunner(store, views, [crashing(p) for p in ALL_PROJECTIONS], 50)
    with pytest.raises(RuntimeError, match="power cut"):
        doomed.run_until_caught_up()
    stopped_at = views.positions([p.name for p in ALL_PROJECTIONS])
    assert len(set(stopped_at.values())) == 1  # they move together
    assert 0 < next(iter(stopped_at.values())) < store.last_position()
    # A restarted runner whose checkpoint is even older than what was written.
    for projection in ALL_PROJECTIONS:
        views.apply_batch(projection.name, {}, 0)
    ProjectionRunner(store, views, ALL_PROJECTIONS, 50).run_until_caught_up()
    check_views_match_the_log(store, views)


def test_run_forever_follows_new_events_until_stopped(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    workload = Workload(store, seed=3)
    views = SqliteViewStore(tmp_path / "views.db")
    runner = ProjectionRunner(store, views, ALL_PROJECTIONS)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run_forever, args=(stop, 0.01))
    thread.start()
    try:
        workload.run(10)
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while views.position(HISTORY) < store.last_position():
            assert datetime.now(UTC) < deadline, "the runner did not catch up"
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    check_views_match_the_log(store, views)


def test_two_runners_on_one_view_store_agree(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    Workload(store, seed=9).run(30)
    views = SqliteViewStore(tmp_path / "views.db")
    first = ProjectionRunner(store, views, ALL_PROJECTIONS, 40)
    second = ProjectionRunner(store, views, ALL_PROJECTIONS, 40)

    def race(runner: ProjectionRunner) -> None:
        while True:
            try:
                if runner.run_once() == 0:
                    return
            except StalePosition:
                continue  # the other runner applied this batch; go on from there

    threads = [threading.Thread(target=race, args=(r,)) for r in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    check_views_match_the_log(store, views)
    assert views.position(HISTORY) == store.last_position()


def test_budget_projection_name_is_what_the_services_read() -> None:
    # services/budgets.py reads views.get("budget", f"{department}:{period}").
    assert budget.NAME == "budget"
    assert HISTORY == "generation_status"
