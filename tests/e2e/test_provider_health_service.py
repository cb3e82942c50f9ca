"""Reading a provider's health: this process's last fold (the repository's cache) and the
stream's tail."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from uuid import uuid4

from bootstrap import build_platform
from domain.provider_health import ProviderCallFailed, ProviderCallSucceeded
from domain.streams import provider_stream
from services.context import Platform
from services.provider_health import current_health, record_call
from services.repository import Repository
from services.settings import Settings
from tests.store_wrappers import ReadsCounted

PROVIDER = "local"


def succeed(platform: Platform, n: int) -> None:
    health = current_health(platform, PROVIDER)
    outcome = ProviderCallSucceeded(provider=PROVIDER, model_id="m", generation_id=uuid4())
    record_call(platform, health, outcome, outcome.generation_id, f"m/{n}")


def test_health_is_folded_on_from_where_this_process_left_off(tmp_path: Path) -> None:
    # No projection runs here, so the health document never appears: each read used to
    # fold the provider's whole stream again.
    real = build_platform(Settings(data_dir=tmp_path))
    store = ReadsCounted(real.store)
    platform = dataclasses.replace(real, store=store, repository=Repository(store))
    for n in range(5):
        succeed(platform, n)
    failed = ProviderCallFailed(
        provider=PROVIDER,
        model_id="m",
        generation_id=uuid4(),
        attempt=1,
        reason="timeout",
        retryable=True,
    )
    record_call(platform, current_health(platform, PROVIDER), failed, failed.generation_id, "f")
    store.reads.clear()
    health = current_health(platform, PROVIDER).state
    # What followed the last event this process knows: its own append, version 6.
    assert store.reads == [(provider_stream(PROVIDER), 7)]
    # The same as a fold of the whole stream by a process that has folded nothing yet.
    fresh = build_platform(Settings(data_dir=tmp_path))
    assert current_health(fresh, PROVIDER).state == health
    assert (health.version, health.successes, health.failures) == (6, 5, 1)
    assert health.consecutive_failures == 1
