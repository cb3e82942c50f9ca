"""PNG, JPEG and WebP at the level of their containers: which format a file is, and the
file without its metadata, its pixels' bytes untouched.

A provider's text chunks, EXIF, XMP and private segments may hold the prompt or a
revision of it, so none of them reaches a served file. What says how to show the pixels
stays (colour profile, transparency, gamma, pixel size). A C2PA manifest is removed as
well, and reported: the caller keeps the original file as the signed ingredient of our
own manifest, which is where the provider's credential lives on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from adapters.providers.png_chunks import (
    SIGNATURE,
    MalformedPng,
    check_image_data,
    read_chunks,
    write_png,
)

PNG, JPEG, WEBP = "image/png", "image/jpeg", "image/webp"

# PNG chunks kept: the critical ones, and those that change how the pixels look.
_PNG_KEPT = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_PNG_KEPT |= {b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"pHYs", b"cICP"}
_PNG_MANIFEST = b"caBX"
# JPEG markers kept before the first scan: frame headers (SOF0-15 but DHT, JPG and DAC,
# which are kept too as tables), quantisation and Huffman tables, restart interval.
_JPEG_TABLES = frozenset(range(0xC0, 0xD0)) | {0xDB, 0xDD}
_JPEG_APP0, _JPEG_APP2, _JPEG_APP11, _JPEG_APP14, _JPEG_SOS = 0xE0, 0xE2, 0xEB, 0xEE, 0xDA
# WebP chunks kept: image data, alpha, animation, colour profile, and the extended header.
_WEBP_KEPT = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_WEBP_MANIFEST = b"C2PA"
_VP8X_EXIF_XMP = 0x08 | 0x04  # the VP8X flags announcing EXIF and XMP chunks


class MalformedImage(ValueError):
    """The bytes are not a whole PNG, JPEG or WebP file."""


@dataclass(frozen=True, slots=True)
class Stripped:
    data: bytes
    content_type: str
    had_manifest: bool


def sniff(data: bytes) -> str | None:
    """The content type the file's signature names, or None."""
    if data.startswith(SIGNATURE):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def strip_metadata(data: bytes) -> Stripped:
    """`data` without metadata. PNG image data is checked to inflate whole; JPEG and
    WebP are checked at the container level only (the caller decodes them)."""
    content_type = sniff(data)
    if content_type == PNG:
        return _strip_png(data)
    if content_type == JPEG:
        return _strip_jpeg(data)
    if content_type == WEBP:
        return _strip_webp(data)
    raise MalformedImage("not a PNG, JPEG or WebP file")


def _strip_png(data: bytes) -> Stripped:
    try:
        chunks = read_chunks(data)
        check_image_data(chunks)
    except MalformedPng as error:
        raise MalformedImage(str(error)) from error
    kept = [chunk for chunk in chunks if chunk.type in _PNG_KEPT]
    had_manifest = any(chunk.type == _PNG_MANIFEST for chunk in chunks)
    return Stripped(write_png(kept), PNG, had_manifest)


def _strip_jpeg(data: bytes) -> Stripped:
    kept = [b"\xff\xd8"]
    had_manifest = False
    offset = 2
    while True:
        if offset + 4 > len(data) or data[offset] != 0xFF:
            raise MalformedImage("JPEG segments end before the first scan")
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        (length,) = struct.unpack_from(">H", data, offset + 2)
        end = offset + 2 + length
        if length < 2 or end > len(data):
            raise MalformedImage("a JPEG segment runs past the end of the file")
        if marker == _JPEG_SOS:
            scans = data[offset:]
            if not scans.rstrip(b"\x00").endswith(b"\xff\xd9"):
                raise MalformedImage("the JPEG has no end-of-image marker")
            return Stripped(b"".join(kept) + scans, JPEG, had_manifest)
        payload = data[offset + 4 : end]
        had_manifest |= marker == _JPEG_APP11 and b"jumb" in payload[:32]
        if marker in _JPEG_TABLES or _kept_jpeg_app(marker, payload):
            kept.append(data[offset:end])
        offset = end


def _kept_jpeg_app(marker: int, payload: bytes) -> bool:
    return (
        (marker == _JPEG_APP0 and payload.startswith(b"JFIF\x00"))
        or (marker == _JPEG_APP2 and payload.startswith(b"ICC_PROFILE\x00"))
        or (marker == _JPEG_APP14 and payload.startswith(b"Adobe"))  # its colour transform
    )


def _strip_webp(data: bytes) -> Stripped:
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size + 8 > len(data):
        raise MalformedImage("the WebP file is truncated")
    kept: list[bytes] = []
    had_manifest = False
    offset = 12
    while offset + 8 <= riff_size + 8:
        fourcc = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        end = offset + 8 + size + (size & 1)
        if end > len(data):
            raise MalformedImage("a WebP chunk runs past the end of the file")
        had_manifest |= fourcc == _WEBP_MANIFEST
        if fourcc == b"VP8X":
            flags = data[offset + 8] & ~_VP8X_EXIF_XMP
            kept.append(data[offset : offset + 8] + bytes([flags]) + data[offset + 9 : end])
        elif fourcc in _WEBP_KEPT:
            kept.append(data[offset:end])
        offset = end
    if not any(chunk[:4] in (b"VP8 ", b"VP8L", b"ANMF") for chunk in kept):
        raise MalformedImage("the WebP file has no image data")
    body = b"WEBP" + b"".join(kept)
    return Stripped(b"RIFF" + struct.pack("<I", len(body)) + body, WEBP, had_manifest)
