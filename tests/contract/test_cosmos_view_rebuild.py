"""Rebuilding the Cosmos DB views against `@vercel/cosmosdb-server`: the next version is
built from the change feed beside the live one, compared, swapped in, and the old one
deleted, while the live triggers keep folding.

The live triggers run as the Functions host runs them (`tests/contract/cosmos_shape.py`).

The emulator's change feed is the real service's incremental feed as far as it goes
(`tests/cosmos_emulator.js`): one lease covers the container (the real service keeps
one per physical partition, which changes nothing here).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from azure.cosmos import CosmosClient, DatabaseProxy

from adapters.cosmos_view_rebuild import Rebuilt
from adapters.cosmos_view_versions import VersionState, ViewVersions, namespace
from devhost.change_feed import ChangeFeedRunner
from projections import budget, generation_status
from projections.base import View
from projections.rebuild import Difference, RebuildFailed
from tests.contract.cosmos_shape import POINTER_AGE, Shape, in_key_order, legacy, pointer
from tests.contract.view_store_contract import LoggedEvents, log_workload, reference_views
from tests.emulators import RunningEmulator
from tests.platform_process import platform_env, run_donatello

pytest_plugins = ["tests.cosmos_fixtures"]


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> LoggedEvents:
    return log_workload(tmp_path_factory.mktemp("cosmos-rebuild"), generations=12, seed=5)


@pytest.fixture
def shape(cosmos_database: DatabaseProxy, new_cosmos_client: Callable[[], CosmosClient]) -> Shape:
    return Shape(cosmos_database, new_cosmos_client)


def test_a_rebuild_after_a_projection_change_swaps_the_new_views_in_and_deletes_the_old(
    shape: Shape, logged: LoggedEvents
) -> None:
    events = logged.events
    half = len(events) // 2
    shape.code[budget.NAME] = legacy(budget.PROJECTION)
    shape.append(events[:half])
    shape.drain()
    old = shape.documents(budget.NAME)
    assert old
    assert all(view["legacy"] for view in old)
    shape.code[budget.NAME] = budget.PROJECTION  # the new release is deployed

    seen: dict[str, list[View]] = {}

    def progress(line: str) -> None:
        if line.startswith("budget: version 2 took the last"):  # the last step before the swap
            seen["before the swap"] = shape.documents(budget.NAME)
        if line.startswith("budget: version 2 is live"):
            seen["after the swap"] = shape.documents(budget.NAME)

    report = shape.rebuild(progress).rebuild([budget.PROJECTION, generation_status.PROJECTION])

    assert seen["before the swap"] == old  # readers were on the old version until then
    assert seen["after the swap"] == in_key_order(reference_views(events[:half])[budget.NAME])
    expected = reference_views(events[:half])
    assert shape.documents(budget.NAME) == in_key_order(expected[budget.NAME])
    assert shape.documents(generation_status.NAME) == in_key_order(expected[generation_status.NAME])
    assert report == [
        Rebuilt(
            budget.NAME,
            version=2,
            documents=len(expected[budget.NAME]),
            events_read=half,
            differences=tuple(
                Difference(budget.NAME, key, "changed") for key in sorted(expected[budget.NAME])
            ),
            swapped=True,
        ),
        Rebuilt(
            generation_status.NAME,
            version=2,
            documents=len(expected[generation_status.NAME]),
            events_read=half,
            differences=(),
            swapped=True,
        ),
    ]
    # The old version's documents and the rebuild's leases are gone; the live triggers'
    # leases are where they were.
    spaces = shape.namespaces()
    assert {namespace(budget.NAME, 2), namespace(generation_status.NAME, 2)} <= spaces
    assert not spaces & {budget.NAME, generation_status.NAME}
    assert budget.POLICY_NAME in spaces  # not rebuilt: still version 1
    assert shape.lease_ids() == {poller.lease_id for poller in shape.pollers}

    # The live triggers fold what comes next into the new version.
    shape.append(events[half:])
    shape.drain()
    everything = reference_views(events)
    for name in (budget.NAME, generation_status.NAME, budget.POLICY_NAME):
        assert shape.documents(name) == in_key_order(everything[name])


class Interrupted(Exception):
    """The operator's Ctrl-C, or the machine going away, at a given line of progress."""


def interrupt_at(start: str) -> Callable[[str], None]:
    def progress(line: str) -> None:
        if line.startswith(start):
            raise Interrupted(line)

    return progress


def test_a_dry_run_compares_and_leaves_the_live_views_as_they_were(
    shape: Shape, logged: LoggedEvents
) -> None:
    shape.code[budget.NAME] = legacy(budget.PROJECTION)
    shape.append(logged.events)
    shape.drain()
    before = shape.documents(budget.NAME)
    leases = shape.lease_ids()
    shape.code[budget.NAME] = budget.PROJECTION

    (report,) = shape.rebuild().rebuild([budget.PROJECTION], dry_run=True)

    assert not report.swapped
    assert len(report.differences) == len(before) == report.documents
    assert shape.documents(budget.NAME) == before
    assert namespace(budget.NAME, 2) not in shape.namespaces()
    assert shape.lease_ids() == leases
    assert pointer(shape, budget.NAME) == VersionState(live=1)


def test_a_run_stopped_while_building_is_resumed_from_its_lease(
    shape: Shape, logged: LoggedEvents
) -> None:
    events = logged.events
    first, more = len(events) // 2, len(events) * 3 // 4
    shape.append(events[:first])
    shape.drain()
    with pytest.raises(Interrupted):
        shape.rebuild(interrupt_at("budget: version 2 caught up")).rebuild([budget.PROJECTION])
    assert pointer(shape, budget.NAME) == VersionState(live=1, building=2)
    shape.append(events[first:more])
    shape.drain()

    lines: list[str] = []
    (report,) = shape.rebuild(lines.append).rebuild([budget.PROJECTION])

    assert lines[0].startswith("budget: resuming the build of version 2")
    assert report.events_read == more - first  # only what came after the stopped run
    assert report.differences == ()
    assert shape.documents(budget.NAME) == in_key_order(reference_views(events[:more])["budget"])
    assert pointer(shape, budget.NAME) == VersionState(live=2)
    assert shape.lease_ids() == {poller.lease_id for poller in shape.pollers}


def test_a_run_stopped_in_its_cutover_window_lets_the_live_triggers_go_on(
    shape: Shape, logged: LoggedEvents
) -> None:
    events = logged.events
    half = len(events) // 2
    shape.append(events[:half])
    shape.drain()
    with pytest.raises(Interrupted):
        shape.rebuild(interrupt_at("budget: holding")).rebuild([budget.PROJECTION])
    assert pointer(shape, budget.NAME) == VersionState(live=1, building=2)  # window closed

    shape.append(events[half:])
    shape.drain()  # not held: it would wait out the window
    everything = in_key_order(reference_views(events)["budget"])
    assert shape.documents(budget.NAME) == everything

    (report,) = shape.rebuild().rebuild([budget.PROJECTION])
    assert (report.version, report.swapped, report.differences) == (2, True, ())
    assert shape.documents(budget.NAME) == everything


def test_a_run_stopped_after_the_swap_deletes_the_old_version_when_run_again(
    shape: Shape, logged: LoggedEvents
) -> None:
    shape.append(logged.events)
    shape.drain()
    with pytest.raises(Interrupted):
        shape.rebuild(interrupt_at("budget: version 2 is live")).rebuild([budget.PROJECTION])
    assert pointer(shape, budget.NAME) == VersionState(live=2, retiring=(1,))
    assert budget.NAME in shape.namespaces()  # not deleted yet, but no longer read
    expected = in_key_order(reference_views(logged.events)["budget"])
    assert shape.documents(budget.NAME) == expected

    lines: list[str] = []
    shape.rebuild(lines.append).rebuild([budget.PROJECTION])

    assert lines[0].startswith("budget: deleted version 1")
    assert pointer(shape, budget.NAME) == VersionState(live=3)
    spaces = shape.namespaces()
    assert namespace(budget.NAME, 3) in spaces
    assert not spaces & {budget.NAME, namespace(budget.NAME, 2)}
    assert shape.documents(budget.NAME) == expected


def test_events_appended_while_the_live_triggers_run_reach_the_new_version_across_the_swap(
    shape: Shape, logged: LoggedEvents
) -> None:
    """The live triggers poll on their own threads while events keep coming: some at
    every step of the rebuild (the build, the comparison, inside the cutover window
    before and after the build takes its last events, after the swap, while the old
    version is deleted). None is missing afterwards: the triggers hold their batches in
    the window, then write the new version."""
    events = logged.events
    quarter = len(events) // 4
    shape.append(events[:quarter])
    shape.drain()
    coming = iter(events[quarter:])
    steps: list[str] = []

    def progress(line: str) -> None:  # each step of the rebuild brings a few events
        steps.append(line)
        shape.append(list(itertools.islice(coming, 2)))
        if " took the last " in line:  # between the last events taken and the swap:
            time.sleep(1.5)  # the triggers poll (every second) and hold what they read

    triggers = ChangeFeedRunner(shape.pollers)
    triggers.start()
    try:
        shape.rebuild(progress).rebuild([budget.PROJECTION, generation_status.PROJECTION])
        shape.append(list(coming))
        expected = reference_views(events)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            shape.documents(name) == in_key_order(expected[name])
            for name in (budget.NAME, generation_status.NAME)
        ):
            time.sleep(0.2)
    finally:
        triggers.stop()
    assert len(steps) == 14  # seven steps a projection, each with events on their way
    assert len(events) - quarter > 2 * len(steps)
    for name in (budget.NAME, generation_status.NAME):
        assert shape.documents(name) == in_key_order(expected[name])
        assert pointer(shape, name) == VersionState(live=2)


def test_a_trigger_batch_waits_out_a_cutover_window_and_a_lapsed_window_holds_nothing(
    shape: Shape,
) -> None:
    versions = ViewVersions(shape.views, max_age=0)
    writer = ViewVersions(shape.views, max_age=POINTER_AGE)
    soon = versions.now() + timedelta(seconds=30)
    versions.update(budget.NAME, lambda s: dataclasses.replace(s, building=2, cutover_until=soon))
    found: list[str] = []
    batch = threading.Thread(target=lambda: found.append(writer.for_writing(budget.NAME)))
    batch.start()
    time.sleep(0.5)
    assert batch.is_alive()  # held in the window
    versions.update(budget.NAME, lambda s: VersionState(live=2, retiring=(1,)))
    batch.join(timeout=5)
    assert found == [namespace(budget.NAME, 2)]

    # A window left by a run that died lapses: the trigger writes the live version.
    past = versions.now() - timedelta(seconds=1)
    versions.update(generation_status.NAME, lambda s: dataclasses.replace(s, cutover_until=past))
    assert writer.for_writing(generation_status.NAME) == generation_status.NAME


def test_the_command_rebuilds_on_the_azure_shape_saying_what_it_does(
    shape: Shape, logged: LoggedEvents, cosmos_emulator: RunningEmulator, tmp_path: Path
) -> None:
    shape.code[budget.NAME] = legacy(budget.PROJECTION)
    shape.append(logged.events)
    shape.drain()
    # Imported here: the plugin must load (and be assertion-rewritten) first.
    from tests.cosmos_fixtures import EMULATOR_KEY

    env = platform_env(
        tmp_path,
        DONATELLO_EVENT_STORE="cosmos",
        CosmosDbConnection__accountEndpoint=f"https://{cosmos_emulator.host}:{cosmos_emulator.port}/",
        DONATELLO_COSMOS_EMULATOR_KEY=EMULATOR_KEY,
        DONATELLO_COSMOS_DATABASE=shape.database.id,
        DONATELLO_VIEW_POINTER_SECONDS=str(POINTER_AGE),
    )

    done = run_donatello(env, "projections", "rebuild", "budget")

    assert done.returncode == 0, done.stderr
    keys = sorted(reference_views(logged.events)[budget.NAME])
    assert done.stdout.splitlines() == [
        "budget: building version 2 beside live version 1 from the start of the change feed"
        " (lease rebuild-budget.v2-…)",
        f"budget: version 2 caught up ({len(logged.events)} events read); comparing",
        f"budget: {len(keys)} documents, {len(keys)} differing from live",
        # The window: the settling and the margin (six times the pointer's age), and 30 s.
        "budget: holding the live trigger's writes for at most 31 s while version 2 takes the"
        " last events",
        "budget: version 2 took the last 0 events",
        "budget: version 2 is live",
        f"budget: deleted version 1 ({len(keys)} documents) and 1 rebuild lease",
        f"budget: version 2, {len(keys)} documents, {len(keys)} differing from the live view",
        *(f"  changed  {key}" for key in keys),
        "swapped the rebuilt versions in, deleted the old ones",
    ]
    assert shape.documents(budget.NAME) == in_key_order(reference_views(logged.events)["budget"])

    shape.database.delete_container("leases")
    failed = run_donatello(env, "projections", "rebuild", "budget")
    assert failed.returncode == 1
    assert "rebuild failed: no container 'leases'" in failed.stderr
    assert pointer(shape, budget.NAME) == VersionState(live=2)


def test_a_request_cosmos_refuses_is_reported_as_a_failed_rebuild(shape: Shape) -> None:
    shape.database.delete_container("events")
    with pytest.raises(RebuildFailed, match=r"Cosmos DB answered 404 .* running the rebuild"):
        shape.rebuild().rebuild([budget.PROJECTION])
