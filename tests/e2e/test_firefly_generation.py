"""A generation routed to Adobe Firefly by the composition root, end to end over HTTP.

The `firefly` provider is enabled by setting; its client id and secret come from the
secrets port (the environment twin of Key Vault); IMS and the Firefly API are a local
server speaking their wire formats (`tests/firefly_server.py`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from bootstrap import build_platform
from domain.generation import Status
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.settings import Settings
from tests.content_credentials import platform_anchor, read_credentials
from tests.e2e.test_pipeline_service import REQUESTER
from tests.firefly_server import FireflyApi

CLIENT_ID = "ff-e2e-client"
CLIENT_SECRET = "ff-e2e-secret"


@pytest.fixture
def firefly_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FireflyApi]:
    monkeypatch.setenv("DONATELLO_SECRET_FIREFLY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("DONATELLO_SECRET_FIREFLY_CLIENT_SECRET", CLIENT_SECRET)
    server = FireflyApi(CLIENT_ID, CLIENT_SECRET)
    try:
        yield server
    finally:
        server.close()


def test_a_prompt_is_generated_by_firefly_and_charged_at_its_price(
    firefly_server: FireflyApi, tmp_path: Path
) -> None:
    config = Settings(
        data_dir=tmp_path,
        enabled_providers=("firefly",),
        firefly_base_url=firefly_server.url,
        firefly_ims_url=firefly_server.url,
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
    assert state.routed.model_id == "firefly-image-3"
    assert state.cost_aud == Decimal("0.0620")
    assert len(firefly_server.token_requests()) == 1
    (submit,) = firefly_server.api_requests("/v3/images/")
    assert submit.headers["x-api-key"] == CLIENT_ID
    assert submit.json()["prompt"] == "a poster for <EMAIL_ADDRESS>, a lighthouse"
    assert state.image is not None
    stored = platform.images.get(state.image.image_ref)
    # Firefly's JPEG stays a JPEG, signed by us with Adobe's credential inside.
    assert Image.open(io.BytesIO(stored)).format == "JPEG"
    assert (state.image.content_type, state.image.provider_credential) == ("image/jpeg", "valid")
    read = read_credentials(stored, "image/jpeg", platform_anchor(tmp_path))
    assert read.state == "Trusted"
    ours = read.assertion("ai.donatello.generation")
    assert (ours["generation_id"], ours["model_id"]) == (
        str(submitted.generation_id),
        "firefly-image-3",
    )
    assert read.parent_failures() == ["signingCredential.untrusted"]
