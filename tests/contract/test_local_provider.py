"""The local provider renders real, deterministic PNGs with no metadata and no prompt.

Its images are signed with Content Credentials by the pipeline, as every provider's are
(tests/contract/test_c2pa_credentials.py, tests/e2e/test_provenance_service.py)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from adapters.providers.local import LocalProvider, parse_size
from services.ports import ImageProvider, ImageRequest, ProviderError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROMPT = "a watercolour of a lighthouse at dawn"


def _request(**changes: str) -> ImageRequest:
    fields = {
        "generation_id": "0b6f3c1e-4d2a-4c39-9a51-2f0c8d1e7a44",
        "model_id": "local-standard",
        "prompt": PROMPT,
        "size": "1024x1024",
        "quality": "standard",
        "style": "vivid",
    }
    fields.update(changes)
    return ImageRequest(**fields)  # type: ignore[arg-type]


def _open(png: bytes) -> PngImagePlugin.PngImageFile:
    image = Image.open(io.BytesIO(png))
    assert isinstance(image, PngImagePlugin.PngImageFile)
    image.load()
    return image


@pytest.fixture
def provider() -> LocalProvider:
    return LocalProvider()


def test_is_an_image_provider_named_local(provider: LocalProvider) -> None:
    port: ImageProvider = provider
    assert port.name == "local"


@pytest.mark.parametrize("size", ["1024x1024", "1024x1792", "1792x1024"])
@pytest.mark.parametrize("quality", ["standard", "hd"])
def test_renders_a_png_of_the_requested_size(
    provider: LocalProvider, size: str, quality: str
) -> None:
    png = provider.generate(_request(size=size, quality=quality)).data
    assert png.startswith(PNG_SIGNATURE)
    image = _open(png)
    assert image.format == "PNG"
    assert image.size == parse_size(size)
    # A picture, not a flat fill: many distinct colours.
    colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 32


def test_writes_no_metadata_of_its_own(provider: LocalProvider) -> None:
    result = provider.generate(_request())
    assert result.content_type == "image/png"
    assert result.credentialed_original is None
    assert _open(result.data).text == {}


def test_the_prompt_appears_nowhere_in_the_file(provider: LocalProvider) -> None:
    prompt = "portrait of jane.citizen@example.com holding a sign"
    result = provider.generate(_request(prompt=prompt))
    assert prompt.encode() not in result.data
    assert b"jane.citizen" not in result.data
    assert all("jane" not in value for value in _open(result.data).text.values())
    assert result.provider_request_id is not None
    assert "jane" not in result.provider_request_id


def test_is_deterministic_for_the_same_request(provider: LocalProvider) -> None:
    first = provider.generate(_request())
    second = provider.generate(_request())
    assert first == second


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a charcoal sketch of a lighthouse at dusk"},
        {"generation_id": "7d1e2f3a-0000-4000-8000-000000000001"},
        {"model_id": "local-hd"},
    ],
)
def test_different_requests_give_different_pictures(
    provider: LocalProvider, change: dict[str, str]
) -> None:
    base = _open(provider.generate(_request()).data)
    other = _open(provider.generate(_request(**change)).data)
    assert base.tobytes() != other.tobytes() or base.getpalette() != other.getpalette()


def test_request_id_is_stable_across_retries(provider: LocalProvider) -> None:
    first = provider.generate(_request()).provider_request_id
    retry = provider.generate(_request()).provider_request_id
    other = provider.generate(_request(generation_id="another")).provider_request_id
    assert first == retry
    assert first != other


@pytest.mark.parametrize("size", ["1024", "1024x", "x1024", "0x1024", "8192x8192", "10x-5"])
def test_rejects_a_malformed_size_as_not_retryable(provider: LocalProvider, size: str) -> None:
    with pytest.raises(ProviderError) as raised:
        provider.generate(_request(size=size))
    assert raised.value.retryable is False
