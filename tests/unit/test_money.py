"""Amounts in request bodies: plain decimal text only, read by the one parser in
domain/money.py, and a 422 problem naming the field for anything else."""

from __future__ import annotations

import json
import typing
from decimal import Decimal
from typing import Any

import azure.functions as func
import pytest
from pydantic import BaseModel

from domain.money import parse_amount
from functions.api_routes import OPERATIONS
from functions.http_support import parse_body
from functions.problems import Problem
from services.budgets import BudgetUpdate

LOOSE = [
    "\uff15",  # a fullwidth 5: Decimal reads any Unicode digit
    "1_000",  # Decimal takes underscores as in Python literals
    "1E+2",
    "1e2",
    "-0.00",  # would be stored as a negative zero
    "-1",
    "+1",
    " 5",
    "5 ",
    "12\n",
    ".5",
    "5.",
    "0.001",  # budgets are to the cent
    "1234567890123",  # past twelve digits
    "NaN",
    "Infinity",
    "",
    "0x10",
    "١٢",  # Arabic-Indic digits
]


def put_budget(body: dict[str, Any]) -> BudgetUpdate:
    request = func.HttpRequest(
        method="PUT",
        url="http://localhost/api/v1/budgets/marketing",
        headers={"Content-Type": "application/json"},
        body=json.dumps(body).encode(),
    )
    return parse_body(request, BudgetUpdate, 1_048_576)


@pytest.mark.parametrize("text", LOOSE)
def test_loose_amount_text_is_a_422_naming_the_field(text: str) -> None:
    with pytest.raises(Problem) as raised:
        put_budget({"monthly_limit_aud": text})
    problem = raised.value
    assert (problem.kind.status, problem.kind.slug) == (422, "validation-error")
    assert problem.errors is not None
    assert [error["loc"] for error in problem.errors] == [["monthly_limit_aud"]]
    assert "decimal string" in problem.errors[0]["msg"]


@pytest.mark.parametrize("number", [12.5, 100, 0, True, None])
def test_json_numbers_and_other_types_are_refused(number: object) -> None:
    with pytest.raises(Problem) as raised:
        put_budget({"monthly_limit_aud": number})
    assert raised.value.errors is not None
    assert raised.value.errors[0]["loc"] == ["monthly_limit_aud"]


@pytest.mark.parametrize(
    "text", ["0", "0.00", "5", "12.5", "12.50", "500.00", "999999999999.99", "007"]
)
def test_plain_decimal_text_is_read_exactly(text: str) -> None:
    parsed = put_budget({"monthly_limit_aud": text})
    assert parsed.monthly_limit_aud == Decimal(text)
    assert parsed.model_dump(mode="json")["monthly_limit_aud"] == str(Decimal(text))


def test_a_zero_is_never_negative() -> None:
    assert not put_budget({"monthly_limit_aud": "0.00"}).monthly_limit_aud.is_signed()
    with pytest.raises(ValueError):
        parse_amount(Decimal("-0.00"))  # code's Decimals meet the same rule


def _decimal_fields(model: type[BaseModel]) -> typing.Iterator[tuple[str, Any]]:
    for name, field in model.model_fields.items():
        for inner in (field.annotation, *typing.get_args(field.annotation)):
            if inner is Decimal:
                yield name, field
            elif isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from _decimal_fields(inner)


def test_every_amount_in_a_request_body_goes_through_the_one_parser() -> None:
    amounts = [
        (operation.function, name, field)
        for operation in OPERATIONS
        if operation.body is not None
        for name, field in _decimal_fields(operation.body)
        if name.endswith("_aud")
    ]
    assert amounts, "no amount found: the walk is broken"
    for function, name, field in amounts:
        parsers = [getattr(m, "func", None) for m in field.metadata]
        assert parse_amount in parsers, f"{function}: {name} is not read by parse_amount"
