"""The catalogue as data: AUD prices follow the stated list prices and rate, and every
model prices exactly what it offers."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from domain.catalogue import default_catalogue, parse_catalogue


def _data() -> dict[str, Any]:
    text = resources.files("domain").joinpath("catalogue.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _model(data: dict[str, Any], model_id: str) -> dict[str, Any]:
    return next(m for m in data["models"] if m["id"] == model_id)


def test_the_catalogue_states_its_exchange_rate_and_where_it_came_from() -> None:
    catalogue = default_catalogue()
    assert catalogue.currency == "AUD"
    assert catalogue.fx.aud_per_usd == Decimal("1.55")
    assert catalogue.fx.source


def test_list_prices_convert_at_the_stated_rate_rounded_half_up() -> None:
    catalogue = default_catalogue()
    flux = catalogue.get("replicate-flux-schnell")
    assert flux is not None
    assert flux.list_prices_usd == {"1024x1024": {"standard": Decimal("0.003")}}
    assert flux.price("1024x1024", "standard") == Decimal("0.0047")  # 0.00465 rounds up
    gpt = catalogue.get("openai-gpt-image-1")
    assert gpt is not None
    assert gpt.price("1024x1024", "hd") == Decimal("0.2589")  # 0.167 x 1.55 = 0.25885


def test_an_aud_price_that_does_not_follow_its_list_price_is_refused() -> None:
    data = _data()
    _model(data, "openai-gpt-image-1")["prices_aud"]["1024x1024"]["standard"] = "0.0650"
    with pytest.raises(ValidationError, match="openai-gpt-image-1: prices_aud must be"):
        parse_catalogue(json.dumps(data))


def test_a_new_rate_must_be_carried_into_the_prices() -> None:
    data = _data()
    data["fx"]["aud_per_usd"] = "1.60"
    with pytest.raises(ValidationError, match=r"at 1\.60 AUD per USD"):
        parse_catalogue(json.dumps(data))


def test_a_model_prices_exactly_the_sizes_and_qualities_it_offers() -> None:
    data = _data()
    _model(data, "openai-gpt-image-1")["sizes"].append("1792x1024")
    with pytest.raises(ValidationError, match="must price exactly its sizes x qualities"):
        parse_catalogue(json.dumps(data))


def test_a_price_without_a_list_price_says_where_it_comes_from() -> None:
    data = _data()
    del _model(data, "firefly-image-3")["notes"]
    with pytest.raises(ValidationError, match="firefly-image-3: a model without list prices"):
        parse_catalogue(json.dumps(data))


def test_gpt_image_1_offers_only_the_size_it_delivers() -> None:
    gpt = default_catalogue().get("openai-gpt-image-1")
    assert gpt is not None
    assert gpt.sizes == ("1024x1024",)
    assert gpt.price("1792x1024", "standard") is None
