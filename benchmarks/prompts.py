"""A varied, reproducible set of image prompts for the pipeline benchmark.

Short and long, plain and with personal data in the formats screening looks for
(names, emails, phone numbers, Australian identifiers, cards, addresses, IPs, URLs), so
the latency figures are not those of one easy sentence. `blocked` marks the prompts the
default policy rejects; the end-to-end run uses the others, which all get an image.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SUBJECTS = (
    "a red fox in the snow",
    "a lighthouse on a cliff at dusk",
    "an astronaut riding a horse across a desert",
    "a bowl of ramen with steam rising",
    "the Sydney Opera House under a storm",
    "a cyberpunk street market in the rain",
    "a watercolour of gum trees beside a creek",
    "a corgi wearing a tiny crown",
    "an isometric diagram of a small office",
    "a koala reading a newspaper on a tram",
    "a bakery window full of croissants",
    "a surfer at sunrise on a glassy wave",
    "a vintage travel poster of Hobart",
    "a low-poly mountain range with a river",
    "a product photo of a ceramic mug on linen",
)
STYLES = (
    "",
    "in the style of an oil painting",
    "photorealistic, 35mm, shallow depth of field",
    "flat vector illustration, pastel colours",
    "dramatic lighting, highly detailed, trending on an art site",
    "as a pencil sketch with cross-hatching",
)
DETAILS = (
    "",
    "Wide shot, the horizon a third of the way up, warm colours, soft shadows, and a "
    "little mist in the distance so the background fades gently.",
    "For our spring campaign banner; keep the left half empty for copy and make the "
    "palette match our teal and sand brand colours.",
)
# (text to append, blocked by the default policy)
PERSONAL = (
    ("with John Smith standing in the foreground", False),
    ("for Priya Raghunathan's birthday card", False),
    ("send it to jane.citizen@example.com.au when done", False),
    ("call me on 0412 345 678 if it fails", False),
    ("our office number is +61 2 9876 5432", False),
    ("for the client with ABN 51 824 753 556", False),
    ("for company ACN 004 085 616", False),
    ("the server is at 10.20.30.40, render a diagram of it", False),
    ("like the banner on https://example.org/spring", False),
    ("at 42 Wallaby Way, Sydney NSW 2000", False),
    ("paid with card 4111 1111 1111 1111", True),
    ("my TFN is 123 456 782", True),
    ("Medicare 2123 45670 1", True),
    ("transfer from GB82 WEST 1234 5698 7654 32", True),
)


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    has_personal_data: bool
    blocked: bool


def prompt_set(count: int = 240, seed: int = 4) -> list[Prompt]:
    """`count` prompts, about a third carrying personal data."""
    rng = random.Random(seed)
    prompts = []
    for index in range(count):
        parts = [rng.choice(SUBJECTS), rng.choice(STYLES), rng.choice(DETAILS)]
        personal, blocked = rng.choice(PERSONAL) if index % 3 == 0 else ("", False)
        if personal:
            parts.insert(rng.randrange(1, 4), personal)
        text = ", ".join(part for part in parts if part)
        prompts.append(Prompt(text, bool(personal), blocked))
    return prompts
