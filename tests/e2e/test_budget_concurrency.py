"""200 requests in parallel through the HTTP API against a budget that fits exactly 50
images, on the embedded platform with two worker processes deciding at once.

Hard: exactly 50 are charged, the rest rejected for the budget, never a cent over.
Soft: all are let through and the overrun is recorded. Either way the budget view
equals the sum of the `GenerationCharged` events in the log, to the cent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from domain.envelope import Event
from tests.platform_process import RunningPlatform, running_platform

LIMIT = Decimal("0.50")
PRICE = Decimal("0.0100")  # local-sketch, 1024x1024 standard: the balanced strategy's pick
REQUESTS = 200
FITS = 50
POSTERS = 32

pytestmark = pytest.mark.slow


def all_events(data_dir: Path) -> Iterator[Event]:
    store = SqliteEventStore(data_dir / "events.db")
    try:
        position = 0
        while page := store.read_all(position, limit=1000):
            yield from (positioned.event for positioned in page)
            position = page[-1].position
    finally:
        store.close()


def run_burst(platform: RunningPlatform, enforcement: str) -> list[dict[str, Any]]:
    manager = platform.client(platform.token("maya", ["Dept.Manager"], "marketing"))
    budget = {"monthly_limit_aud": str(LIMIT), "enforcement": enforcement, "strategy": "balanced"}
    assert manager.put("/api/v1/budgets/marketing", json=budget).status_code == 200
    # Power users: the daily quota of standard users is not what this test is about.
    clients = [
        platform.client(platform.token(f"power-{n}", ["Generator.Power"], "marketing"))
        for n in range(8)
    ]

    def post(n: int) -> str:
        client = clients[n % len(clients)]
        response = client.post("/api/v1/generations", json={"prompt": f"lighthouse no. {n}"})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def outcome(n: int, generation_id: str) -> dict[str, Any]:
        # Each requester may read only their own generations.
        result: dict[str, Any] = platform.wait_terminal(
            clients[n % len(clients)], generation_id, 180
        )
        return result

    with ThreadPoolExecutor(max_workers=POSTERS) as posters:
        ids = list(posters.map(post, range(REQUESTS)))
        return list(posters.map(outcome, range(REQUESTS), ids))


def settled_budget(platform: RunningPlatform, charged: int) -> dict[str, Any]:
    """The budget view once the projections have folded every charge and release."""
    manager = platform.client(platform.token("maya", ["Dept.Manager"], "marketing"))
    view: dict[str, Any] = {}
    for _ in range(300):
        view = manager.get("/api/v1/budgets/marketing").json()
        if view["charged_count"] == charged and Decimal(view["reserved_aud"]) == 0:
            return view
        time.sleep(0.1)
    raise AssertionError(f"the budget view did not settle: {view}")


def charged_in_log(data_dir: Path) -> Decimal:
    return sum(
        (
            Decimal(e.data["cost_aud"])
            for e in all_events(data_dir)
            if e.type == "GenerationCharged"
        ),
        Decimal(0),
    )


def test_a_hard_budget_charges_exactly_what_fits_under_a_parallel_burst(tmp_path: Path) -> None:
    with running_platform(tmp_path, ["--processes", "2", "--workers", "4"]) as platform:
        outcomes = run_burst(platform, "hard")
        view = settled_budget(platform, FITS)

    assert Counter(o["status"] for o in outcomes) == {"charged": FITS, "rejected": REQUESTS - FITS}
    assert {o["reason"] for o in outcomes if o["status"] == "rejected"} == {"budget_exceeded"}
    spent = charged_in_log(tmp_path)
    assert spent == FITS * PRICE == LIMIT
    assert Decimal(view["spent_aud"]) == spent
    assert Decimal(view["remaining_aud"]) == 0
    assert view["overrun"] is False
    assert view["thresholds_crossed"] == [80, 90, 100]


def test_a_soft_budget_lets_the_burst_through_and_records_the_overrun(tmp_path: Path) -> None:
    with running_platform(tmp_path, ["--processes", "2", "--workers", "4"]) as platform:
        outcomes = run_burst(platform, "soft")
        view = settled_budget(platform, REQUESTS)

    assert Counter(o["status"] for o in outcomes) == {"charged": REQUESTS}
    spent = charged_in_log(tmp_path)
    assert spent == REQUESTS * PRICE
    assert Decimal(view["spent_aud"]) == spent
    assert view["overrun"] is True
    outcomes_recorded = Counter(
        e.data["outcome"] for e in all_events(tmp_path) if e.type == "CostReserved"
    )
    assert outcomes_recorded == {"allowed": FITS, "overrun_recorded": REQUESTS - FITS}
