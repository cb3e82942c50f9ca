"""The drop-in face: one OpenAI images request as `n` governed generations, waited for.

Each image is a generation submitted exactly as `POST /api/v1/generations` submits one
(screened, routed, reserved, charged and logged under the caller's roles, department
and quota); the face only waits for them and reads their images back.

Retries never charge twice. The `openai` SDK retries a timeout, a dropped connection,
a 429 or a 5xx with the same body and `x-stainless-retry-count` > 0, and sends no
idempotency key of its own. So every attempt's generations are named by an
Idempotency-Key derived from the user, the request's fingerprint, a time window and an
index: a first attempt takes the window's first unused index (an identical request sent
again on purpose is new work), a retry takes the last used one, in this window or the
one before, and so names the first attempt's generations again. An `Idempotency-Key`
header, when the app sends one, names them instead (and, reused for another request,
is refused as natively).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from domain.access import Action, Principal, authorize
from domain.generation import Generation
from domain.openai_images import ImagesRequest, Refusal, outcome
from domain.streams import generation_stream
from services.context import Platform
from services.generation_waits import wait_for_generations
from services.generations import (
    GenerationRequest,
    ImageBytes,
    kept_image,
    keyed_generation_id,
    load_generation,
    stored_image,
    submit_generation,
)
from services.quota import check_quota_for

IMAGE_LINK_KEY_SECRET = "image-link-key"  # noqa: S105 - a secret's name, not a secret
# A retry comes within the SDK's timeout (600 s by default) of its first attempt; two
# windows of this length always hold both.
RETRY_WINDOW_SECONDS = 900
MAX_IDENTICAL_PER_WINDOW = 1000


class FaceRefused(Exception):
    """The generations ended short of charged (or some did): OpenAI's error for why."""

    def __init__(self, refusal: Refusal, message: str, generation_ids: Sequence[UUID]) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.generation_ids = tuple(generation_ids)


@dataclass(frozen=True, slots=True)
class Attempt:
    """How the SDK marked this attempt, and the app's own key if it sent one."""

    retry_count: int = 0
    idempotency_key: str | None = None


def generate_images(
    platform: Platform,
    principal: Principal,
    face: ImagesRequest,
    request: GenerationRequest,
    attempt: Attempt,
    *,
    deployment: str | None = None,
) -> list[Generation]:
    """Submit `face.n` generations of `request`, wait, and answer them all charged.

    Raises FaceRefused when any ended otherwise, WaitExpired when the bound ran out.
    """
    # Before the quota: one who may not generate at all hears that, not "try tomorrow".
    authorize(principal, Action.GENERATION_CREATE, department_id=principal.department_id)
    fingerprint = _fingerprint(face, deployment)
    chain = _chain(platform, principal, fingerprint, attempt)
    new = [k for k in range(face.n) if not _recorded(platform, principal, f"{chain}/{k}")]
    check_quota_for(platform, principal, len(new))
    while True:
        first = submit_generation(platform, principal, request, f"{chain}/0")
        # Only a first attempt can lose its index to an identical request racing it.
        if first.created or attempt.retry_count or attempt.idempotency_key:
            break
        chain = _next_index(chain)
    ids = [first.generation_id]
    ids += [
        submit_generation(platform, principal, request, f"{chain}/{k}").generation_id
        for k in range(1, face.n)
    ]
    states = wait_for_generations(platform, ids, platform.settings.openai_wait_seconds)
    verdict = outcome(states)
    if verdict.refusal is not None:
        raise FaceRefused(verdict.refusal, verdict.message, ids)
    return states


def _fingerprint(face: ImagesRequest, deployment: str | None) -> str:
    body = {"request": face.model_dump(mode="json"), "deployment": deployment}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chain(platform: Platform, principal: Principal, fingerprint: str, attempt: Attempt) -> str:
    """The key prefix naming this request's generations (see the module's docstring)."""
    if attempt.idempotency_key:
        # Not by fingerprint: the key reused for another prompt is a 409, as natively.
        return f"openai/key/{attempt.idempotency_key}"
    window = int(platform.clock().timestamp()) // RETRY_WINDOW_SECONDS

    def used(window: int, index: int) -> bool:
        return _recorded(platform, principal, f"openai/{fingerprint}/{window}/{index}/0")

    def first_unused(window: int) -> int:
        return next(i for i in range(MAX_IDENTICAL_PER_WINDOW) if not used(window, i))

    if attempt.retry_count:
        for earlier in (window, window - 1):
            unused = first_unused(earlier)
            if unused:
                return f"openai/{fingerprint}/{earlier}/{unused - 1}"
    return f"openai/{fingerprint}/{window}/{first_unused(window)}"


def _recorded(platform: Platform, principal: Principal, key: str) -> bool:
    stream_id = generation_stream(
        keyed_generation_id(platform.generation_id_key(), principal.user_id, key)
    )
    return bool(platform.store.read_stream(stream_id))


def _next_index(chain: str) -> str:
    head, index = chain.rsplit("/", 1)
    return f"{head}/{int(index) + 1}"


def image_url(
    platform: Platform, state: Generation, key: Callable[[], bytes], base_url: str
) -> str:
    """A short-lived link to the image: the store's own (SAS) where it can issue one, or
    one signed with `key` (asked for only then: Azure holds no such secret)."""
    image = kept_image(platform, state)
    ttl = platform.settings.image_url_ttl_seconds
    if platform.image_links is not None:
        return platform.image_links.read_url(image.image_ref, timedelta(seconds=ttl))
    generation_id = state.requested.generation_id
    expires = int(platform.clock().timestamp()) + ttl
    signature = _signature(key(), generation_id, expires)
    return f"{base_url}/api/openai/images/{generation_id}?expires={expires}&signature={signature}"


class LinkRefused(Exception):
    """A signed link that is forged, altered or expired (403)."""


def open_signed_image(
    platform: Platform, key: bytes, generation_id: UUID, expires: str, signature: str
) -> ImageBytes:
    if not (expires.isascii() and expires.isdigit() and signature.isascii()):
        raise LinkRefused("not a signed image link")
    if not hmac.compare_digest(_signature(key, generation_id, int(expires)), signature):
        raise LinkRefused("not a signed image link")
    if int(platform.clock().timestamp()) >= int(expires):
        raise LinkRefused("this image link has expired")
    return stored_image(platform, load_generation(platform, generation_id))


def _signature(key: bytes, generation_id: UUID, expires: int) -> str:
    message = f"{generation_id}\n{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
