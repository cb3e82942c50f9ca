"""Rebuilding the SQLite views from zero beside the live ones: equal, atomic, and the
live runner carries on.

The live views are built as the platform builds them: generations through the service
layer and pipeline (charged, rejected by screening, refused by a hard budget), the
runner folding in small batches as they happen, and generated lifecycles that end every
other way (reroutes, provider failures and circuit trials, thresholds, releases)
appended through the real store at their own recorded times.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from adapters.sqlite_record_log import SqliteRecordLog
from adapters.sqlite_view_rebuild import rebuild_views
from adapters.sqlite_views import SqliteViewStore
from bootstrap import build_platform
from domain.access import Principal, Role
from domain.budget import Enforcement
from domain.envelope import NewEvent
from projections import ALL_PROJECTIONS
from projections.base import Projection, StalePosition, fold_batch
from projections.rebuild import Difference
from projections.runner import ProjectionRunner, replay_all
from services.budgets import BudgetUpdate, set_budget
from services.generations import GenerationRefused, GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.settings import Settings
from tests.platform_process import platform_env, run_donatello
from tests.unit.test_projection_records import random_log

ADMIN = Principal("ada", frozenset({Role.PLATFORM_ADMIN}), None, None)
NAMES = [p.name for p in ALL_PROJECTIONS]


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def append_generated(events_db: Path, seed: int) -> None:
    """`random_log(seed)`'s events appended through the real store at their own times."""
    clock = Clock(datetime.min)
    store = SqliteEventStore(events_db, clock=clock)
    for event in random_log(seed).events:
        clock.now = event.recorded_at
        new = NewEvent(
            type=event.type,
            data=event.data,
            actor=event.actor,
            correlation_id=event.correlation_id,
        )
        store.append(event.stream_id, len(store.read_stream(event.stream_id)), [new])


def live_runner(data_dir: Path) -> ProjectionRunner:
    views = SqliteViewStore(data_dir / "views.db")
    return ProjectionRunner(SqliteRecordLog(data_dir / "events.db"), views, batch_size=7)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("live")
    platform = build_platform(Settings(data_dir=data_dir, provider_backoff_seconds=(0.0,)))
    runner = live_runner(data_dir)
    set_budget(platform, ADMIN, "studio", BudgetUpdate(monthly_limit_aud=Decimal("0.10")))
    set_budget(
        platform,
        ADMIN,
        "ops",
        BudgetUpdate(monthly_limit_aud=Decimal("0.05"), enforcement=Enforcement.HARD),
    )
    submitted: list[UUID] = []
    for department, prompt in [
        ("studio", "a cobalt teapot"),
        ("studio", "print my card 4111 1111 1111 1111 on a mug"),
        ("studio", "a lighthouse at dusk"),
        ("ops", "a paper crane"),
        ("ops", "a second paper crane, over the limit"),
    ]:
        spender = Principal("alice", frozenset({Role.GENERATOR_POWER}), department, None)
        request = GenerationRequest(prompt=prompt, model="local-studio")
        with contextlib.suppress(GenerationRefused):  # the card: refused at the door
            submitted.append(submit_generation(platform, spender, request, None).generation_id)
    # Both cranes pass the door before either is routed: the second's reservation is the
    # one the hard budget refuses.
    for generation_id in submitted:
        advance_generation(platform, generation_id)
        runner.run_until_caught_up()
    for seed in (3, 5, 8):
        append_generated(data_dir / "events.db", seed)
        runner.run_until_caught_up()
    return data_dir


@pytest.fixture
def live(built: Path, tmp_path: Path) -> Path:
    """A copy of the built data folder for one test to rebuild (and tamper with)."""
    return Path(shutil.copytree(built, tmp_path / "data"))


def documents(views_db: Path, projection: str) -> dict[str, Any]:
    """The projection's documents by key, read in one statement (one snapshot)."""
    with sqlite3.connect(views_db) as conn:
        rows = conn.execute(
            "SELECT key, document FROM view_documents WHERE projection = ?", (projection,)
        ).fetchall()
    return {key: document for key, document in rows}


def replayed_afresh(data_dir: Path, tmp_path: Path) -> Path:
    """Every projection replayed from zero into a new file, the reference."""
    reference = tmp_path / "reference.db"
    replay_all(SqliteRecordLog(data_dir / "events.db"), SqliteViewStore(reference))
    return reference


def rebuild(data_dir: Path, projections: list[Projection], dry_run: bool = False) -> Any:
    log = SqliteRecordLog(data_dir / "events.db")
    return rebuild_views(log, data_dir / "views.db", projections, dry_run=dry_run)


def test_the_live_log_feeds_every_projection_with_every_ending(built: Path) -> None:
    # So that the equality below is checked on every kind of document.
    for name in NAMES:
        assert documents(built / "views.db", name), name
    statuses = {
        row[0]
        for row in sqlite3.connect(built / "views.db").execute(
            "SELECT status FROM view_documents WHERE projection = 'generation_status'"
        )
    }
    assert {"charged", "rejected", "failed"} <= statuses


@pytest.mark.parametrize("projection", ALL_PROJECTIONS, ids=NAMES)
def test_a_rebuilt_projection_equals_the_live_one(
    live: Path, tmp_path: Path, projection: Projection
) -> None:
    before = documents(live / "views.db", projection.name)
    position = SqliteViewStore(live / "views.db").position(projection.name)

    report = rebuild(live, [projection])

    assert report.differences == ()
    assert report.documents == {projection.name: len(before)}
    assert report.positions == {projection.name: position}
    assert report.events_replayed == position
    after = documents(live / "views.db", projection.name)
    assert after == before
    reference = documents(replayed_afresh(live, tmp_path), projection.name)
    assert {k: _decoded(v) for k, v in after.items()} == {
        k: _decoded(v) for k, v in reference.items()
    }


def test_a_dry_run_lists_each_difference_and_swaps_nothing(live: Path, tmp_path: Path) -> None:
    views = live / "views.db"
    budget_key = next(iter(documents(views, "budget")))
    generation_key = next(iter(documents(views, "generation_status")))
    with sqlite3.connect(views) as conn:
        conn.execute(
            "UPDATE view_documents SET document = json_set(document, '$.spent_aud', '999')"
            " WHERE projection = 'budget' AND key = ?",
            (budget_key,),
        )
        conn.execute(
            "DELETE FROM view_documents WHERE projection = 'generation_status' AND key = ?",
            (generation_key,),
        )
        conn.execute(
            "INSERT INTO view_documents (projection, key, document)"
            " VALUES ('provider_health', 'forged', '{}')"
        )
    tampered = {name: documents(views, name) for name in NAMES}
    expected = {
        Difference("budget", budget_key, "changed"),
        Difference("generation_status", generation_key, "extra"),
        Difference("provider_health", "forged", "missing"),
    }

    dry = rebuild(live, list(ALL_PROJECTIONS), dry_run=True)
    assert set(dry.differences) == expected
    assert not dry.swapped
    assert {name: documents(views, name) for name in NAMES} == tampered

    swapped = rebuild(live, list(ALL_PROJECTIONS))
    assert set(swapped.differences) == expected
    assert swapped.swapped
    reference = replayed_afresh(live, tmp_path)
    for name in NAMES:
        assert _all_decoded(documents(views, name)) == _all_decoded(documents(reference, name))


def test_readers_see_the_old_view_or_the_new_never_a_mix(live: Path, tmp_path: Path) -> None:
    views = live / "views.db"
    with sqlite3.connect(views) as conn:  # damage half the history, so old and new differ
        conn.execute(
            "DELETE FROM view_documents WHERE projection = 'generation_status' AND key IN"
            " (SELECT key FROM view_documents WHERE projection = 'generation_status'"
            "  ORDER BY key LIMIT (SELECT COUNT(*) / 2 FROM view_documents"
            "  WHERE projection = 'generation_status'))"
        )
        conn.execute(
            "UPDATE view_documents SET document = json_set(document, '$.status', 'lost')"
            " WHERE projection = 'generation_status'"
        )
    old = documents(views, "generation_status")
    new = documents(replayed_afresh(live, tmp_path), "generation_status")
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(documents(views, "generation_status"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        rebuild(live, list(ALL_PROJECTIONS))
    finally:
        done.set()
        reader.join()
    seen.append(documents(views, "generation_status"))
    assert len(seen) > 1
    for snapshot in seen:
        assert _all_decoded(snapshot) in (_all_decoded(old), _all_decoded(new))
    assert _all_decoded(seen[-1]) == _all_decoded(new)


def test_the_live_runner_carries_on_after_a_swap(live: Path, tmp_path: Path) -> None:
    runner = live_runner(live)
    stop = threading.Event()
    folding = threading.Thread(target=runner.run_forever, args=(stop, 0.001))
    appending = threading.Thread(target=append_generated, args=(live / "events.db", 21))
    folding.start()
    appending.start()
    try:
        report = rebuild(live, list(ALL_PROJECTIONS))
        appending.join()
    finally:
        stop.set()
        folding.join()
    runner.run_until_caught_up()

    views = SqliteViewStore(live / "views.db")
    head = SqliteRecordLog(live / "events.db").last_position()
    assert views.positions(NAMES) == dict.fromkeys(NAMES, head)
    assert all(report.positions[name] <= head for name in NAMES)
    reference = replayed_afresh(live, tmp_path)
    for name in NAMES:
        assert _all_decoded(documents(live / "views.db", name)) == _all_decoded(
            documents(reference, name)
        )


def test_a_batch_the_runner_folded_from_the_swapped_out_documents_is_refused(
    live: Path, tmp_path: Path
) -> None:
    views = SqliteViewStore(live / "views.db")
    budget = next(p for p in ALL_PROJECTIONS if p.name == "budget")
    start = views.position("budget")
    append_generated(live / "events.db", 34)  # events the runner has yet to fold
    log = SqliteRecordLog(live / "events.db")
    pending = log.read_records(start, log.last_position())
    touched = {key for record in pending for key in budget.keys(record)}
    key = min(touched & set(documents(live / "views.db", "budget")))
    with sqlite3.connect(live / "views.db") as conn:  # a wrong document the rebuild fixes
        conn.execute(
            "UPDATE view_documents SET document = json_set(document, '$.spent_aud', '999')"
            " WHERE projection = 'budget' AND key = ?",
            (key,),
        )
    # The runner's half-done batch: documents loaded before the swap, written after it.
    batch = fold_batch(budget, pending, views.get_many)
    assert key in batch

    rebuild(live, [budget])

    with pytest.raises(StalePosition):
        views.apply_batch("budget", batch, log.last_position(), expected_position=start)
    live_runner(live).run_until_caught_up()
    reference = replayed_afresh(live, tmp_path)
    assert _all_decoded(documents(live / "views.db", "budget")) == _all_decoded(
        documents(reference, "budget")
    )


def test_the_command_compares_in_a_dry_run_and_names_unknown_projections(live: Path) -> None:
    env = platform_env(live)
    dry = run_donatello(env, "projections", "rebuild", "--dry-run", "budget", "budget_policy")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].startswith("budget: ")
    assert lines[0].endswith(" 0 differing from the live view")
    assert lines[1].startswith("budget_policy: ")
    assert lines[-1] == "dry run: nothing swapped"
    unknown = run_donatello(env, "projections", "rebuild", "budgets")
    assert unknown.returncode != 0
    assert "no projection budgets" in unknown.stderr


def _decoded(document: str) -> Any:
    return json.loads(document)


def _all_decoded(docs: dict[str, str]) -> dict[str, Any]:
    return {key: _decoded(document) for key, document in docs.items()}
