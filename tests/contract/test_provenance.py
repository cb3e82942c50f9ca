"""A provider's image before it is signed: kept in its format with its pixels as they
arrived (a PNG's compressed bytes too), every text, EXIF, XMP and private chunk or
segment gone, only what says how to show the pixels carried over; broken files refused.

Files are made by Pillow, or by hand where Pillow cannot write them (interlaced), and
every result is read back by Pillow. Signing is tests/contract/test_c2pa_credentials.py.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from adapters.providers.png_chunks import ADAM7_PASSES, Chunk, read_chunks, write_png
from adapters.providers.provenance import received
from services.ports import ProviderError

PROMPT = "a portrait of Jane Citizen, jane@example.com"


def _noise(mode: str, size: tuple[int, int] = (37, 23)) -> Image.Image:
    rng = random.Random(7)
    image = Image.new("L", size)
    image.putdata([rng.randrange(256) for _ in range(size[0] * size[1])])
    if mode == "P":
        return image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return image.convert(mode)


def _png(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _with(png: bytes, *extra: Chunk) -> bytes:
    """`png` with `extra` chunks just after IHDR, as a provider's metadata would be."""
    chunks = read_chunks(png)
    return write_png([chunks[0], *extra, *chunks[1:]])


def _stamped(data: bytes) -> bytes:
    image = received(data)
    assert image.content_type == "image/png"
    return image.data


def _decoded(png: bytes) -> PngImagePlugin.PngImageFile:
    image = Image.open(io.BytesIO(png))
    assert isinstance(image, PngImagePlugin.PngImageFile)
    image.load()
    return image


def _idat(png: bytes) -> bytes:
    return b"".join(chunk.data for chunk in read_chunks(png) if chunk.type == b"IDAT")


@pytest.mark.parametrize("mode", ["1", "L", "LA", "I;16", "P", "RGB", "RGBA"])
def test_a_png_keeps_its_image_data_byte_for_byte_and_no_text(mode: str) -> None:
    original = _png(_noise(mode), pnginfo=_text_info())
    assert _decoded(original).text
    stamped = _stamped(original)
    assert _idat(stamped) == _idat(original)  # never re-encoded
    result, source = _decoded(stamped), _decoded(original)
    assert result.text == {}
    assert (result.mode, result.size) == (source.mode, source.size)
    assert result.tobytes() == source.tobytes()


def test_the_providers_text_exif_and_private_chunks_go_and_rendering_chunks_stay() -> None:
    original = _with(
        _png(_noise("RGB")),
        Chunk(b"tEXt", b"parameters\0" + PROMPT.encode()),
        Chunk(b"iTXt", b"revised_prompt\0\0\0\0\0" + PROMPT.encode()),
        Chunk(b"zTXt", b"Comment\0\0" + zlib.compress(PROMPT.encode())),
        Chunk(b"eXIf", b"MM\0*" + PROMPT.encode()),
        Chunk(b"prVt", PROMPT.encode()),  # a private chunk a provider may add
        Chunk(b"gAMA", struct.pack(">I", 45455)),
        Chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)),
    )
    stamped = _stamped(original)
    assert b"Jane" not in stamped
    assert [c.type for c in read_chunks(stamped) if c.type not in (b"tEXt", b"IDAT")] == [
        b"IHDR",
        b"gAMA",
        b"pHYs",
        b"IEND",
    ]
    assert _decoded(stamped).text == {}


def test_a_palette_image_keeps_its_palette_and_transparency() -> None:
    original = _png(_noise("P"), transparency=3)
    result, source = _decoded(_stamped(original)), _decoded(original)
    assert result.convert("RGBA").tobytes() == source.convert("RGBA").tobytes()


def _interlaced(width: int, height: int) -> tuple[bytes, bytes]:
    """An 8-bit greyscale Adam7 PNG, written by hand, and its pixels row by row."""
    rng = random.Random(width * 1000 + height)
    pixels = [[rng.randrange(256) for _ in range(width)] for _ in range(height)]
    raw = bytearray()
    # The table of passes is the module's; Pillow decoding the file checks it.
    for column, row, column_step, row_step in ADAM7_PASSES:
        columns = range(column, width, column_step)
        if not columns:
            continue
        for y in range(row, height, row_step):
            raw += bytes([0, *(pixels[y][x] for x in columns)])
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1)
    chunks = [Chunk(b"IHDR", header), Chunk(b"IDAT", zlib.compress(bytes(raw)))]
    png = write_png([*chunks, Chunk(b"IEND", b"")])
    return png, bytes(value for row_pixels in pixels for value in row_pixels)


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (5, 9), (8, 8), (17, 5)])
def test_an_interlaced_png_is_checked_by_the_size_of_every_pass(size: tuple[int, int]) -> None:
    png, pixels = _interlaced(*size)
    assert _decoded(png).tobytes() == pixels  # Pillow agrees the file is what we wrote
    assert _decoded(_stamped(png)).tobytes() == pixels
    short = write_png(
        [*read_chunks(png)[:1], Chunk(b"IDAT", zlib.compress(b"\0")), Chunk(b"IEND", b"")]
    )
    with pytest.raises(ProviderError, match="not the size its header gives"):
        _stamped(short)


def _refusal(data: bytes) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        received(data)
    assert raised.value.retryable
    assert str(raised.value).startswith("malformed_response: the image is unreadable")
    return raised.value


def test_a_png_cut_short_anywhere_is_refused() -> None:
    png = _png(_noise("RGB", (64, 64)))
    for end in range(8, len(png), max(1, len(png) // 40)):
        _refusal(png[:end])
    _refusal(png[:-1])  # IEND's CRC incomplete


def test_a_changed_byte_fails_its_chunk_crc_and_a_recomputed_crc_fails_the_inflate() -> None:
    png = _png(_noise("RGB", (64, 64)))
    chunks = read_chunks(png)
    data = bytearray(chunks[1].data)
    data[len(data) // 2] ^= 0xFF
    position = png.index(bytes(chunks[1].data))
    flipped = png[:position] + bytes(data) + png[position + len(data) :]
    assert "fails its CRC" in str(_refusal(flipped))
    forged = write_png([chunks[0], Chunk(b"IDAT", bytes(data)), *chunks[2:]])
    message = str(_refusal(forged))
    assert "does not inflate" in message or "not the size" in message


def test_a_header_promising_more_pixels_than_the_data_holds_is_refused() -> None:
    chunks = read_chunks(_png(_noise("L", (10, 10))))
    taller = Chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 11, 8, 0, 0, 0, 0))
    assert "not the size" in str(_refusal(write_png([taller, *chunks[1:]])))


def test_a_header_for_a_huge_image_is_refused_before_anything_is_inflated() -> None:
    chunks = read_chunks(_png(_noise("L", (10, 10))))
    huge = Chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 6, 0, 0, 0))
    assert "larger than any image" in str(_refusal(write_png([huge, *chunks[1:]])))


def test_bytes_that_are_no_image_are_refused() -> None:
    _refusal(b"<html>502 Bad Gateway</html>")


def _text_info() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", PROMPT)
    return info


def test_a_jpeg_stays_a_jpeg_with_its_scans_and_without_its_metadata() -> None:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = PROMPT  # ImageDescription
    _noise("RGB").save(buffer, format="JPEG", quality=90, comment=PROMPT.encode(), exif=exif)
    original = buffer.getvalue()
    image = received(original)
    assert image.content_type == "image/jpeg"
    assert b"Jane" not in image.data
    decoded = Image.open(io.BytesIO(image.data))
    assert decoded.format == "JPEG"
    assert "exif" not in decoded.info
    assert "comment" not in decoded.info
    assert decoded.tobytes() == Image.open(io.BytesIO(original)).tobytes()  # no re-encode
    assert image.credentialed_original is None  # it carried no manifest


def test_a_webp_stays_a_webp_without_its_exif_and_xmp() -> None:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = PROMPT
    xmp = f"<x:xmpmeta><dc:description>{PROMPT}</dc:description></x:xmpmeta>".encode()
    _noise("RGBA").save(buffer, format="WEBP", lossless=True, exif=exif, xmp=xmp)
    original = buffer.getvalue()
    assert b"Jane" in original
    image = received(original)
    assert image.content_type == "image/webp"
    assert b"Jane" not in image.data
    decoded = Image.open(io.BytesIO(image.data))
    assert decoded.format == "WEBP"
    assert "exif" not in decoded.info
    assert "xmp" not in decoded.info
    assert decoded.tobytes() == Image.open(io.BytesIO(original)).tobytes()


@pytest.mark.parametrize("cut", [20, 100, -3])
def test_a_jpeg_or_webp_cut_short_is_refused(cut: int) -> None:
    for kind in ("JPEG", "WEBP"):
        buffer = io.BytesIO()
        _noise("RGB", (64, 64)).save(buffer, format=kind)
        _refusal(buffer.getvalue()[:cut])
