"""Waiting for generations through the services, on the real embedded store: the log
tail wakes a waiter when another thread advances its generation, the bound runs out
naming the generations, and without a tail the waiter still gets there by polling."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from uuid import UUID

import pytest

from bootstrap import build_platform
from domain.access import Principal, Role
from domain.generation import Status
from services import generation_waits
from services.context import Platform
from services.generation_waits import WaitExpired, wait_for_generations
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.settings import Settings

REQUESTER = Principal(
    user_id="wendy",
    roles=frozenset({Role.GENERATOR_POWER}),
    department_id="marketing",
    tenant_id=None,
)


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return build_platform(Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,)))


def submit(platform: Platform, prompt: str) -> UUID:
    request = GenerationRequest(prompt=prompt)
    return submit_generation(platform, REQUESTER, request, None).generation_id


def advance_later(platform: Platform, ids: list[UUID], delay: float) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        for generation_id in ids:
            advance_generation(platform, generation_id)

    worker = threading.Thread(target=run)
    worker.start()
    return worker


def test_the_embedded_platform_has_a_log_tail(platform: Platform) -> None:
    assert platform.log_tail is not None


def test_a_waiter_is_woken_when_another_thread_finishes_its_generations(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No fallback re-read within the bound: only the tail can wake the waiter in time.
    monkeypatch.setattr(generation_waits, "SLOWEST_POLL_SECONDS", 3600.0)
    ids = [submit(platform, f"a lighthouse, view {n}") for n in range(2)]
    worker = advance_later(platform, ids, delay=0.3)
    started = time.monotonic()
    states = wait_for_generations(platform, ids, seconds=60)
    waited = time.monotonic() - started
    worker.join()
    # Unwoken, it would sleep out the whole bound before its last look.
    assert waited < 30
    assert [s.requested.generation_id for s in states] == ids
    assert [s.status for s in states] == [Status.CHARGED, Status.CHARGED]


def test_the_bound_runs_out_naming_the_generations_which_carry_on(platform: Platform) -> None:
    ids = [submit(platform, "a slow harbour")]
    with pytest.raises(WaitExpired) as expired:
        wait_for_generations(platform, ids, seconds=0.2)
    assert expired.value.generation_ids == tuple(ids)
    assert str(ids[0]) in str(expired.value)
    assert advance_generation(platform, ids[0]).status is Status.CHARGED


def test_without_a_tail_a_waiter_polls_its_streams(platform: Platform) -> None:
    untailed = dataclasses.replace(platform, log_tail=None)
    ids = [submit(untailed, "a kite over the bay")]
    worker = advance_later(untailed, ids, delay=0.2)
    states = wait_for_generations(untailed, ids, seconds=30)
    worker.join()
    assert states[0].status is Status.CHARGED


def test_the_tail_thread_ends_when_nobody_waits(platform: Platform) -> None:
    ids = [submit(platform, "a tram at dusk")]
    advance_generation(platform, ids[0])
    wait_for_generations(platform, ids, seconds=5)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if not any(t.name == "log-tail" for t in threading.enumerate()):
            break
        time.sleep(0.01)
    assert not any(t.name == "log-tail" for t in threading.enumerate())
