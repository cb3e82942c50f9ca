"""`GET /budgets/{department_id}?as_of=` over HTTP against the running embedded platform."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.platform_process import RunningPlatform, running_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("as-of")) as running:
        admin = running.client(running.token("ada", ["Platform.Admin"], None))
        limit = {"monthly_limit_aud": "5.00", "enforcement": "soft"}
        assert admin.put("/api/v1/budgets/studio", json=limit).status_code == 200
        yield running


def test_as_of_answers_the_live_shape_stamped_with_its_instant(platform: RunningPlatform) -> None:
    finance = platform.client(platform.token("fiona", ["Finance.Reader"], "finance"))
    live = finance.get("/api/v1/budgets/studio")
    now = datetime.now(UTC).isoformat()
    then = finance.get("/api/v1/budgets/studio", params={"as_of": now})
    assert then.status_code == 200, then.text
    assert set(then.json()) == {*live.json(), "as_of"}
    assert (then.json()["limit_aud"], then.json()["as_of"]) == ("5.0000", now)
    before = datetime.now(UTC) - timedelta(days=400)
    # The offset's `+` left unencoded, as people type it (query decoding makes it a space).
    early = finance.get(f"/api/v1/budgets/studio?as_of={before.isoformat()}")
    assert early.status_code == 200, early.text
    assert early.json()["limit_aud"] != "5.0000"  # before the budget was set: the default


AMOUNT = re.compile(r"-?\d+\.\d{4,}")
MONEY_FIELDS = ("limit_aud", "spent_aud", "reserved_aud", "remaining_aud", "forecast_aud")


def test_a_past_month_and_the_live_one_show_money_in_one_format(
    platform: RunningPlatform,
) -> None:
    finance = platform.client(platform.token("fiona", ["Finance.Reader"], "finance"))
    live = finance.get("/api/v1/budgets/studio").json()
    before = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    past = finance.get("/api/v1/budgets/studio", params={"as_of": before}).json()

    assert past["spent_aud"] == live["spent_aud"] == "0.0000"  # was "0" beside "0.0000"
    for month in (live, past):
        for field in MONEY_FIELDS:
            assert AMOUNT.fullmatch(month[field]), (field, month[field])


@pytest.mark.parametrize(
    ("as_of", "says"),
    [("2026-04-01T00:00:00", "offset"), ("soon", "ISO 8601"), ("2999-01-01T00:00Z", "future")],
)
def test_bad_instants_are_400_problems(platform: RunningPlatform, as_of: str, says: str) -> None:
    finance = platform.client(platform.token("fiona", ["Finance.Reader"], "finance"))
    answer = finance.get("/api/v1/budgets/studio", params={"as_of": as_of})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert says in answer.json()["detail"]


def test_as_of_is_authorised_as_the_live_route(platform: RunningPlatform) -> None:
    outsider = platform.client(platform.token("otto", ["Dept.Manager"], "legal"))
    answer = outsider.get("/api/v1/budgets/studio", params={"as_of": "2026-01-01T00:00Z"})
    assert answer.status_code == 403
