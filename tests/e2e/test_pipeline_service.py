"""The pipeline through the service layer with the real embedded adapters.

The provider is the one stand-in: it records what it was asked, so the test can prove
that personal data never reaches a provider.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.providers.local import LocalProvider
from bootstrap import build_platform
from domain.access import Principal, Role
from domain.catalogue import ModelRequirements
from domain.generation import Status
from services.budget_ledger import load_budget
from services.budgets import BudgetUpdate, set_budget
from services.context import Platform
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.ports import GeneratedImage, ImageRequest, ProviderError
from services.provider_calls import MAX_RETRY_AFTER_SECONDS
from services.settings import Settings

REQUESTER = Principal(
    user_id="alice",
    roles=frozenset({Role.GENERATOR_STANDARD}),
    department_id="marketing",
    tenant_id=None,
)


class RecordingProvider:
    name = "local"

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self._real = LocalProvider()

    def generate(self, request: ImageRequest) -> GeneratedImage:
        self.prompts.append(request.prompt)
        return self._real.generate(request)


@pytest.fixture
def recording(tmp_path: Path) -> tuple[Platform, RecordingProvider]:
    provider = RecordingProvider()
    platform = build_platform(Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,)))
    return dataclasses.replace(platform, providers={"local": provider}), provider


def run(platform: Platform, prompt: str) -> Status:
    submitted = submit_generation(platform, REQUESTER, GenerationRequest(prompt=prompt), None)
    return advance_generation(platform, submitted.generation_id).status


def test_the_provider_never_sees_an_email_address(
    recording: tuple[Platform, RecordingProvider],
) -> None:
    platform, provider = recording
    assert run(platform, "a portrait for jane.citizen@example.com, oil on canvas") is Status.CHARGED
    assert provider.prompts == ["a portrait for <EMAIL_ADDRESS>, oil on canvas"]


def test_a_card_number_is_rejected_before_any_provider_call(
    recording: tuple[Platform, RecordingProvider],
) -> None:
    platform, provider = recording
    assert run(platform, "print my card 4111 1111 1111 1111 on a mug") is Status.REJECTED
    assert provider.prompts == []


def test_the_log_holds_no_plaintext_prompt(
    recording: tuple[Platform, RecordingProvider], tmp_path: Path
) -> None:
    platform, _ = recording
    run(platform, "a lighthouse drawn for zanzibar-unique-marker")
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("*.db*"))
    assert b"lighthouse" not in stored
    assert b"zanzibar-unique-marker" not in stored


class FlakyProvider:
    """Fails its first calls with the given errors, then renders."""

    name = "local"

    def __init__(self, *failures: ProviderError) -> None:
        self.failures = list(failures)
        self.calls = 0
        self._real = LocalProvider()

    def generate(self, request: ImageRequest) -> GeneratedImage:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self._real.generate(request)


def platform_with(tmp_path: Path, provider: FlakyProvider) -> tuple[Platform, list[float]]:
    slept: list[float] = []
    platform = build_platform(Settings(data_dir=tmp_path, provider_backoff_seconds=(2.0, 4.0)))
    return dataclasses.replace(platform, providers={"local": provider}, sleep=slept.append), slept


def test_retries_wait_the_providers_retry_after_else_the_backoff(tmp_path: Path) -> None:
    provider = FlakyProvider(
        ProviderError("rate limited", retryable=True, retry_after=7.0),
        ProviderError("server error", retryable=True),
    )
    platform, slept = platform_with(tmp_path, provider)
    assert run(platform, "a lighthouse at dusk") is Status.CHARGED
    assert provider.calls == 3
    assert slept == [7.0, 4.0]


def test_a_retry_after_beyond_a_minute_is_capped(tmp_path: Path) -> None:
    provider = FlakyProvider(ProviderError("rate limited", retryable=True, retry_after=3600))
    platform, slept = platform_with(tmp_path, provider)
    assert run(platform, "a lighthouse at dusk") is Status.CHARGED
    assert slept == [MAX_RETRY_AFTER_SECONDS]


def test_a_content_refusal_fails_at_once_and_releases_the_reservation(tmp_path: Path) -> None:
    provider = FlakyProvider(
        ProviderError("content_policy: refused", retryable=False, refused=True)
    )
    platform, slept = platform_with(tmp_path, provider)
    submitted = submit_generation(
        platform, REQUESTER, GenerationRequest(prompt="a lighthouse"), None
    )
    state = advance_generation(platform, submitted.generation_id)
    assert state.status is Status.FAILED
    assert "content_policy: refused" in (state.reason or "")
    assert (provider.calls, slept) == (1, [])
    assert state.routed is not None
    month = load_budget(platform.store, state.routed.budget_stream_id)
    assert month.reservations == {}
    assert month.spent == 0


def test_a_department_requiring_australian_residency_is_never_routed_elsewhere(
    recording: tuple[Platform, RecordingProvider],
) -> None:
    platform, provider = recording
    manager = Principal(
        user_id="maya",
        roles=frozenset({Role.DEPT_MANAGER}),
        department_id="marketing",
        tenant_id=None,
    )
    update = BudgetUpdate(
        monthly_limit_aud=Decimal("50"),
        requirements=ModelRequirements(regions=("australiaeast",)),
    )
    set_budget(platform, manager, "marketing", update)

    submitted = submit_generation(platform, REQUESTER, GenerationRequest(prompt="a gum tree"), None)
    state = advance_generation(platform, submitted.generation_id)

    # The only enabled provider renders "locally", which is not Australia East.
    assert state.status is Status.REJECTED
    assert state.reason == "no_eligible_model"
    assert provider.prompts == []
    history = platform.store.read_stream(f"generation-{submitted.generation_id}")
    assert "within the department's requirements" in history[-1].data["detail"]
