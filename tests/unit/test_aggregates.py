"""Every snapshot codec gives back the state it was given, through JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from domain.budget import (
    BudgetPolicy,
    BudgetSet,
    BudgetThresholdCrossed,
    CostCharged,
    CostReserved,
    Enforcement,
    Strategy,
)
from domain.generation import Payload
from domain.privacy import SubjectAccessExported, SubjectErased
from domain.provider_health import CircuitTrialStarted, ProviderCallFailed, ProviderCallSucceeded
from domain.quota import QuotaConsumed
from services.aggregates import (
    BUDGET_MONTH,
    BUDGET_POLICY,
    FACTS,
    PRIVACY,
    PROVIDER_HEALTH,
    QUOTA_DAY,
)
from services.repository import Aggregate
from tests.unit.test_audit_story import stream

START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
POLICY = BudgetPolicy(
    monthly_limit_aud=Decimal("1.00"), enforcement=Enforcement.SOFT, strategy=Strategy.COST
)


def month() -> list[Payload]:
    held, charged = uuid4(), uuid4()
    common: dict[str, Any] = {"department_id": "marketing", "period": "2026-11"}
    reserve = {**common, "user_id": "alice", "model_id": "m", "outcome": "allowed"}
    return [
        BudgetSet(**common, policy=POLICY),
        CostReserved(**reserve, generation_id=charged, amount_aud=Decimal("0.90")),
        CostReserved(**reserve, generation_id=held, amount_aud=Decimal("0.30")),
        CostCharged(
            **common,
            generation_id=charged,
            user_id="alice",
            model_id="m",
            amount_aud=Decimal("0.85"),
            reserved_aud=Decimal("0.90"),
        ),
        BudgetThresholdCrossed(
            **common,
            threshold_percent=80,
            spent_aud=Decimal("0.85"),
            limit_aud=Decimal("1.00"),
        ),
    ]


def provider() -> list[Payload]:
    gid = uuid4()
    failed = {"provider": "p", "model_id": "m", "reason": "timeout", "retryable": True}
    return [
        ProviderCallSucceeded(provider="p", model_id="m", generation_id=uuid4()),
        *(ProviderCallFailed(**failed, generation_id=uuid4(), attempt=n) for n in range(1, 6)),
        CircuitTrialStarted(provider="p", generation_id=gid),
    ]


CASES: list[tuple[Aggregate[Any], str, list[Payload]]] = [
    (BUDGET_MONTH, "budget-marketing-2026-11", month()),
    (
        BUDGET_POLICY,
        "budget-policy-marketing",
        [BudgetSet(department_id="m", period=None, policy=POLICY)],
    ),
    (PROVIDER_HEALTH, "provider-p", provider()),
    (
        QUOTA_DAY,
        "quota-alice-2026-11-23",
        [
            QuotaConsumed(user_id="alice", day=date(2026, 11, 23), generation_id=uuid4(), limit=5)
            for _ in range(3)
        ],
    ),
    (
        PRIVACY,
        "privacy-alice",
        [
            SubjectAccessExported(subject_id="alice", requested_by="dpo"),
            SubjectErased(subject_id="alice", requested_by="dpo", reason="asked"),
        ],
    ),
    (FACTS, "audit-reads-2026-11-23", [SubjectAccessExported(subject_id="a", requested_by="b")]),
]


@pytest.mark.parametrize(
    ("aggregate", "stream_id", "payloads"), CASES, ids=lambda c: getattr(c, "name", "")
)
def test_a_state_comes_back_from_its_snapshot_as_it_was(
    aggregate: Aggregate[Any], stream_id: str, payloads: list[Payload]
) -> None:
    assert aggregate.to_snapshot is not None
    assert aggregate.from_snapshot is not None
    state = aggregate.initial(stream_id)
    for event in stream(stream_id, payloads):
        state = aggregate.evolve(state, event)
    assert state.version == len(payloads)
    through_json = json.loads(json.dumps(aggregate.to_snapshot(state)))
    assert aggregate.from_snapshot(through_json) == state
    assert state != aggregate.initial(stream_id)
