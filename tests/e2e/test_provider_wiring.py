"""Every provider the catalogue names is built by the composition root when enabled, and
serves every model, size and quality the catalogue offers from it.

The remote providers point at a closed port: a model, size or quality a provider does
not serve is refused before any connection (a final error), so reaching the network
and failing to connect (a retryable error) shows the request was one it would send.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from adapters.env_secrets import EnvSecrets, variable_for
from bootstrap import image_providers
from domain.catalogue import default_catalogue
from services.ports import ImageRequest, ProviderError
from services.settings import Settings

SECRETS = {
    "openai-api-key": "sk-test",
    "stability-api-key": "sk-stability-test",
    "replicate-api-token": "r8_test",
    "firefly-client-id": "ff-client",
    "firefly-client-secret": "ff-secret",
    "self-hosted-key": "self-hosted-test",
}


def _closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host, port = probe.getsockname()
    return f"http://{host}:{port}"


def _settings(tmp_path: Path, dead: str) -> Settings:
    providers = sorted({model.provider for model in default_catalogue().models})
    return Settings(
        data_dir=tmp_path,
        enabled_providers=tuple(providers),
        openai_base_url=f"{dead}/v1",
        azure_openai_endpoint=dead,
        stability_base_url=dead,
        replicate_base_url=dead,
        firefly_base_url=dead,
        firefly_ims_url=dead,
        openai_compatible_base_url=f"{dead}/v1",
        openai_compatible_model="sdxl-turbo",
        openai_compatible_key_secret="self-hosted-key",
    )


def test_every_catalogue_provider_is_built_when_enabled(tmp_path: Path) -> None:
    environ = {variable_for(name): value for name, value in SECRETS.items()}
    providers = image_providers(_settings(tmp_path, _closed_url()), EnvSecrets(environ))
    named = {model.provider for model in default_catalogue().models}
    assert set(providers) == named
    assert all(provider.name == name for name, provider in providers.items())


def _request(model_id: str, size: str, quality: str) -> ImageRequest:
    return ImageRequest(
        generation_id="2f1e0d9c-8b7a-4654-9321-0fedcba98765",
        model_id=model_id,
        prompt="a lighthouse",
        size=size,  # type: ignore[arg-type]
        quality=quality,  # type: ignore[arg-type]
        style=None,
    )


def _offered(*, local: bool) -> list[tuple[str, str, str, str]]:
    return [
        (model.id, model.provider, size, quality)
        for model in default_catalogue().models
        # Azure OpenAI is left out of the calls: without a key it authenticates with the
        # managed identity, whose token endpoint is not on this machine (its adapter
        # test covers it).
        if model.provider != "azure_openai" and (model.provider == "local") is local
        for size in model.sizes
        for quality in model.qualities
    ]


@pytest.mark.parametrize(("model_id", "provider", "size", "quality"), _offered(local=False))
def test_every_offered_remote_model_size_and_quality_is_one_its_provider_sends(
    tmp_path: Path, model_id: str, provider: str, size: str, quality: str
) -> None:
    environ = {variable_for(name): value for name, value in SECRETS.items()}
    providers = image_providers(_settings(tmp_path, _closed_url()), EnvSecrets(environ))
    with pytest.raises(ProviderError) as raised:
        providers[provider].generate(_request(model_id, size, quality))
    assert raised.value.retryable, f"{provider} refused {model_id} {size} {quality}"
    assert "reach" in str(raised.value)  # "could not be reached", "unreachable"


@pytest.mark.parametrize(("model_id", "provider", "size", "quality"), _offered(local=True))
def test_every_offered_local_model_size_and_quality_is_rendered(
    tmp_path: Path, model_id: str, provider: str, size: str, quality: str
) -> None:
    providers = image_providers(_settings(tmp_path, _closed_url()), EnvSecrets({}))
    generated = providers[provider].generate(_request(model_id, size, quality))
    assert generated.data.startswith(b"\x89PNG")


def test_openai_compatible_without_its_server_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="DONATELLO_OPENAI_COMPATIBLE_BASE_URL"):
        Settings(enabled_providers=("openai_compatible",), openai_compatible_model="m")
