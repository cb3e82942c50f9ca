"""SqliteViewStore as a ViewReader and as the runner's checkpointed writer, and the
runner over a real SQLite event store file."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_views import SqliteViewStore
from domain import budget as b
from domain import generation as g
from domain.envelope import Actor, Event, NewEvent
from domain.streams import budget_policy_stream, budget_stream, generation_stream
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
from services.ports import HistoryQuery, InvalidContinuation, ViewReader

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


def all_pages(views: SqliteViewStore, **filters: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    continuation = None
    while True:
        page = views.history(HistoryQuery(continuation=continuation, **filters))
        pages.append([item["id"] for item in page.items])
        if page.continuation is None:
            return pages
        continuation = page.continuation


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


def test_history_is_newest_first_and_pages_cover_everything_once(
    views: SqliteViewStore, generations: list[View]
) -> None:
    pages = all_pages(views, limit=7)
    assert [len(p) for p in pages] == [7] * 8 + [4]
    flat = [i for p in pages for i in p]
    assert flat == [d["id"] for d in reversed(generations)]


def test_history_filters_combine(views: SqliteViewStore, generations: list[View]) -> None:
    def expected(**wanted: Any) -> list[str]:
        return [
            d["id"]
            for d in reversed(generations)
            if all(d[field] == value for field, value in wanted.items())
        ]

    cases: list[dict[str, Any]] = [
        {"user_id": "u-1"},
        {"department_id": "d-0"},
        {"status": "failed"},
        {"department_id": "d-1", "status": "charged"},
        {"user_id": "u-2", "department_id": "d-0", "status": "failed"},
    ]
    for filters in cases:
        flat = [i for p in all_pages(views, limit=4, **filters) for i in p]
        assert flat == expected(**filters), filters
        assert flat  # each case selects something, so the check has teeth
    assert all_pages(views, user_id="nobody") == [[]]


def test_history_created_range_is_from_inclusive_to_exclusive(
    views: SqliteViewStore, generations: list[View]
) -> None:
    sydney = datetime(2026, 3, 2, 11, 10, tzinfo=ZoneInfo("Australia/Sydney"))  # 00:10 UTC
    page = views.history(
        HistoryQuery(created_from=sydney, created_to=T0 + timedelta(minutes=20), limit=50)
    )
    assert [i["id"] for i in page.items] == [f"g-{n:04d}" for n in range(19, 9, -1)]
    assert page.continuation is None
    with pytest.raises(ValueError, match="timezone"):
        views.history(HistoryQuery(created_from=datetime(2026, 3, 2)))


def test_history_refuses_a_continuation_it_did_not_issue(views: SqliteViewStore) -> None:
    for token in ("not base64!", "e30", "WyJhIl0"):  # garbage, {}, ["a"]
        with pytest.raises(InvalidContinuation):
            views.history(HistoryQuery(continuation=token))


def test_history_ignores_other_projections(views: SqliteViewStore) -> None:
    doc = generation_doc(1, user="u-1", department="d-1", status="requested")
    views.apply_batch("shadow_generation_status", {"g-0001": doc}, 1)
    assert views.history(HistoryQuery()).items == []


def test_unfinished_generations_are_the_stale_non_terminal_ones(
    views: SqliteViewStore, generations: list[View]
) -> None:
    cutoff = T0 + timedelta(minutes=30)
    stuck = views.unfinished_generations(updated_before=cutoff)
    want = [
        d["id"]
        for d in generations
        if d["status"] == "requested" and d["updated_at"] < timestamp(cutoff)
    ]
    assert [d["id"] for d in stuck] == want  # oldest first
    assert len(want) > 3
    assert len(views.unfinished_generations(updated_before=cutoff, limit=3)) == 3
    # Moving on takes a generation off the list.
    first = {**generations[0], "status": "screened", "updated_at": timestamp(cutoff)}
    views.apply_batch(HISTORY, {first["id"]: first}, 61)
    assert [d["id"] for d in views.unfinished_generations(updated_before=cutoff)] == want[1:]


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

ADMIN = Actor(user_id="u-boss", roles=("Dept.Manager",), department_id="d-0")
SEALED = g.SealedText(subject_id="s", nonce="bm9uY2U=", ciphertext="Y2lwaGVydGV4dA==")


class Workload:
    """Full generation lifecycles against budget streams, through the real store."""

    def __init__(self, store: SqliteEventStore, seed: int = 11) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.policy = b.BudgetPolicy(
            monthly_limit_aud=Decimal("2.00"),
            enforcement=b.Enforcement.SOFT,
            strategy=b.Strategy.BALANCED,
        )
        self.generations: list[UUID] = []

    def append(self, stream: str, payloads: list[g.Payload], actor: Actor = ADMIN) -> None:
        events = [
            NewEvent(
                type=p.TYPE, data=p.model_dump(mode="json"), actor=actor, correlation_id=uuid4()
            )
            for p in payloads
        ]
        self.store.append(stream, len(self.store.read_stream(stream)), events)

    def set_policy(self, department: str) -> None:
        standing = b.BudgetSet(department_id=department, period=None, policy=self.policy)
        self.append(budget_policy_stream(department), [standing])

    def generation(self, department: str, user: str) -> None:
        gid = uuid4()
        self.generations.append(gid)
        stream, month = generation_stream(gid), budget_stream(department, "2026-03")
        common = {"department_id": department, "period": "2026-03", "generation_id": gid}
        request = g.GenerationRequested(
            generation_id=gid,
            user_id=user,
            department_id=department,
            prompt=SEALED,
            size="1024x1024",
            quality="standard",
            request_hash="0" * 64,
        )
        self.append(stream, [request])
        self.append(
            stream, [g.PromptScreened(findings=(), redacted_prompt=SEALED, policy_version="p")]
        )
        model = self.rng.choice(["m-a", "m-b"])
        estimate = Decimal(self.rng.choice(["0.04", "0.08", "0.12"]))
        route = g.GenerationRouted(
            model_id=model,
            provider="local",
            ranked_models=(model,),
            estimated_cost_aud=estimate,
            budget_stream_id=month,
            budget_period="2026-03",
            catalogue_version="c",
        )
        opening: list[g.Payload] = []
        if not self.store.read_stream(month):
            opening.append(
                b.BudgetSet(department_id=department, period="2026-03", policy=self.policy)
            )
        reservation = b.CostReserved(
            **common, user_id=user, model_id=model, amount_aud=estimate, outcome="allowed"
        )
        self.append(month, [*opening, reservation])
        self.append(stream, [route])
        if self.rng.random() < 0.2:
            self.append(stream, [g.GenerationFailed(reason="provider down", model_id=model)])
            released = b.ReservationReleased(**common, amount_aud=estimate, reason="failed")
            self.append(month, [released])
            return
        cost = estimate - Decimal("0.01")
        image = g.ImageGenerated(
            model_id=model,
            image_ref=f"{gid}.png",
            sha256="f" * 64,
            content_type="image/png",
            bytes=10,
            cost_aud=cost,
        )
        self.append(stream, [image])
        charged = b.CostCharged(
            **common, user_id=user, model_id=model, amount_aud=cost, reserved_aud=estimate
        )
        self.append(month, [charged])
        self.append(stream, [g.GenerationCharged(cost_aud=cost, budget_stream_id=month)])

    def run(self, generations: int) -> None:
        for department in ("d-0", "d-1"):
            self.set_policy(department)
        for _ in range(generations):
            department = self.rng.choice(["d-0", "d-1"])
            self.generation(department, f"u-{department}-{self.rng.randrange(4)}")


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
        assert month["charged_count"] == len(state.charged)
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
    mine = views.history(HistoryQuery(user_id="u-d-0-1", limit=200)).items
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
