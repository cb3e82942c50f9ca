"""The daily quota over real HTTP on the embedded platform: parallel requests racing for
the last units, and the 429 problem a client sees."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.platform_process import RunningPlatform, running_platform

QUOTA = 50
REQUESTS = 80
POSTERS = 16
SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    data_dir: Path = tmp_path_factory.mktemp("quota")
    with running_platform(data_dir, DONATELLO_DAILY_IMAGE_QUOTA=str(QUOTA)) as running:
        yield running


def seconds_to_sydney_midnight(now: datetime) -> int:
    tomorrow = now.astimezone(SYDNEY).date() + timedelta(days=1)
    midnight = datetime.combine(tomorrow, time(), tzinfo=SYDNEY)
    return math.ceil((midnight - now).total_seconds())


def test_parallel_requests_get_exactly_the_quota_and_the_rest_a_429(
    platform: RunningPlatform,
) -> None:
    client = platform.client(platform.token("carol", ["Generator.Standard"], "marketing"))

    def post(n: int) -> httpx.Response:
        return client.post("/api/v1/generations", json={"prompt": f"a harbour, view {n}"})

    earliest = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=POSTERS) as pool:
        responses = list(pool.map(post, range(REQUESTS)))
    latest = datetime.now(UTC)

    assert Counter(r.status_code for r in responses) == {202: QUOTA, 429: REQUESTS - QUOTA}
    assert len({r.json()["id"] for r in responses if r.status_code == 202}) == QUOTA
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"] == "https://donatello.ai/problems/quota-exceeded"
        assert problem["status"] == 429
        assert f"quota of {QUOTA} images" in problem["detail"]
        retry_after = int(refused.headers["Retry-After"])
        assert seconds_to_sydney_midnight(latest) <= retry_after
        assert retry_after <= seconds_to_sydney_midnight(earliest)

    today = client.get("/api/v1/quota")
    assert today.status_code == 200
    assert today.json()["limit"] == QUOTA
    assert today.json()["used"] == QUOTA
    assert today.json()["remaining"] == 0


def test_a_power_user_and_another_standard_user_are_not_held_back(
    platform: RunningPlatform,
) -> None:
    power = platform.client(platform.token("pat", ["Generator.Power"], "marketing"))
    other = platform.client(platform.token("dave", ["Generator.Standard"], "marketing"))
    assert power.post("/api/v1/generations", json={"prompt": "a kite"}).status_code == 202
    assert other.post("/api/v1/generations", json={"prompt": "a kite"}).status_code == 202
    assert power.get("/api/v1/quota").json()["remaining"] is None
    assert other.get("/api/v1/quota").json()["remaining"] == QUOTA - 1


def test_reading_the_quota_needs_the_right_to_generate(platform: RunningPlatform) -> None:
    finance = platform.client(platform.token("fay", ["Finance.Reader"], "marketing"))
    denied = finance.get("/api/v1/quota")
    assert denied.status_code == 403
    assert denied.json()["type"].endswith("/forbidden")
