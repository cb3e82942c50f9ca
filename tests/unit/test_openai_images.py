"""The drop-in face's pure decisions: OpenAI's parameters onto the catalogue, and the
outcome of a request's generations onto OpenAI's error codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from domain import generation
from domain.catalogue import default_catalogue, parse_catalogue
from domain.envelope import GENESIS_HASH, Actor, Event, NewEvent, record
from domain.generation import (
    GenerationFailed,
    GenerationRejected,
    GenerationRequested,
    Payload,
    PromptRejected,
    SealedText,
)
from domain.openai_images import ImagesRequest, Mapped, Refusal, Unsupported, map_request, outcome

CATALOGUE = default_catalogue()


def mapped(deployment: str | None = None, **params: Any) -> Mapped:
    return map_request(ImagesRequest(prompt="a kite", **params), CATALOGUE, deployment)


def test_defaults_are_routing_at_the_square_standard_image_as_a_url() -> None:
    assert mapped() == Mapped(None, "1024x1024", "standard", None, "url")
    assert mapped(model="auto", size="auto") == mapped()


def test_openai_names_map_through_the_catalogue_with_their_familys_words() -> None:
    gpt = mapped(model="gpt-image-1", quality="high")
    assert (gpt.model, gpt.quality, gpt.response_format) == ("openai-gpt-image-1", "hd", "b64_json")
    assert mapped(model="gpt-image-1", quality="auto").quality == "standard"
    dalle = mapped(model="dall-e-3", quality="hd", size="1024x1792")
    assert (dalle.model, dalle.size, dalle.quality) == ("azure-openai-dall-e-3", "1024x1792", "hd")
    assert mapped(deployment="dall-e-3", model="ignored-by-azure").model == "azure-openai-dall-e-3"
    assert mapped(model="local-studio", quality="medium").quality == "standard"


@pytest.mark.parametrize(
    ("params", "deployment", "param"),
    [
        ({"quality": "low"}, None, "quality"),
        ({"model": "gpt-image-1", "quality": "hd"}, None, "quality"),
        ({"model": "dall-e-3", "quality": "medium"}, None, "quality"),
        ({"model": "gpt-image-1", "size": "1536x1024"}, None, "size"),
        ({"model": "gpt-image-1", "size": "1792x1024"}, None, "size"),  # catalogue: square only
        ({"size": "256x256"}, None, "size"),
        ({"model": "dall-e-2"}, None, "model"),
        ({}, "no-such-deployment", "deployment"),
    ],
)
def test_what_cannot_be_honoured_names_its_parameter(
    params: dict[str, Any], deployment: str | None, param: str
) -> None:
    with pytest.raises(Unsupported) as refused:
        mapped(deployment, **params)
    assert refused.value.param == param


def test_unsupported_values_and_unknown_parameters_fail_validation() -> None:
    for bad in ({"background": "transparent"}, {"output_format": "webp"}, {"n": 11}):
        with pytest.raises(ValueError, match="validation error"):
            ImagesRequest(prompt="a kite", **bad)
    with pytest.raises(ValueError, match="Extra inputs"):
        ImagesRequest.model_validate({"prompt": "a kite", "partial_images": 2})


def test_an_openai_name_may_name_one_catalogue_model_only() -> None:
    document = CATALOGUE.model_dump(mode="json")
    for model in document["models"][:2]:
        model["openai_name"] = "dall-e-3"
    with pytest.raises(ValueError, match="openai_name"):
        parse_catalogue(json.dumps(document))


ACTOR = Actor(user_id="u", roles=())


def state(*payloads: Payload) -> generation.Generation:
    generation_id = uuid4()
    requested = GenerationRequested(
        generation_id=generation_id,
        user_id="u",
        department_id="d",
        prompt=SealedText(subject_id="u", nonce="n", ciphertext="c"),
        size="1024x1024",
        quality="standard",
        request_hash="h",
    )
    events: list[Event] = []
    previous = GENESIS_HASH
    for version, payload in enumerate((requested, *payloads), start=1):
        new = NewEvent(
            type=payload.TYPE,
            data=payload.model_dump(mode="json"),
            actor=ACTOR,
            correlation_id=generation_id,
        )
        event = record(
            new,
            stream_id=f"generation-{generation_id}",
            version=version,
            prev_hash=previous,
            recorded_at=datetime.now(UTC),
        )
        events.append(event)
        previous = event.hash
    return generation.fold(events)


def blocked(reason: str) -> PromptRejected:
    return PromptRejected(reason=reason, findings=(), policy_version="1")


@pytest.mark.parametrize(
    ("payload", "refusal"),
    [
        (blocked("personal_data: CREDIT_CARD"), Refusal.CONTENT_POLICY),
        (blocked("content_policy: violence"), Refusal.CONTENT_POLICY),
        (GenerationRejected(reason="budget_exceeded", detail="hard"), Refusal.INSUFFICIENT_QUOTA),
        (GenerationRejected(reason="no_eligible_model", detail="x"), Refusal.NO_MODEL),
        (GenerationRejected(reason="providers_unavailable", detail="x"), Refusal.UNAVAILABLE),
    ],
)
def test_each_rejection_maps_to_its_openai_code(payload: Payload, refusal: Refusal) -> None:
    rejected = state(payload)
    verdict = outcome([rejected])
    assert verdict.refusal is refusal
    assert str(rejected.requested.generation_id) in verdict.message


def test_all_charged_is_no_refusal_and_a_failure_after_fallback_is_a_provider_error() -> None:
    assert outcome([]).refusal is None
    failed = state(
        GenerationFailed(reason="provider_error: every model failed", model_id="local-sketch")
    )
    verdict = outcome([failed])
    assert verdict.refusal is Refusal.PROVIDER_FAILURE
