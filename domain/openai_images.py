"""The OpenAI images API as a face on our generations: its parameters, its refusals.

A request in OpenAI's (or Azure OpenAI's) shape is mapped onto our catalogue's sizes,
qualities and models, or refused with the parameter at fault: nothing is silently
substituted. The outcome of its generations is mapped back onto OpenAI's error codes,
so an app written against the `openai` SDK sees the exception class it already handles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import admission
from domain.catalogue import Catalogue
from domain.generation import Generation, Quality, Size, Status, Style

MAX_IMAGES = 10  # OpenAI's own bound on `n`
AUTO = "auto"
GPT_IMAGE = "gpt-image-1"
DALL_E_3 = "dall-e-3"

# OpenAI's quality words onto ours, per family (gpt-image-1's `medium` is our standard).
_GPT_IMAGE_QUALITY: dict[str, Quality] = {"medium": "standard", "high": "hd", AUTO: "standard"}
_DALL_E_QUALITY: dict[str, Quality] = {"standard": "standard", "hd": "hd"}
_SIZES: dict[str, Size] = {
    "1024x1024": "1024x1024",
    "1024x1792": "1024x1792",
    "1792x1024": "1792x1024",
    AUTO: "1024x1024",  # the one square every catalogue model serves
}


class ImagesRequest(BaseModel):
    """The body of `POST …/images/generations` as far as we take it.

    Parameters we cannot honour are declared so that they are refused by name
    (`unsupported`), rather than accepted and ignored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: str = Field(min_length=1)
    model: str | None = Field(default=None, max_length=100)
    n: int = Field(default=1, ge=1, le=MAX_IMAGES)
    size: str | None = None
    quality: str | None = None
    style: Style | None = None
    response_format: Literal["url", "b64_json"] | None = None
    # Accepted for compatibility; the token already names the user, and this free text
    # (often an e-mail address) is not recorded.
    user: str | None = Field(default=None, max_length=256)
    # Honoured only at the value that is what we do anyway.
    background: Literal["auto", "opaque"] | None = None
    output_format: Literal["png"] | None = None
    moderation: Literal["auto"] | None = None
    stream: Literal[False] | None = None


@dataclass(frozen=True, slots=True)
class Unsupported(Exception):
    """A parameter we cannot honour: 400, naming it."""

    param: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Mapped:
    """What one face request asks of each of its `n` generations."""

    model: str | None  # a catalogue id, or None for our routing
    size: Size
    quality: Quality
    style: Style | None
    response_format: Literal["url", "b64_json"]


def map_request(request: ImagesRequest, catalogue: Catalogue, deployment: str | None) -> Mapped:
    """`request` (and the Azure deployment, which names the model there) in our terms."""
    name = deployment if deployment is not None else request.model
    model, family = _model(name, catalogue, "model" if deployment is None else "deployment")
    size = _SIZES.get(request.size or AUTO)
    if size is None:
        raise Unsupported("size", f"size {request.size!r} is not offered; use one of {_offered()}")
    quality = _quality(request.quality, family)
    if model is not None:
        spec = catalogue.get(model)
        if spec is not None and spec.price(size, quality) is None:
            raise Unsupported(
                "size" if size not in spec.sizes else "quality",
                f"{name} does not serve {size} at {quality} quality",
            )
    response_format = request.response_format or ("b64_json" if family == GPT_IMAGE else "url")
    return Mapped(model, size, quality, request.style, response_format)


def _model(name: str | None, catalogue: Catalogue, param: str) -> tuple[str | None, str | None]:
    """The catalogue id `name` means, and the OpenAI family whose words it speaks."""
    if name is None or name == AUTO:
        return None, None
    spec = catalogue.get(name)
    if spec is not None:
        return name, spec.openai_name
    spec = catalogue.by_openai_name(name)
    if spec is None:
        known = ", ".join(sorted({m.id for m in catalogue.models} | _openai_names(catalogue)))
        raise Unsupported(param, f"no model {name!r}; use auto or one of: {known}")
    return spec.id, name


def _openai_names(catalogue: Catalogue) -> set[str]:
    return {m.openai_name for m in catalogue.models if m.openai_name}


def _quality(word: str | None, family: str | None) -> Quality:
    if word is None:
        return "standard"
    if family == GPT_IMAGE:
        table = _GPT_IMAGE_QUALITY
    elif family == DALL_E_3:
        table = _DALL_E_QUALITY
    else:
        table = {**_GPT_IMAGE_QUALITY, **_DALL_E_QUALITY}
    quality = table.get(word)
    if quality is None:
        raise Unsupported(
            "quality", f"quality {word!r} is not offered here; use one of {sorted(table)}"
        )
    return quality


def _offered() -> list[str]:
    return sorted(_SIZES)


class Refusal(StrEnum):
    """Why a face request's generations did not all end charged, in OpenAI's words."""

    CONTENT_POLICY = "content_policy_violation"  # 400
    INSUFFICIENT_QUOTA = "insufficient_quota"  # 429: a spent hard budget
    NO_MODEL = "model_not_available"  # 400: nothing in the catalogue serves it
    FORBIDDEN = "permission_denied"  # 403
    PROVIDER_FAILURE = "provider_error"  # 502: failed after every fallback
    UNAVAILABLE = "service_unavailable"  # 503: screening or every circuit is down


# The door's refusals (domain/admission.py), answered before any generation is queued.
AT_THE_DOOR: dict[admission.Refusal, Refusal] = {
    admission.Refusal.PROMPT_REJECTED: Refusal.CONTENT_POLICY,
    admission.Refusal.BUDGET_EXHAUSTED: Refusal.INSUFFICIENT_QUOTA,
    admission.Refusal.NO_ELIGIBLE_MODEL: Refusal.NO_MODEL,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    refusal: Refusal | None
    message: str


def outcome(states: Sequence[Generation]) -> Outcome:
    """All charged, or the first refusal among them (each state must be terminal)."""
    for state in states:
        if state.status is Status.CHARGED:
            continue
        reason = state.reason or ""
        generation_id = state.requested.generation_id
        refusal = _refusal(state.status, reason)
        charged = [str(s.requested.generation_id) for s in states if s.status is Status.CHARGED]
        also = f"; charged meanwhile: {', '.join(charged)}" if charged else ""
        return Outcome(refusal, f"generation {generation_id} was {state.status}: {reason}{also}")
    return Outcome(None, "")


def _refusal(status: Status, reason: str) -> Refusal:
    if status is Status.FAILED:
        return Refusal.PROVIDER_FAILURE
    kind = reason.split(":", 1)[0]
    return {
        "personal_data": Refusal.CONTENT_POLICY,
        "content_policy": Refusal.CONTENT_POLICY,
        "budget_exceeded": Refusal.INSUFFICIENT_QUOTA,
        "no_eligible_model": Refusal.NO_MODEL,
        "subject_erased": Refusal.FORBIDDEN,
        "providers_unavailable": Refusal.UNAVAILABLE,
        "moderation_unavailable": Refusal.UNAVAILABLE,
    }.get(kind, Refusal.PROVIDER_FAILURE)
