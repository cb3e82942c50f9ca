"""A generation routed to OpenAI by the composition root, end to end through the real SDK.

The `openai` provider is enabled by setting; its key comes from the secrets port (here
the environment twin of Key Vault); the images API is a local server speaking OpenAI's
wire format (`tests/openai_server.py`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from bootstrap import build_platform
from domain.generation import Generation, Status
from services.context import Platform
from services.generations import GenerationRequest, describe, submit_generation
from services.pipeline import advance_generation
from services.provenance import Verdict, verify_image
from services.settings import Settings
from tests.content_credentials import PROVIDER_GENERATOR, platform_anchor, read_credentials
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


def _openai_platform(openai_server: OpenAIServer, tmp_path: Path) -> Platform:
    return build_platform(
        Settings(
            data_dir=tmp_path,
            enabled_providers=("openai",),
            openai_base_url=f"{openai_server.url}/v1",
            provider_backoff_seconds=(0.0,),
        )
    )


def _generated(platform: Platform) -> tuple[Generation, bytes]:
    submitted = submit_generation(
        platform, REQUESTER, GenerationRequest(prompt="a lighthouse at dusk"), None
    )
    state = advance_generation(platform, submitted.generation_id)
    assert state.status is Status.CHARGED, state.reason
    assert state.image is not None
    return state, platform.images.get(state.image.image_ref)


@pytest.mark.parametrize(("image_format", "media"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_openais_credential_lives_on_inside_ours(
    openai_server: OpenAIServer, tmp_path: Path, image_format: str, media: str
) -> None:
    openai_server.image_format = image_format
    state, data = _generated(_openai_platform(openai_server, tmp_path))

    assert state.image is not None
    assert (state.image.content_type, state.image.provider_credential) == (media, "valid")
    assert state.image.credential_warnings == ()
    assert state.image.image_ref.endswith(".png" if image_format == "PNG" else ".jpg")
    assert Image.open(io.BytesIO(data)).format == image_format  # kept, not re-encoded
    read = read_credentials(data, media, platform_anchor(tmp_path))
    assert read.state == "Trusted"
    assert read.parent_failures() == ["signingCredential.untrusted"]  # valid; not our CA
    assert (
        read.manifest_store()["manifests"][read.parent()["active_manifest"]][
            "claim_generator_info"
        ][0]["name"]
        == PROVIDER_GENERATOR
    )
    # The prompt the stub echoed into its text chunk or JPEG comment stays behind.
    assert b"lighthouse" not in data


def test_a_tampered_openai_credential_is_served_signed_by_us_with_its_failure_recorded(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    openai_server.tamper_credentials = True
    platform = _openai_platform(openai_server, tmp_path)
    state, data = _generated(platform)

    assert state.image is not None
    assert state.image.provider_credential == "invalid"
    assert "provider credential: claimSignature.mismatch" in state.image.credential_warnings
    shown = describe(state)  # what GET /generations/{id} answers
    assert shown["provider_credential"] == "invalid"
    assert "provider credential: claimSignature.mismatch" in shown["credential_warnings"]
    read = read_credentials(data, "image/png", platform_anchor(tmp_path))
    assert read.state == "Trusted"
    assert "claimSignature.mismatch" in read.parent_failures()
    report = verify_image(platform, data)
    assert report.verdict is Verdict.AUTHENTIC
    assert report.credential.provider_credential == "invalid"
