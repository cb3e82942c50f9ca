"""`donatello budgets`: the finance API's budgets as terminal tables, or its CSV as is.

It asks the running platform over HTTP, so it shows exactly what the API answers,
forecast included, and is scoped by the token it sends like any other client.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import httpx

Budget = Mapping[str, Any]


def show_budgets(
    url: str,
    token: str,
    *,
    period: str | None,
    department: str | None,
    as_of: str | None,
    as_csv: bool,
) -> int:
    if as_of is not None and department is None:
        print("--as-of reads one department's month: give --department too", file=sys.stderr)
        return 2
    route = "/api/v1/budgets" if department is None else f"/api/v1/budgets/{department}"
    params = {"period": period} if period else {}
    if as_of is not None:
        params["as_of"] = as_of
    if as_csv:
        params["format"] = "csv"
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        response = client.get(route, params=params)
    if response.status_code != 200:
        print(_problem(response), file=sys.stderr)
        return 1
    if as_csv:
        sys.stdout.write(response.text)
    elif department is None:
        body = response.json()
        print(month_table(body["period"], body["items"]))
    else:
        print(department_table(response.json()))
    return 0


def month_table(period: str, budgets: Sequence[Budget]) -> str:
    if not budgets:
        return f"No budgets for {period}."
    rows = [
        [
            b["department_id"],
            b["enforcement"] or "",
            _money(b["limit_aud"]),
            _money(b["spent_aud"]),
            _money(b["reserved_aud"]),
            _money(b["remaining_aud"]),
            _money(b["forecast_aud"]),
            str(b["charged_count"]),
            _notes(b),
        ]
        for b in budgets
    ]
    header = ["department", "mode", "limit", "spent", "reserved", "remaining", "forecast"]
    table = _table([*header, "images", "notes"], rows, numeric=range(2, 8))
    return f"Budgets for {period} (months in Australia/Sydney, AUD)\n\n{table}"


def department_table(budget: Budget) -> str:
    basis = budget["forecast_basis"]
    summary = [
        ["limit", _money(budget["limit_aud"])],
        ["spent", _money(budget["spent_aud"])],
        ["reserved", _money(budget["reserved_aud"])],
        ["remaining", _money(budget["remaining_aud"])],
        ["forecast", _money(budget["forecast_aud"])],
    ]
    mode = f"{budget['enforcement'] or 'no limit set'}, {budget['strategy'] or '-'}"
    as_of = f", as of {budget['as_of']}" if budget.get("as_of") else ""
    parts = [
        f"{budget['department_id']} {budget['period']} ({mode}; AUD{as_of})",
        _table(["", "amount"], summary, numeric=[1]),
        f"{_count(budget['charged_count'], 'image')} charged; forecast from the rate over "
        f"{basis['elapsed_days']} of {basis['days_in_month']} Sydney days gone"
        + (f"; {_notes(budget)}" if _notes(budget) else ""),
    ]
    for title, field in (("day", "by_day"), ("model", "by_model"), ("user", "by_user")):
        breakdown: Mapping[str, str] = budget[field]
        rows = [[key, _money(breakdown[key])] for key in sorted(breakdown)]
        parts.append(_table([f"by {title}", "spent"], rows, numeric=[1]) if rows else "")
    return "\n\n".join(part for part in parts if part)


def _notes(budget: Budget) -> str:
    notes = []
    if budget["overrun"]:
        notes.append("overrun")
    if budget["forecast_over_limit"]:
        notes.append("forecast over limit")
    if budget["thresholds_crossed"]:
        notes.append("crossed " + "/".join(f"{p}%" for p in budget["thresholds_crossed"]))
    return ", ".join(notes)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _money(amount: str | None) -> str:
    return "-" if amount is None else amount


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Collection[int]) -> str:
    right = set(numeric)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _problem(response: httpx.Response) -> str:
    try:
        problem = response.json()
        return f"{response.status_code} {problem.get('title', '')}: {problem.get('detail', '')}"
    except ValueError:
        return f"{response.status_code} {response.text[:200]}"
