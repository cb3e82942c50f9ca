"""Money is Decimal AUD, carried as strings in JSON; never a float."""

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer

ZERO = Decimal("0")

# Decimal that always serialises as a plain string (`"12.50"`, never `1.25E+1`).
AUD = Annotated[Decimal, PlainSerializer(lambda amount: format(amount, "f"), return_type=str)]


def percent_of(amount: Decimal, limit: Decimal) -> Decimal:
    if limit <= ZERO:
        return Decimal("100") if amount > ZERO else ZERO
    return amount * 100 / limit
