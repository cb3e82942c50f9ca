"""A generation routed to OpenAI by the composition root, end to end through the real SDK.

The `openai` provider is enabled by setting; its key comes from the secrets port (here
the environment twin of Key Vault); the images API is a local server speaking OpenAI's
wire format (`tests/openai_server.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bootstrap import build_platform
from domain.generation import Status
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.settings import Settings
from tests.e2e.test_pipeline_service import REQUESTER
from tests.openai_server import OpenAIServer, run_openai_server

KEY = "sk-test-not-a-real-key"


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    monkeypatch.setenv("DONATELLO_SECRET_OPENAI_API_KEY", KEY)
    with run_openai_server() as server:
        server.credentials = {f"Bearer {KEY}"}
        yield server


def test_a_prompt_is_generated_by_openai_and_charged_at_its_price(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    config = Settings(
        data_dir=tmp_path,
        enabled_providers=("openai",),
        openai_base_url=f"{openai_server.url}/v1",
        provider_backoff_seconds=(0.0,),
    )
    platform = build_platform(config)
    submitted = submit_generation(
        platform,
        REQUESTER,
        GenerationRequest(prompt="a poster for jane.citizen@example.com, a lighthouse"),
        None,
    )

    state = advance_generation(platform, submitted.generation_id)

    assert state.status is Status.CHARGED, state.reason
    assert state.routed is not None
    assert state.routed.model_id == "openai-gpt-image-1"
    assert state.cost_aud == Decimal("0.0651")
    (sent,) = openai_server.requests
    assert sent.path == "/v1/images/generations"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-image-1"
    assert sent.body["prompt"] == "a poster for <EMAIL_ADDRESS>, a lighthouse"
    assert state.image is not None
    assert platform.images.get(state.image.image_ref).startswith(b"\x89PNG")


def test_azure_openai_without_its_endpoint_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="DONATELLO_AZURE_OPENAI_ENDPOINT"):
        Settings(enabled_providers=("local", "azure_openai"))
