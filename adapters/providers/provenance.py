"""Provenance every generated PNG carries: which generation, which model, when, made by what.

The fields live in PNG text chunks, so any PNG reader (and `Image.open(...).text`) shows
them. They never include the prompt: the file may be shared far beyond the people
allowed to see what was asked for.

Every provider's output passes through here. The local provider draws its own image
and calls `save_png`; a remote provider hands over the bytes it received to `stamp`,
which decodes them and encodes a PNG with the same pixels and our chunks. The
provider's own metadata chunks are not carried over (they may hold the prompt, or a
revised version of it).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from services.ports import ImageRequest, ProviderError

# The modes Pillow writes to PNG unchanged; anything else (CMYK from a JPEG, say) is
# converted to RGB(A), which is what a viewer would have shown anyway.
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})


def provenance(request: ImageRequest, created_at: datetime, generator: str) -> PngInfo:
    """The text chunks for `request`'s image; `created_at` is stored in UTC."""
    info = PngInfo()
    info.add_text("generation_id", request.generation_id)
    info.add_text("model_id", request.model_id)
    info.add_text("created_at", created_at.astimezone(UTC).isoformat())
    info.add_text("generator", generator)
    return info


def save_png(image: Image.Image, info: PngInfo, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=compress_level)
    return buffer.getvalue()


def stamp(data: bytes, request: ImageRequest, created_at: datetime, generator: str) -> bytes:
    """`data` (a PNG, or any image Pillow reads) as a PNG with the same pixels and our
    provenance.

    Bytes that are not a readable image raise a retryable ProviderError: the provider
    answered success with a broken body, which is its fault and most often a one-off
    (a truncated transfer, a proxy in the way). The pipeline's attempt limit bounds the
    cost of being wrong about that.
    """
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ProviderError(
            f"malformed_response: the image is unreadable ({type(error).__name__})", retryable=True
        ) from error
    if image.mode not in _PNG_MODES:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return save_png(image, provenance(request, created_at, generator))
