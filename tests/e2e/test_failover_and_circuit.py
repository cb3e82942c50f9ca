"""Failover to the next model and the per-provider circuit breaker, over real sockets.

OpenAI is a local server speaking its wire format, called through the real SDK with a
short timeout; the `local` provider is the fallback. One controllable clock drives
both the platform and the event store, since the circuit reads the time its events
were recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from adapters.env_secrets import EnvSecrets
from adapters.providers.local import LocalProvider
from adapters.providers.openai_images import ImageModel, openai_images
from adapters.sqlite_event_store import SqliteEventStore
from bootstrap import build_platform
from domain import budget
from domain.budget import Strategy
from domain.generation import Generation, Status
from domain.periods import budget_period
from domain.streams import budget_stream, provider_stream
from services.context import Platform
from services.generations import GenerationRequest, submit_generation
from services.models import list_models
from services.pipeline import advance_generation
from services.repository import Repository
from services.settings import Settings
from tests.e2e.test_pipeline_service import REQUESTER
from tests.openai_server import Mode, OpenAIServer, run_openai_server

KEY = "sk-test-not-a-real-key"
OPENAI_MODEL = "openai-gpt-image-1"
FALLBACK = "local-sketch"  # the next model under the quality-focused strategy


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclasses.dataclass
class World:
    platform: Platform
    server: OpenAIServer
    clock: Clock

    def generate(self, model: str | None = None) -> Generation:
        """A generation, routed by the department's strategy unless `model` is named."""
        request = GenerationRequest(prompt="a lighthouse at dusk", model=model)
        submitted = submit_generation(self.platform, REQUESTER, request, None)
        return advance_generation(self.platform, submitted.generation_id)

    def circuit(self) -> str:
        models = {m["id"]: m for m in list_models(self.platform)["models"]}
        state: str = models[OPENAI_MODEL]["circuit"]["state"]
        return state


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("DONATELLO_SECRET_OPENAI_API_KEY", KEY)
    clock = Clock()
    config = Settings(
        data_dir=tmp_path,
        enabled_providers=("openai", "local"),
        provider_backoff_seconds=(0.0,),
        default_strategy=Strategy.QUALITY,
        default_monthly_limit_aud=Decimal("100"),
    )
    with run_openai_server() as server:
        openai = openai_images(
            EnvSecrets(),
            "openai-api-key",
            {OPENAI_MODEL: ImageModel("gpt-image-1", family="gpt-image-1")},
            base_url=f"{server.url}/v1",
            timeout=1.0,
        )
        store = SqliteEventStore(tmp_path / "clocked-events.db", clock=clock)
        platform = dataclasses.replace(
            build_platform(config),
            store=store,
            repository=Repository(store),
            providers={"openai": openai, "local": LocalProvider()},
            clock=clock,
        )
        yield World(platform, server, clock)


def provider_events(world: World) -> list[str]:
    return [e.type for e in world.platform.store.read_stream(provider_stream("openai"))]


def test_a_provider_that_times_out_three_times_falls_back_to_the_next_model(
    world: World,
) -> None:
    world.server.mode = Mode.SLOW
    world.server.slow_seconds = 3.0

    state = world.generate()

    assert state.status is Status.CHARGED, state.reason
    assert len(world.server.requests) == 3
    assert state.tried_models == (OPENAI_MODEL, FALLBACK)
    assert state.image is not None
    assert state.image.model_id == FALLBACK
    # Charged at the fallback's price; the reservation moved with the model.
    assert state.cost_aud == Decimal("0.0100")
    month = budget.fold(
        world.platform.store.read_stream(budget_stream("marketing", budget_period(world.clock())))
    )
    assert month.spent == Decimal("0.0100")
    assert month.reservations == {}
    assert provider_events(world) == ["ProviderCallFailed"] * 3
    assert world.circuit() == "closed"  # three failures are not five


def test_five_failures_open_the_circuit_which_is_skipped_then_tried_after_sixty_seconds(
    world: World,
) -> None:
    world.server.mode = Mode.SLOW
    world.server.slow_seconds = 3.0
    first = world.generate()  # three failures, then the fallback serves it
    assert first.image is not None
    assert first.image.model_id == FALLBACK
    # Its recent failures now rank OpenAI below the fallback; a user who names the model
    # still gets it, and brings the failures to five. The circuit opens before a third
    # attempt, and nothing else may serve a generation pinned to one model.
    pinned = world.generate(model=OPENAI_MODEL)

    assert len(world.server.requests) == 5
    assert pinned.status is Status.FAILED
    assert pinned.reason is not None
    assert pinned.reason.startswith("circuit_open: openai")
    assert world.circuit() == "open"

    skipped = world.generate()
    assert len(world.server.requests) == 5  # not asked at all
    assert skipped.status is Status.CHARGED
    assert skipped.routed is not None
    assert skipped.routed.model_id == FALLBACK
    refused = world.generate(model=OPENAI_MODEL)
    assert refused.status is Status.REJECTED
    assert refused.reason == "providers_unavailable"
    assert len(world.server.requests) == 5

    world.clock.advance(59)
    assert world.circuit() == "open"
    world.clock.advance(2)
    assert world.circuit() == "half_open"

    world.server.mode = Mode.OK
    trials = [world.generate() for _ in range(3)]  # half-open: ranked on merit again
    assert len(world.server.requests) == 8
    assert [t.image.model_id for t in trials if t.image] == [OPENAI_MODEL] * 3
    assert world.circuit() == "closed"
    assert provider_events(world)[-6:] == ["CircuitTrialStarted", "ProviderCallSucceeded"] * 3
    month = budget.fold(
        world.platform.store.read_stream(budget_stream("marketing", budget_period(world.clock())))
    )
    assert month.reservations == {}  # the failed and rejected ones hold nothing


def test_a_redelivered_trial_keeps_its_slot_and_calls_nobody_again(world: World) -> None:
    open_the_circuit(world)
    world.server.mode = Mode.OK
    trial = world.generate()
    assert trial.status is Status.CHARGED
    asked = len(world.server.requests)

    again = advance_generation(world.platform, trial.requested.generation_id)

    assert again.version == trial.version
    assert len(world.server.requests) == asked
    assert provider_events(world).count("CircuitTrialStarted") == 1


def test_racing_workers_share_three_trial_calls_and_the_rest_fall_back(world: World) -> None:
    open_the_circuit(world)
    world.server.mode = Mode.SLOW
    world.server.slow_seconds = 0.2  # slow enough to overlap, well inside the timeout
    asked = len(world.server.requests)
    ids = [
        submit_generation(
            world.platform, REQUESTER, GenerationRequest(prompt=f"lighthouse {n}"), None
        ).generation_id
        for n in range(6)
    ]

    with ThreadPoolExecutor(max_workers=6) as workers:
        states = list(workers.map(lambda gid: advance(world, gid), ids))

    served_by = sorted(s.image.model_id for s in states if s.image is not None)
    assert all(s.status is Status.CHARGED for s in states)
    assert served_by == [FALLBACK] * 3 + [OPENAI_MODEL] * 3
    assert len(world.server.requests) - asked == 3
    assert provider_events(world).count("CircuitTrialStarted") == 3


def advance(world: World, generation_id: UUID) -> Generation:
    return advance_generation(world.platform, generation_id)


def open_the_circuit(world: World) -> None:
    world.server.mode = Mode.SERVER_ERROR
    world.generate(model=OPENAI_MODEL)
    world.generate(model=OPENAI_MODEL)
    assert world.circuit() == "open"
    world.clock.advance(61)
