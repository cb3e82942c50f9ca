"""The pipeline through the service layer with the real embedded adapters.

The provider is the one stand-in: it records what it was asked, so the test can prove
that personal data never reaches a provider.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from adapters.providers.local import LocalProvider
from bootstrap import build_platform
from domain.access import Principal, Role
from domain.generation import Status
from services.context import Platform
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.ports import GeneratedImage, ImageRequest
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
