"""Budgets as CSV that opens cleanly in a spreadsheet.

RFC 4180 (the csv module's quoting, CRLF line ends), a header row, ISO 8601 dates and
months, and amounts as plain decimal strings: never a float, never exponent notation.

The month's list is one row per department (`LIST_COLUMNS`). One department's month is
a single long table (`DETAIL_COLUMNS`), which a pivot table or a filter on `dimension`
takes apart without any reshaping:

- `summary`: `limit`, `spent`, `reserved`, `remaining` and `forecast` (to month end);
- `day`: the spend charged on each Sydney day, keyed by ISO date, in date order;
- `model`: the spend per model id; `user`: the spend per user id.

The `day`, `model` and `user` rows each sum to `spent`.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a formula (and a tab or
carriage return can hide such a start), and quoting does not stop them: `"=1+1"` still
computes. User ids come from identity tokens, so every text cell starting with one of
those characters is written with a leading apostrophe, which spreadsheets read as
"this is text". Amounts are never prefixed: they are formatted here from Decimal, so
they hold only digits, a point and perhaps a minus sign, and `-1.50` is a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from domain.money import aud_text

LIST_COLUMNS = (
    "period",
    "department_id",
    "enforcement",
    "strategy",
    "limit_aud",
    "spent_aud",
    "reserved_aud",
    "remaining_aud",
    "forecast_aud",
    "forecast_over_limit",
    "charged_count",
    "overrun",
    "updated_at",
)
DETAIL_COLUMNS = ("period", "department_id", "dimension", "key", "amount_aud")
SUMMARY = (
    ("limit", "limit_aud"),
    ("spent", "spent_aud"),
    ("reserved", "reserved_aud"),
    ("remaining", "remaining_aud"),
    ("forecast", "forecast_aud"),
)
BREAKDOWNS = (("day", "by_day"), ("model", "by_model"), ("user", "by_user"))
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Budget = Mapping[str, Any]


def budgets_csv(budgets: Iterable[Budget]) -> str:
    """One row per department: its limit, spend, forecast and state for the month."""
    return _table(
        LIST_COLUMNS,
        (
            (
                _text(budget["period"]),
                _text(budget["department_id"]),
                _text(budget["enforcement"]),
                _text(budget["strategy"]),
                _amount(budget["limit_aud"]),
                _amount(budget["spent_aud"]),
                _amount(budget["reserved_aud"]),
                _amount(budget["remaining_aud"]),
                _amount(budget["forecast_aud"]),
                _flag(budget["forecast_over_limit"]),
                str(int(budget["charged_count"])),
                _flag(budget["overrun"]),
                _text(budget.get("updated_at")),
            )
            for budget in budgets
        ),
    )


def budget_csv(budget: Budget) -> str:
    """One department's month as the long table the module docstring describes."""
    period, department = _text(budget["period"]), _text(budget["department_id"])
    rows = [
        (period, department, "summary", name, _amount(budget[field])) for name, field in SUMMARY
    ]
    for dimension, field in BREAKDOWNS:
        breakdown: Mapping[str, str] = budget[field]
        rows.extend(
            (period, department, dimension, _text(key), _amount(breakdown[key]))
            for key in sorted(breakdown)
        )
    return _table(DETAIL_COLUMNS, rows)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _text(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _amount(value: str | Decimal | None) -> str:
    return "" if value is None else aud_text(value)


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()
