"""The finance API and `donatello budgets` against the real embedded platform over HTTP."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from domain.forecast import run_rate_forecast
from domain.money import aud_text
from tests.platform_process import ROOT, RunningPlatform, running_platform

DEPARTMENT = "studio"
# A user id a spreadsheet would run as a formula; identity providers do not forbid it.
FORMULA_USER = '=HYPERLINK("http://evil.example")'
SPENDERS = [("alice", "local-sketch"), ("alice", "local-sketch"), (FORMULA_USER, "local-studio")]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("finance")) as running:
        admin = running.client(running.token("ada", ["Platform.Admin"], None))
        limit = {"monthly_limit_aud": "0.07", "enforcement": "hard", "strategy": "cost_optimised"}
        assert admin.put(f"/api/v1/budgets/{DEPARTMENT}", json=limit).status_code == 200
        for user, model in SPENDERS:
            client = running.client(running.token(user, ["Generator.Power"], DEPARTMENT))
            body = {"prompt": "a cobalt teapot", "model": model}
            accepted = client.post("/api/v1/generations", json=body)
            assert accepted.status_code == 202, accepted.text
            final = running.wait_terminal(client, accepted.json()["id"])
            assert final["status"] == "charged", final
        wait_for_charges(running, len(SPENDERS))
        yield running


def wait_for_charges(platform: RunningPlatform, count: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if finance(platform).get(f"/api/v1/budgets/{DEPARTMENT}").json()["charged_count"] == count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the budget view never showed {count} charges")


def finance(platform: RunningPlatform) -> Any:
    return platform.client(platform.token("fiona", ["Finance.Reader"], "finance"))


def manager(platform: RunningPlatform, department: str) -> Any:
    return platform.client(platform.token("mo", ["Dept.Manager"], department))


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_a_department_shows_its_breakdowns_and_a_forecast_on_its_stated_basis(
    platform: RunningPlatform,
) -> None:
    before = datetime.now(UTC)
    budget = finance(platform).get(f"/api/v1/budgets/{DEPARTMENT}").json()
    after = datetime.now(UTC)

    assert budget["spent_aud"] == "0.0600"
    assert budget["by_model"] == {"local-sketch": "0.0200", "local-studio": "0.0400"}
    assert budget["by_user"] == {"alice": "0.0200", FORMULA_USER: "0.0400"}
    assert sum(Decimal(amount) for amount in budget["by_day"].values()) == Decimal("0.06")
    assert all(datetime.strptime(day, "%Y-%m-%d") for day in budget["by_day"])

    basis = budget["forecast_basis"]
    elapsed = Decimal(basis["elapsed_days"])
    # The platform's clock read the time between the test's two readings.
    bounds = [run_rate_forecast(Decimal(0), None, budget["period"], t) for t in (before, after)]
    assert bounds[0].elapsed_days <= elapsed <= bounds[1].elapsed_days
    assert basis["days_in_month"] == bounds[0].days_in_month
    expected = (Decimal("0.06") / elapsed * basis["days_in_month"]).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    assert budget["forecast_aud"] == aud_text(expected)
    assert budget["forecast_over_limit"] is (expected > Decimal("0.07"))


def test_a_past_month_forecasts_what_it_spent(platform: RunningPlatform) -> None:
    budget = finance(platform).get(f"/api/v1/budgets/{DEPARTMENT}?period=2020-02").json()
    assert budget["forecast_aud"] == "0.0000"
    assert budget["forecast_basis"] == {"elapsed_days": "29", "days_in_month": 29}


def test_a_departments_csv_parses_back_to_the_jsons_amounts(platform: RunningPlatform) -> None:
    client = finance(platform)
    budget = client.get(f"/api/v1/budgets/{DEPARTMENT}").json()
    response = client.get(f"/api/v1/budgets/{DEPARTMENT}", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    period = budget["period"]
    assert response.headers["content-disposition"] == (
        f'attachment; filename="budget-{DEPARTMENT}-{period}.csv"'
    )
    rows = parse(response.text)
    assert {(r["period"], r["department_id"]) for r in rows} == {(period, DEPARTMENT)}
    amounts = {(r["dimension"], r["key"]): r["amount_aud"] for r in rows}
    assert len(amounts) == len(rows)
    expected = {
        ("summary", name): budget[f"{name}_aud"]
        for name in ("limit", "spent", "reserved", "remaining", "forecast")
    }
    for dimension in ("day", "model", "user"):
        for key, amount in budget[f"by_{dimension}"].items():
            # Text that would start a formula is written with a leading apostrophe.
            written = "'" + key if key == FORMULA_USER else key
            expected[(dimension, written)] = amount
    assert amounts == expected


def test_the_months_csv_is_one_row_per_department_matching_the_json(
    platform: RunningPlatform,
) -> None:
    client = finance(platform)
    listing = client.get("/api/v1/budgets").json()
    response = client.get("/api/v1/budgets", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="budgets-{listing["period"]}.csv"'
    )
    rows = parse(response.text)
    assert [r["department_id"] for r in rows] == [b["department_id"] for b in listing["items"]]
    assert DEPARTMENT in [r["department_id"] for r in rows]
    for row, budget in zip(rows, listing["items"], strict=True):
        for column in ("limit_aud", "spent_aud", "reserved_aud", "remaining_aud", "forecast_aud"):
            assert row[column] == budget[column], column
        assert row["charged_count"] == str(budget["charged_count"])
        assert row["period"] == listing["period"]


def test_managers_see_only_their_own_department_in_every_format(
    platform: RunningPlatform,
) -> None:
    outsider = manager(platform, "marketing")
    for params in ({}, {"format": "csv"}):
        denied = outsider.get(f"/api/v1/budgets/{DEPARTMENT}", params=params)
        assert denied.status_code == 403
        assert denied.headers["content-type"] == "application/problem+json"
        assert outsider.get("/api/v1/budgets/Bad.Dept!", params=params).status_code == 404
    assert parse(outsider.get("/api/v1/budgets", params={"format": "csv"}).text) == []
    assert outsider.get("/api/v1/budgets").json()["items"] == []

    own = manager(platform, DEPARTMENT)
    assert own.get(f"/api/v1/budgets/{DEPARTMENT}", params={"format": "csv"}).status_code == 200
    listed = parse(own.get("/api/v1/budgets", params={"format": "csv"}).text)
    assert [r["department_id"] for r in listed] == [DEPARTMENT]

    requester = platform.client(platform.token("alice", ["Generator.Power"], DEPARTMENT))
    assert requester.get("/api/v1/budgets", params={"format": "csv"}).status_code == 403
    assert requester.get(f"/api/v1/budgets/{DEPARTMENT}?format=csv").status_code == 403


def test_an_unknown_format_or_period_is_a_400(platform: RunningPlatform) -> None:
    client = finance(platform)
    for params in ({"format": "xlsx"}, {"format": "csv", "period": "2026-13"}):
        response = client.get(f"/api/v1/budgets/{DEPARTMENT}", params=params)
        assert response.status_code == 400, params
        assert response.json()["type"].endswith("/invalid-parameter")


def donatello(platform: RunningPlatform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devhost.cli", "budgets", "--url", platform.url, *args],
        cwd=ROOT,
        env=platform.env,  # the platform's data folder holds the dev signing key
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_budgets_command_shows_the_month_and_a_department_as_tables(
    platform: RunningPlatform,
) -> None:
    budget = finance(platform).get(f"/api/v1/budgets/{DEPARTMENT}").json()
    month = donatello(platform)
    assert month.returncode == 0, month.stderr
    row = next(line for line in month.stdout.splitlines() if line.startswith(DEPARTMENT))
    assert row.split()[:8] == [
        DEPARTMENT,
        "hard",
        "0.0700",
        "0.0600",
        "0.0000",
        budget["remaining_aud"],
        budget["forecast_aud"],
        "3",
    ]

    one = donatello(platform, "--department", DEPARTMENT, "--period", budget["period"])
    assert one.returncode == 0, one.stderr
    lines = [line.split() for line in one.stdout.splitlines()]
    assert ["forecast", budget["forecast_aud"]] in lines
    assert ["local-studio", "0.0400"] in lines
    assert [FORMULA_USER, "0.0400"] in [line.rsplit(maxsplit=1) for line in one.stdout.splitlines()]
    for day, amount in budget["by_day"].items():
        assert [day, amount] in lines


def test_the_budgets_command_prints_the_apis_csv_and_honours_the_tokens_scope(
    platform: RunningPlatform,
) -> None:
    api = finance(platform).get(f"/api/v1/budgets/{DEPARTMENT}", params={"format": "csv"})
    printed = donatello(platform, "--department", DEPARTMENT, "--csv")
    assert printed.returncode == 0, printed.stderr
    assert parse(printed.stdout) == parse(api.text)

    token = platform.token("mo", ["Dept.Manager"], "marketing")
    denied = donatello(platform, "--department", DEPARTMENT, "--token", token)
    assert denied.returncode == 1
    assert "403" in denied.stderr


def test_the_budgets_command_reads_a_month_as_it_stood_with_its_plural_right(
    platform: RunningPlatform,
) -> None:
    period = finance(platform).get(f"/api/v1/budgets/{DEPARTMENT}").json()["period"]
    admin = platform.client(platform.token("ada", ["Platform.Admin"], None))
    stream = admin.get(f"/api/v1/audit/streams/budget-{DEPARTMENT}-{period}").json()
    first_charge = next(e for e in stream["events"] if e["type"] == "CostCharged")
    as_of = first_charge["recorded_at"].replace("Z", "+00:00")

    then = donatello(platform, "--department", DEPARTMENT, "--as-of", as_of)
    assert then.returncode == 0, then.stderr
    assert f"as of {as_of}" in then.stdout
    assert "1 image charged;" in then.stdout
    now = donatello(platform, "--department", DEPARTMENT)
    assert f"{len(SPENDERS)} images charged;" in now.stdout

    alone = donatello(platform, "--as-of", as_of)  # a month's list has no as_of
    assert alone.returncode == 2
    assert "--department" in alone.stderr
