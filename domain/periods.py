"""Budget months are calendar months in Australia/Sydney; storage time is UTC."""

from datetime import datetime
from zoneinfo import ZoneInfo

BUDGET_TIMEZONE = ZoneInfo("Australia/Sydney")


def budget_period(moment: datetime) -> str:
    """`YYYY-MM` of the Sydney month that contains the (aware) instant `moment`."""
    if moment.tzinfo is None:
        raise ValueError("budget_period needs an aware datetime")
    local = moment.astimezone(BUDGET_TIMEZONE)
    # Not strftime: glibc's %Y does not pad, so the year 8 would give "8-07", not a period.
    return f"{local.year:04d}-{local.month:02d}"


def is_period(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m")
    except ValueError:
        return False
    return len(text) == 7
