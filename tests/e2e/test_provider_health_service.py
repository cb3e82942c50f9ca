"""Reading a provider's health: the document, this process's last fold, the stream's tail."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from uuid import uuid4

from bootstrap import build_platform
from domain.envelope import Event, NewEvent
from domain.provider_health import ProviderCallFailed, ProviderCallSucceeded
from domain.streams import provider_stream
from services.context import Platform
from services.ports import EventStore
from services.provider_health import current_health, record_call
from services.settings import Settings

PROVIDER = "local"


class ReadsCounted:
    """The platform's real store, noting each stream read's starting version."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.reads: list[tuple[str, int]] = []

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        head_hash: str | None = None,
    ) -> list[Event]:
        return self._store.append(stream_id, expected_version, events, head_hash=head_hash)

    def read_stream(self, stream_id: str, from_version: int = 1) -> list[Event]:
        self.reads.append((stream_id, from_version))
        return self._store.read_stream(stream_id, from_version)


def succeed(platform: Platform, n: int) -> None:
    health = current_health(platform, PROVIDER)
    outcome = ProviderCallSucceeded(provider=PROVIDER, model_id="m", generation_id=uuid4())
    record_call(platform, health, outcome, outcome.generation_id, f"m/{n}")


def test_health_is_folded_on_from_where_this_process_left_off(tmp_path: Path) -> None:
    # No projection runs here, so the health document never appears: each read used to
    # fold the provider's whole stream again.
    real = build_platform(Settings(data_dir=tmp_path))
    store = ReadsCounted(real.store)
    platform = dataclasses.replace(real, store=store)
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
    health = current_health(platform, PROVIDER)
    assert store.reads == [(provider_stream(PROVIDER), 6)]  # what followed the last read, 5
    # The same as a fold of the whole stream by a process that has folded nothing yet.
    fresh = build_platform(Settings(data_dir=tmp_path))
    assert current_health(fresh, PROVIDER) == health
    assert (health.version, health.successes, health.failures) == (6, 5, 1)
    assert health.consecutive_failures == 1
