"""The pipeline through the service layer with the real embedded adapters.

The provider is the one stand-in: it records what it was asked, so the test can prove
that personal data never reaches a provider.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest

from adapters.providers.local import LocalProvider
from bootstrap import build_platform
from domain import budget
from domain.access import Principal, Role
from domain.admission import Refusal
from domain.budget import BudgetPolicy, BudgetSet, Enforcement, Strategy
from domain.catalogue import ModelRequirements
from domain.generation import Status
from domain.streams import budget_policy_stream
from services.budgets import BudgetUpdate, RequirementsUnmet, set_budget
from services.commands import Stamp
from services.context import Platform
from services.generations import (
    GenerationRefused,
    GenerationRequest,
    keyed_generation_id,
    submit_generation,
)
from services.personal_data import open_text
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
    prompt = "print my card 4111 1111 1111 1111 on a mug"
    with pytest.raises(GenerationRefused) as refused:  # at the door, never queued
        submit_generation(platform, REQUESTER, GenerationRequest(prompt=prompt), None)
    assert (refused.value.refusal, refused.value.detail) == (
        Refusal.PROMPT_REJECTED,
        "personal_data: CREDIT_CARD",
    )
    generation_id = refused.value.generation_id
    assert generation_id is not None
    events = platform.store.read_stream(f"generation-{generation_id}")
    assert [e.type for e in events] == ["GenerationRequested", "PromptRejected"]
    state = advance_generation(platform, generation_id)  # a stray delivery changes nothing
    assert (state.status, state.version) == (Status.REJECTED, 2)
    assert (
        open_text(platform.keys, state.requested.prompt) == "print my card <CREDIT_CARD> on a mug"
    )
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
    month = budget.fold(platform.store.read_stream(state.routed.budget_stream_id))
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
    with pytest.raises(RequirementsUnmet, match=r"residency excluded [a-z]"):
        set_budget(platform, manager, "marketing", update)
    # A store written before the door existed may hold such a policy: every request is
    # then refused at the door, naming the rule, and nothing is recorded.
    policy = BudgetPolicy(
        monthly_limit_aud=Decimal("50"),
        enforcement=Enforcement.HARD,
        strategy=Strategy.BALANCED,
        requirements=update.requirements,
    )
    standing = BudgetSet(department_id="marketing", period=None, policy=policy)
    platform.store.append(budget_policy_stream("marketing"), 0, Stamp(uuid4()).events([standing]))
    with pytest.raises(GenerationRefused) as refused:
        submit_generation(platform, REQUESTER, GenerationRequest(prompt="a gum tree"), "gum")
    assert refused.value.refusal is Refusal.NO_ELIGIBLE_MODEL
    assert refused.value.generation_id is None
    # The only enabled provider renders "locally", which is not Australia East.
    assert "under the department's requirements: residency excluded" in refused.value.detail
    generation_id = keyed_generation_id(platform.generation_id_key(), "alice", "gum")
    assert platform.store.read_stream(f"generation-{generation_id}") == []
    assert provider.prompts == []
