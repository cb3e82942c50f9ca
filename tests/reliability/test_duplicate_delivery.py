"""Every job delivered twice, some concurrently: the same final state, one charge each."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from bootstrap import build_platform, projection_runner, sqlite_event_store
from domain.access import Principal, Role
from domain.generation import Status
from services.generations import GenerationRequest, load_generation, submit_generation
from services.pipeline import advance_generation
from services.settings import Settings
from tests.reliability.ledger import charges_per_generation, generation_charges


def test_duplicated_and_concurrent_deliveries_charge_each_generation_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, provider_backoff_seconds=(0.0,))
    platform = build_platform(settings)
    requester = Principal(
        user_id="alice",
        roles=frozenset({Role.GENERATOR_STANDARD}),
        department_id="marketing",
        tenant_id=None,
    )
    ids = [
        submit_generation(
            platform, requester, GenerationRequest(prompt=f"a lighthouse, study {n}"), None
        ).generation_id
        for n in range(30)
    ]
    deliveries = ids * 2
    random.Random(7).shuffle(deliveries)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda gid: advance_generation(platform, gid), deliveries))
    # A third, late redelivery of every message after all are terminal changes nothing.
    finals = [advance_generation(platform, gid) for gid in ids]

    assert {state.status for state in finals} == {Status.CHARGED}
    assert [load_generation(platform, gid).version for gid in ids] == [5] * len(ids)
    store = sqlite_event_store(settings)
    charges = charges_per_generation(store)
    assert sorted(charges) == sorted(str(gid) for gid in ids)
    assert set(charges.values()) == {1}

    runner = projection_runner(settings)
    runner.run_until_caught_up()
    budget = platform.views.list("budget")
    spent = sum((Decimal(b["spent_aud"]) for b in budget), Decimal(0))
    assert spent == sum(generation_charges(store).values())
    assert all(Decimal(b["reserved_aud"]) == 0 for b in budget)
