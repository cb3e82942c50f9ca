"""PNG files at the level of their chunks (the PNG specification, 3rd edition, section 5).

What stripping a provider's metadata needs without decoding pixels: read a file's
chunks with their CRCs checked, check that its image data inflates to exactly the bytes
its header promises, and write chunks back. A truncated or corrupted transfer fails one
of those checks; a file that passes keeps its pixels and their compressed bytes exactly
as they arrived.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from isal import isal_zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Decoded pixels inflate to at most this much: a larger header is refused before any
# inflating, as Pillow refuses a decompression bomb (its limit is ~89 M pixels; the
# largest image any provider here returns is 4096 x 4096).
MAX_IMAGE_DATA = 4096 * 4096 * 8 + 4096
_INFLATE_ERROR = cast(type[Exception], isal_zlib.error)  # its stub calls the class an instance
_INFLATE_STEP = 1 << 20  # bytes inflated at a time: memory stays bounded whatever the file
_HEADER = struct.Struct(">IIBBBBB")
# Bits per pixel per sample, by colour type: greyscale, truecolour, indexed, grey + alpha, RGBA
_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_BIT_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
# Adam7: (first column, first row, column step, row step) of each pass
ADAM7_PASSES: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


class MalformedPng(ValueError):
    """The bytes are not a whole, uncorrupted PNG file."""


@dataclass(frozen=True, slots=True)
class Chunk:
    type: bytes  # four ASCII letters, e.g. b"IDAT"
    data: bytes

    def encoded(self) -> bytes:
        crc = zlib.crc32(self.data, zlib.crc32(self.type))
        return struct.pack(">I", len(self.data)) + self.type + self.data + struct.pack(">I", crc)


def read_chunks(png: bytes) -> list[Chunk]:
    """Every chunk up to and including IEND, each with its CRC checked; bytes after IEND
    are not part of the image and are left out."""
    if not png.startswith(SIGNATURE):
        raise MalformedPng("no PNG signature")
    view = memoryview(png)
    chunks: list[Chunk] = []
    offset = len(SIGNATURE)
    while True:
        if offset + 12 > len(png):
            raise MalformedPng("truncated before IEND")
        (length,) = struct.unpack_from(">I", png, offset)
        end = offset + 12 + length
        if end > len(png):
            raise MalformedPng("truncated inside a chunk")
        type_ = png[offset + 4 : offset + 8]
        data = view[offset + 8 : end - 4]
        (crc,) = struct.unpack_from(">I", png, end - 4)
        if zlib.crc32(data, zlib.crc32(type_)) != crc:
            raise MalformedPng(f"chunk {type_.decode('latin-1')!r} fails its CRC")
        chunks.append(Chunk(type_, data.tobytes()))
        offset = end
        if type_ == b"IEND":
            return chunks


def check_image_data(chunks: Sequence[Chunk]) -> None:
    """IHDR first and valid, and the IDAT chunks one zlib stream that inflates to exactly
    the size IHDR implies (every scanline, with its filter byte)."""
    if not chunks or chunks[0].type != b"IHDR" or len(chunks[0].data) != _HEADER.size:
        raise MalformedPng("IHDR is not the first chunk")
    width, height, depth, colour, compression, filtering, interlace = _HEADER.unpack(chunks[0].data)
    if depth not in _BIT_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        raise MalformedPng("IHDR holds values PNG does not define")
    if width == 0 or height == 0:
        raise MalformedPng("the image has no pixels")
    expected = _image_data_size(width, height, depth * _SAMPLES[colour], interlaced=interlace == 1)
    if expected > MAX_IMAGE_DATA:
        raise MalformedPng(f"{width}x{height} is larger than any image accepted here")
    # ISA-L inflates the same zlib stream in about half zlib's CPU (5 against 11 ms for a
    # 1024x1024 photograph), and keeps to the same bounded steps.
    inflater = isal_zlib.decompressobj()
    produced = 0
    try:
        for chunk in chunks:
            if chunk.type != b"IDAT":
                continue
            pending = chunk.data
            while produced <= expected:
                inflated = inflater.decompress(pending, _INFLATE_STEP)
                produced += len(inflated)
                pending = inflater.unconsumed_tail
                if not pending and len(inflated) < _INFLATE_STEP:
                    break  # this chunk's input used up and no output held back
    except _INFLATE_ERROR as error:
        raise MalformedPng(f"the image data does not inflate ({error})") from error
    if not inflater.eof or produced != expected:
        raise MalformedPng("the image data is not the size its header gives")


def _image_data_size(width: int, height: int, bits_per_pixel: int, *, interlaced: bool) -> int:
    """Bytes of filtered scanlines: each row's bytes plus its filter-type byte."""
    if not interlaced:
        return height * (1 + (width * bits_per_pixel + 7) // 8)
    size = 0
    for column, row, column_step, row_step in ADAM7_PASSES:
        columns = (width - column + column_step - 1) // column_step
        rows = (height - row + row_step - 1) // row_step
        if columns > 0 and rows > 0:
            size += rows * (1 + (columns * bits_per_pixel + 7) // 8)
    return size


def write_png(chunks: Iterable[Chunk]) -> bytes:
    return SIGNATURE + b"".join(chunk.encoded() for chunk in chunks)
