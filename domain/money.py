"""Money is Decimal AUD, carried as strings in JSON; never a float."""

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

ZERO = Decimal("0")
# Catalogue prices are quoted to the ten-thousandth of a dollar, so every amount shown
# has at least that many places: "0.0000", "500.0000", never "0" beside "0.0100".
SHOWN_PLACES = Decimal("0.0001")
_SHOWN_EXPONENT = -4

# Decimal that always serialises as a plain string (`"12.50"`, never `1.25E+1`).
AUD = Annotated[Decimal, PlainSerializer(lambda amount: format(amount, "f"), return_type=str)]

# The only text an amount may be sent as: ASCII digits, an optional point and cents.
# Python's Decimal also reads a fullwidth "5" (U+FF15), "1_000", "1E+2", " 5 " and
# "-0.00"; nobody writes an amount so on purpose, and "-0.00" would be kept as a negative 0.
PLAIN_AMOUNT = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
_PLAIN_AMOUNT = re.compile(PLAIN_AMOUNT)
_EXPECTED = 'a decimal string of ASCII digits with up to 2 decimals, such as "12.50"'


def parse_amount(value: Any) -> Decimal:
    """An amount sent by a client, from its plain decimal text (or a Decimal in code).

    JSON numbers are refused: a float cannot hold most amounts, and money travels as text.
    """
    if isinstance(value, Decimal):
        text = format(value, "f")  # code's Decimals go through the same rule
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"must be {_EXPECTED}, sent as text")
    if not _PLAIN_AMOUNT.fullmatch(text):
        raise ValueError(f"must be {_EXPECTED}")
    return Decimal(text)


# Every amount in a request body: parsed by `parse_amount`, dumped as plain text.
AmountInput = Annotated[
    AUD,
    BeforeValidator(parse_amount),
    WithJsonSchema({"type": "string", "pattern": PLAIN_AMOUNT, "description": "AUD"}),
]


def percent_of(amount: Decimal, limit: Decimal) -> Decimal:
    if limit <= ZERO:
        return Decimal("100") if amount > ZERO else ZERO
    return amount * 100 / limit


def aud_text(amount: Decimal | str) -> str:
    """An amount as every answer, CSV and notification shows it: at least four decimal
    places, more kept when it has them (never rounded away), never exponent notation."""
    value = Decimal(amount)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > _SHOWN_EXPONENT:
        value = value.quantize(SHOWN_PLACES)
    return format(value, "f")
