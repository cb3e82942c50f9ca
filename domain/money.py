"""Money is Decimal AUD, carried as strings in JSON; never a float."""

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer

ZERO = Decimal("0")
# Catalogue prices are quoted to the ten-thousandth of a dollar, so every amount shown
# has at least that many places: "0.0000", "500.0000", never "0" beside "0.0100".
SHOWN_PLACES = Decimal("0.0001")
_SHOWN_EXPONENT = -4

# Decimal that always serialises as a plain string (`"12.50"`, never `1.25E+1`).
AUD = Annotated[Decimal, PlainSerializer(lambda amount: format(amount, "f"), return_type=str)]


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
