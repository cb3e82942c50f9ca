"""The `local` provider: renders a real PNG on this machine, offline and in milliseconds.

It stands in for a model in the embedded default and in tests, so the whole pipeline
(storage, hashing, charging) handles real image bytes without a cloud account. The
picture is abstract art derived from the request, never a drawing of the prompt.

Why it looks the way it does: PNG encoding dominates the cost, so the image is a
single-channel field mapped through a 256-colour palette (a third of the bytes of
RGB), composed smoothly at low resolution and enlarged by repeating pixels. The
repetition makes each row a copy of the one above for most of the picture, which zlib
encodes several times faster and smaller than a smooth enlargement (45 KiB rather
than 175 KiB at 1024x1024), and the enlargement itself costs a tenth as much.
"""

from __future__ import annotations

import hashlib
import random

from PIL import Image, ImageDraw

from adapters.image_formats import PNG
from adapters.providers.provenance import encode_png
from services.ports import GeneratedImage, ImageRequest, ProviderError

MAX_SIDE = 4096
# Level 1 is ~2x faster than zlib's default 6 for ~1.5x the bytes on these images.
COMPRESS_LEVEL = 1

_CANVAS_SIDE = {"standard": 128, "hd": 256}
_SHAPES = {"standard": 10, "hd": 28}
_PALETTE_STOPS = 4


def _digest(*fields: str) -> bytes:
    # Length-prefixed so ("ab", "c") and ("a", "bc") never collide.
    hasher = hashlib.sha256()
    for value in fields:
        encoded = value.encode("utf-8")
        hasher.update(len(encoded).to_bytes(8, "big"))
        hasher.update(encoded)
    return hasher.digest()


def parse_size(size: str) -> tuple[int, int]:
    """'1024x1792' -> (1024, 1792)."""
    width_text, sep, height_text = size.partition("x")
    if not (sep and width_text.isdigit() and height_text.isdigit()):
        raise ProviderError(f"size {size!r} is not WIDTHxHEIGHT", retryable=False)
    width, height = int(width_text), int(height_text)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ProviderError(f"size {size!r} is out of range", retryable=False)
    return width, height


def _palette(rng: random.Random, vivid: bool) -> bytes:
    """A smooth 256-entry gradient through a few seeded colour stops."""
    stops = Image.new("RGB", (_PALETTE_STOPS, 1))
    for index in range(_PALETTE_STOPS):
        rgb = [rng.randrange(256) for _ in range(3)]
        if not vivid:  # natural: pull each colour halfway towards its grey
            grey = sum(rgb) / 3
            rgb = [round((channel + grey) / 2) for channel in rgb]
        stops.putpixel((index, 0), (rgb[0], rgb[1], rgb[2]))
    # Stretching the row of stops interpolates between them in C; the box runs from the
    # first stop's centre to the last's, so the ends are (nearly) the stops themselves.
    gradient = stops.resize(
        (256, 1), Image.Resampling.BILINEAR, box=(0.5, 0, _PALETTE_STOPS - 0.5, 1)
    )
    return gradient.tobytes()


def _field(rng: random.Random, width: int, height: int, quality: str) -> Image.Image:
    """The tone field at canvas resolution: a soft gradient under translucent shapes."""
    canvas_width = _CANVAS_SIDE[quality]
    canvas_height = max(1, round(canvas_width * height / width))
    grid = Image.frombytes("L", (4, 4), bytes(rng.randrange(256) for _ in range(16)))
    field = grid.resize((canvas_width, canvas_height), Image.Resampling.BICUBIC)
    shortest = min(canvas_width, canvas_height)
    for _ in range(_SHAPES[quality]):
        mask = Image.new("L", field.size, 0)
        draw = ImageDraw.Draw(mask)
        x, y = rng.randrange(canvas_width), rng.randrange(canvas_height)
        radius = rng.randrange(max(2, shortest // 16), max(3, shortest // 3))
        opacity = rng.randrange(60, 180)
        if rng.random() < 0.5:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=opacity)
        else:
            sides = rng.randrange(3, 7)
            draw.regular_polygon((x, y, radius), sides, rotation=rng.randrange(360), fill=opacity)
        field.paste(rng.randrange(256), (0, 0, canvas_width, canvas_height), mask)
    return field


class LocalProvider:
    """Deterministic: the same (generation, model, prompt) always gives the same pixels."""

    name = "local"

    def generate(self, request: ImageRequest) -> GeneratedImage:
        width, height = parse_size(request.size)
        # Art, not secrets: a seeded PRNG is what makes the output reproducible.
        seed = _digest(request.generation_id, request.model_id, request.prompt)
        rng = random.Random(seed)  # noqa: S311
        image = _field(rng, width, height, request.quality)
        image = image.resize((width, height), Image.Resampling.NEAREST)
        image.putpalette(_palette(rng, vivid=request.style != "natural"))

        png = encode_png(image, COMPRESS_LEVEL)  # Pillow writes no metadata unasked
        # Derived without the prompt: the id lands in logs and must not fingerprint it.
        request_id = _digest(request.generation_id, request.model_id).hex()[:24]
        return GeneratedImage(data=png, content_type=PNG, provider_request_id=f"local-{request_id}")
