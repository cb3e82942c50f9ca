"""Provenance benchmark: stamping a provider's PNG, ours beside a decode and re-encode.

Run: `python -m benchmarks.stamp [--repeats N]` (about 10 s).

Each remote provider's image passes through `adapters.providers.provenance.stamp` once
per generation. Ours reads the file's chunks, checks their CRCs and that the image data
inflates to the size its header gives, and writes the file back with our text chunks.
The peer is what a PNG library does to add text: Pillow decodes the pixels and encodes
them again with the text (`Image.save(..., pnginfo=...)`, zlib level 6, Pillow's
default), which is what `stamp` did before. Both run on the same files in this run:
photograph-like images (smooth gradients under sensor-like noise, which compress about
as badly as photographs do) at the sizes providers return. CPU time per image, best of
`--repeats`.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from PIL import Image, ImageFilter
from PIL.PngImagePlugin import PngInfo

from adapters.providers.provenance import stamp
from services.ports import ImageRequest

SIZES = ((1024, 1024), (1792, 1024))
AT = datetime(2026, 11, 3, tzinfo=UTC)


def photograph(width: int, height: int, seed: int = 1) -> bytes:
    """A PNG that compresses like a photograph: gradients, shapes, and noise."""
    rng = random.Random(seed)
    gradient = Image.linear_gradient("L").resize((width, height))
    red = gradient.rotate(rng.randrange(360)).resize((width, height))
    noise = Image.effect_noise((width, height), 24).filter(ImageFilter.GaussianBlur(0.6))
    image = Image.merge("RGB", (red, gradient, Image.blend(gradient, noise, 0.4)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def reencode(data: bytes, request: ImageRequest) -> bytes:
    """The peer: decode the pixels, encode them again with the text chunks."""
    image = Image.open(io.BytesIO(data))
    image.load()
    info = PngInfo()
    info.add_text("generation_id", request.generation_id)
    info.add_text("model_id", request.model_id)
    info.add_text("created_at", AT.isoformat())
    info.add_text("generator", "benchmark")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def best_cpu_ms(repeats: int, work: Callable[[bytes], bytes], data: bytes) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        work(data)
        best = min(best, time.process_time() - started)
    return best * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the best counts")
    args = parser.parse_args(argv)
    request = ImageRequest("gen-1", "model-a", "", "1024x1024", "standard", None)
    print("| image | bytes in | ours: chunks, CPU ms | peer: decode + re-encode, CPU ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for width, height in SIZES:
        data = photograph(width, height)
        ours = best_cpu_ms(
            args.repeats,
            partial(stamp, request=request, created_at=AT, generator="benchmark"),
            data,
        )
        peer = best_cpu_ms(args.repeats, partial(reencode, request=request), data)
        print(
            f"| {width}x{height} | {len(data):,} | {ours:.2f} | {peer:.1f} |"
            f" {peer / max(ours, 1e-9):.0f}x faster |"
        )


if __name__ == "__main__":
    main()
