"""Budgets as CSV: the shapes parse back with the csv module and formulas are defused."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from services.budget_csv import DETAIL_COLUMNS, LIST_COLUMNS, budget_csv, budgets_csv


def budget(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "department_id": "marketing",
        "period": "2026-11",
        "limit_aud": "500.00",
        "enforcement": "soft",
        "strategy": "balanced",
        "spent_aud": "512.5000",
        "reserved_aud": "0.0400",
        "remaining_aud": "-12.5400",
        "charged_count": 3,
        "overrun": True,
        "by_model": {"local-studio": "500.0000", "local-sketch": "12.5000"},
        "by_user": {
            '=HYPERLINK("http://evil")': "0.5000",
            "zoe": "500.0000",
            'o"neil, pat\nline two': "12.0000",
        },
        "by_day": {"2026-11-10": "12.5000", "2026-11-02": "500.0000"},
        "thresholds_crossed": [80, 90, 100],
        "updated_at": "2026-11-10T03:04:05.000000Z",
        "forecast_aud": "1537.50",
        "forecast_basis": {"elapsed_days": "10.000000", "days_in_month": 30},
        "forecast_over_limit": True,
    }
    return {**base, **overrides}


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_a_departments_month_is_one_long_table_each_dimension_summing_to_spent() -> None:
    text = budget_csv(budget())
    assert text.startswith(",".join(DETAIL_COLUMNS) + "\r\n")
    rows = parse(text)
    assert {(r["period"], r["department_id"]) for r in rows} == {("2026-11", "marketing")}
    summary = {r["key"]: r["amount_aud"] for r in rows if r["dimension"] == "summary"}
    assert summary == {
        "limit": "500.0000",
        "spent": "512.5000",
        "reserved": "0.0400",
        "remaining": "-12.5400",  # a number, so not prefixed
        "forecast": "1537.5000",
    }
    days = [(r["key"], r["amount_aud"]) for r in rows if r["dimension"] == "day"]
    assert days == [("2026-11-02", "500.0000"), ("2026-11-10", "12.5000")]
    for dimension in ("day", "model", "user"):
        total = sum(Decimal(r["amount_aud"]) for r in rows if r["dimension"] == dimension)
        assert total == Decimal("512.5"), dimension


def test_user_ids_that_start_a_formula_are_written_as_text_and_others_round_trip() -> None:
    users = {
        r["key"]: r["amount_aud"] for r in parse(budget_csv(budget())) if r["dimension"] == "user"
    }
    assert users == {
        '\'=HYPERLINK("http://evil")': "0.5000",
        "zoe": "500.0000",
        'o"neil, pat\nline two': "12.0000",
    }
    for start in ("+", "-", "@", "\t", "\r"):
        rows = parse(budget_csv(budget(by_user={f"{start}cmd": "1"})))
        assert [r["key"] for r in rows if r["dimension"] == "user"] == [f"'{start}cmd"]


def test_the_month_list_is_one_row_per_department() -> None:
    design = budget(
        department_id="design",
        limit_aud=None,
        enforcement=None,
        strategy=None,
        spent_aud="0",
        reserved_aud="0",
        remaining_aud=None,
        charged_count=0,
        overrun=False,
        forecast_aud="0.00",
        forecast_over_limit=None,
        updated_at=None,
    )
    text = budgets_csv([design, budget()])
    assert text.splitlines()[0] == ",".join(LIST_COLUMNS)
    rows = parse(text)
    assert rows[0] == {
        "period": "2026-11",
        "department_id": "design",
        "enforcement": "",
        "strategy": "",
        "limit_aud": "",
        "spent_aud": "0.0000",
        "reserved_aud": "0.0000",
        "remaining_aud": "",
        "forecast_aud": "0.0000",
        "forecast_over_limit": "",
        "charged_count": "0",
        "overrun": "false",
        "updated_at": "",
    }
    assert rows[1]["remaining_aud"] == "-12.5400"
    assert rows[1]["forecast_over_limit"] == "true"
    assert rows[1]["updated_at"] == "2026-11-10T03:04:05.000000Z"


def test_amounts_are_never_in_exponent_notation() -> None:
    text = budgets_csv([budget(spent_aud="1E+3", reserved_aud="0E-8", limit_aud=Decimal("5E+2"))])
    row = parse(text)[0]
    assert (row["spent_aud"], row["reserved_aud"], row["limit_aud"]) == (
        "1000.0000",
        "0.00000000",
        "500.0000",
    )
    assert "E" not in text
