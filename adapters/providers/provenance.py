"""What every provider's image goes through before it is signed: checked whole, and
stripped of metadata, in the format the provider chose.

A PNG, JPEG or WebP keeps its format and its compressed pixels as they arrived; nothing
is re-encoded (decoding and re-encoding a 1024x1024 photograph costs about 0.4 s of CPU).
The provider's text, EXIF, XMP and private chunks are left out (they may hold the prompt,
or a revised version of it). When the file carries the provider's Content Credentials,
the original bytes go along too, so that our manifest keeps theirs as its parent
ingredient (`adapters/c2pa_credentials.py` signs).
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from adapters.image_formats import PNG, MalformedImage, strip_metadata
from services.ports import GeneratedImage, ProviderError


def encode_png(image: Image.Image, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def received(data: bytes, provider_request_id: str | None = None) -> GeneratedImage:
    """The provider's image, checked and stripped of metadata.

    Bytes that are not a whole image raise a retryable ProviderError: the provider
    answered success with a broken body, which is its fault and most often a one-off
    (a truncated transfer, a proxy in the way). The pipeline's attempt limit bounds the
    cost of being wrong about that.
    """
    try:
        stripped = strip_metadata(data)
    except MalformedImage as error:
        raise _unreadable(str(error)) from error
    if stripped.content_type != PNG:  # a PNG's image data was inflated whole already
        try:
            with Image.open(io.BytesIO(stripped.data)) as image:
                image.load()
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
            raise _unreadable(type(error).__name__) from error
    return GeneratedImage(
        data=stripped.data,
        content_type=stripped.content_type,
        provider_request_id=provider_request_id,
        credentialed_original=data if stripped.had_manifest else None,
    )


def _unreadable(why: str) -> ProviderError:
    return ProviderError(f"malformed_response: the image is unreadable ({why})", retryable=True)
