"""Provenance every generated PNG carries: which generation, which model, when, made by what.

The fields live in PNG text chunks, so any PNG reader (and `Image.open(...).text`) shows
them. They never include the prompt: the file may be shared far beyond the people
allowed to see what was asked for.

Every provider's output passes through here. The local provider encodes the image it
drew and adds our chunks (`with_provenance`); a remote provider hands over the bytes it
received to `stamp`. A PNG keeps its image data as it arrived, checked but never
re-encoded: decoding and re-encoding a 1024x1024 photograph costs about 0.4 s of CPU,
checking and rewriting its chunks about 10 ms (`python -m benchmarks.stamp`). Any
other format (a JPEG, say) is decoded and encoded as a PNG. Only the chunks that say how
to show the pixels are carried over; the provider's text, EXIF and private chunks are
not (they may hold the prompt, or a revised version of it).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image, UnidentifiedImageError

from adapters.providers.png_chunks import (
    SIGNATURE,
    Chunk,
    MalformedPng,
    check_image_data,
    read_chunks,
    text_chunk,
    write_png,
)
from services.ports import ImageRequest, ProviderError

# The modes Pillow writes to PNG unchanged; anything else (CMYK from a JPEG, say) is
# converted to RGB(A), which is what a viewer would have shown anyway.
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})
# Chunks kept from a provider's PNG: the critical ones, and those that change how the
# pixels look (transparency, colour space, gamma, background, pixel size).
_KEPT = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_KEPT |= {b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"pHYs", b"cICP"}


def provenance(request: ImageRequest, created_at: datetime, generator: str) -> list[Chunk]:
    """The text chunks for `request`'s image; `created_at` is stored in UTC."""
    return [
        text_chunk("generation_id", request.generation_id),
        text_chunk("model_id", request.model_id),
        text_chunk("created_at", created_at.astimezone(UTC).isoformat()),
        text_chunk("generator", generator),
    ]


def encode_png(image: Image.Image, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def with_provenance(png: bytes, text: list[Chunk]) -> bytes:
    """`png` with only the chunks in `_KEPT`, and `text` just before its image data."""
    return _written(read_chunks(png), text)


def _written(chunks: list[Chunk], text: list[Chunk]) -> bytes:
    kept = [chunk for chunk in chunks if chunk.type in _KEPT]
    first_data = next(n for n, chunk in enumerate(kept) if chunk.type == b"IDAT")
    return write_png([*kept[:first_data], *text, *kept[first_data:]])


def stamp(data: bytes, request: ImageRequest, created_at: datetime, generator: str) -> bytes:
    """`data` (a PNG, or any image Pillow reads) as a PNG with the same pixels and our
    provenance.

    Bytes that are not a readable image raise a retryable ProviderError: the provider
    answered success with a broken body, which is its fault and most often a one-off
    (a truncated transfer, a proxy in the way). The pipeline's attempt limit bounds the
    cost of being wrong about that.
    """
    text = provenance(request, created_at, generator)
    if data.startswith(SIGNATURE):
        try:
            chunks = read_chunks(data)
            check_image_data(chunks)
        except MalformedPng as error:
            raise _unreadable(str(error)) from error
        return _written(chunks, text)
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise _unreadable(type(error).__name__) from error
    if image.mode not in _PNG_MODES:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return with_provenance(encode_png(image), text)


def _unreadable(why: str) -> ProviderError:
    return ProviderError(f"malformed_response: the image is unreadable ({why})", retryable=True)
