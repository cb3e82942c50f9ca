"""SIGKILL the platform mid-pipeline under load; after restart nothing is lost or charged twice."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.sqlite_event_store import SqliteEventStore
from tests.platform_process import running_platform
from tests.reliability.ledger import charges_per_generation, generation_charges

REQUESTS = 200
# Posting from several threads outpaces two workers, so the kill lands with work queued.
POSTERS = 8


@pytest.mark.slow
def test_every_accepted_generation_settles_once_after_a_kill(tmp_path: Path) -> None:
    # Short locks and a short stuck threshold so recovery happens within the test.
    with running_platform(
        tmp_path, DONATELLO_QUEUE_LOCK_DURATION_SECONDS="2", DONATELLO_STUCK_AFTER_SECONDS="3"
    ) as platform:
        client = platform.client(platform.token("alice", ["Generator.Power"], "marketing"))

        def post(n: int) -> str:
            response = client.post("/api/v1/generations", json={"prompt": f"a harbour, view {n}"})
            assert response.status_code == 202
            return str(response.json()["id"])

        with ThreadPoolExecutor(max_workers=POSTERS) as pool:
            accepted = list(pool.map(post, range(REQUESTS)))
        platform.kill()  # mid-pipeline: the queue still holds most of the jobs

        store = SqliteEventStore(tmp_path / "events.db")
        unfinished_at_kill = sum(
            1
            for gid in accepted
            if store.read_stream(f"generation-{gid}")[-1].type != "GenerationCharged"
        )
        print(f"{unfinished_at_kill} of {REQUESTS} generations unfinished at the kill")
        assert unfinished_at_kill > 0, "the kill came too late to test anything"

        platform.start()
        deadline = time.monotonic() + 120
        pending = set(accepted)
        while pending and time.monotonic() < deadline:
            pending = {
                gid
                for gid in pending
                if store.read_stream(f"generation-{gid}")[-1].type
                not in {
                    "GenerationCharged",
                    "PromptRejected",
                    "GenerationRejected",
                    "GenerationFailed",
                }
            }
            time.sleep(0.25)
        assert not pending, f"{len(pending)} generations never settled"

    charges = charges_per_generation(store)
    assert set(charges.values()) == {1}
    assert sorted(charges) == sorted(accepted)
    generation_total = sum(generation_charges(store).values(), Decimal(0))
    assert generation_total > 0
