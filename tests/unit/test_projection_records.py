"""The replay fast path: `Record`s, folds over generated logs, the runner over a
`RecordLog`, and how a partitioned replay splits the streams.

The reference everywhere is the simple path: `apply`, event by event, on `Event` models.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from adapters.sqlite_views import SqliteViewStore
from domain import budget as b
from domain import generation as g
from domain import provider_health as health
from domain import webhooks as w
from domain.envelope import Event
from domain.streams import (
    budget_policy_stream,
    budget_stream,
    generation_stream,
    provider_stream,
    webhook_delivery_stream,
)
from projections import (
    ALL_PROJECTIONS,
    budget,
    generation_status,
    provider_health,
    webhook_deliveries,
)
from projections.base import Projection, Record, StreamRange, View, stamp, timestamp
from projections.partitioned import split_streams
from projections.runner import ProjectionRunner
from tests.contract.view_workload import charged_image
from tests.unit.test_projections import SEALED, Log, finding, fold, requested, routed

SYDNEY = ZoneInfo("Australia/Sydney")
# Sydney leaves daylight saving at 03:00 AEDT on 5 April 2026 (16:00 UTC the day before).
DST_ENDS = datetime(2026, 4, 4, 16, 0, tzinfo=UTC)


def record_of(position: int, event: Event) -> Record:
    return Record(
        position,
        event.stream_id,
        event.version,
        event.type,
        timestamp(event.recorded_at),
        event.actor.model_dump_json(),
        event.data,
    )


def records(log: Log) -> list[Record]:
    return [record_of(i, event) for i, event in enumerate(log.events, start=1)]


@dataclass
class RecordsOf:
    """An in-memory `RecordLog` over a `Log`, that counts what it hands out."""

    log: Log
    handed_out: list[str] = field(default_factory=list)

    def last_position(self) -> int:
        return len(self.log.events)

    def read_records(
        self,
        after_position: int,
        up_to_position: int,
        types: Collection[str] | None = None,
        streams: StreamRange | None = None,
    ) -> list[Record]:
        chosen = [
            r
            for r in records(self.log)[after_position:up_to_position]
            if (types is None or r.type in types) and (streams is None or r.stream_id in streams)
        ]
        self.handed_out.extend(r.type for r in chosen)
        return chosen


def random_log(seed: int) -> Log:
    """Generations that end every way, in two departments and two months, with their
    budget streams, standing policies and thresholds, at times spread over days and
    across the end of daylight saving."""
    rng = random.Random(seed)
    log = Log()
    at = DST_ENDS - timedelta(hours=rng.randint(1, 40))
    versions: dict[str, int] = {}

    def tick() -> datetime:
        nonlocal at
        at += timedelta(minutes=rng.choice([0, 0, 1, 7, 55, 200]), microseconds=rng.randint(0, 999))
        return at

    def to_budget(dept: str, payload: g.Payload) -> None:
        period = at.astimezone(SYDNEY).strftime("%Y-%m")
        stream = budget_stream(dept, period)
        if stream not in versions:
            policy = b.BudgetPolicy(
                monthly_limit_aud=Decimal(rng.choice(["0.50", "3.00"])),
                enforcement=b.Enforcement.SOFT,
                strategy=b.Strategy.COST,
            )
            log.append(stream, b.BudgetSet(department_id=dept, period=period, policy=policy), at)
        versions[stream] = 1
        log.append(stream, payload.model_copy(update={"period": period}), tick())

    for _ in range(rng.randint(5, 25)):
        gid, dept = UUID(int=rng.getrandbits(128)), rng.choice(["research", "legal"])
        user, model = rng.choice(["u-ada", "u-bob", "u-cy"]), rng.choice(["m1", "m2", "m3"])
        stream = generation_stream(gid)
        log.append(stream, requested(gid, user, dept), tick())
        fate = rng.random()
        if fate < 0.1:
            blocked = (finding("CREDIT_CARD", "block"), finding("EMAIL_ADDRESS", "redact"))
            rejected = g.PromptRejected(reason="blocked", findings=blocked, policy_version="p")
            log.append(stream, rejected, tick())
            continue
        findings = (finding("EMAIL_ADDRESS", "redact"),) if fate < 0.4 else ()
        screened = g.PromptScreened(findings=findings, redacted_prompt=SEALED, policy_version="p")
        log.append(stream, screened, tick())
        if fate < 0.2:
            log.append(stream, g.GenerationRejected(reason="budget_exceeded", detail="d"), tick())
            continue
        estimate = Decimal(rng.choice(["0.04", "0.12", "0.30"]))
        common = {"department_id": dept, "period": "", "generation_id": gid}
        reserved = b.CostReserved(
            **common, user_id=user, model_id=model, amount_aud=estimate, outcome="allowed"
        )
        to_budget(dept, reserved)
        log.append(stream, routed(model, str(estimate)), tick())
        provider = f"p-{model}"
        for attempt in range(1, rng.choice([1, 1, 2, 4]) + 1):
            if rng.random() < 0.2:
                trial = health.CircuitTrialStarted(provider=provider, generation_id=gid)
                log.append(provider_stream(provider), trial, tick())
            outcome: g.Payload = (
                health.ProviderCallSucceeded(provider=provider, model_id=model, generation_id=gid)
                if rng.random() < 0.5
                else health.ProviderCallFailed(
                    provider=provider,
                    model_id=model,
                    generation_id=gid,
                    attempt=attempt,
                    reason="HTTP 500",
                    retryable=True,
                )
            )
            log.append(provider_stream(provider), outcome, tick())
        if fate < 0.3:
            rerouted = g.GenerationRerouted(
                failed_model_id=model,
                reason="provider_error: HTTP 500",
                model_id="m4",
                provider="p-m4",
                estimated_cost_aud=estimate,
            )
            log.append(stream, rerouted, tick())
        if fate < 0.35:
            log.append(stream, g.GenerationFailed(reason="down", model_id=model), tick())
            to_budget(dept, b.ReservationReleased(**common, amount_aud=estimate, reason="x"))
            continue
        image, charged = charged_image(gid, user, model, estimate, common)
        log.append(stream, image, tick())
        to_budget(dept, charged)
        cost = image.cost_aud
        log.append(stream, g.GenerationCharged(cost_aud=cost, budget_stream_id="b"), tick())
        if rng.random() < 0.5:  # its generation.completed webhook, delivered or given up
            delivery = webhook_delivery_stream(UUID(int=rng.getrandbits(128)))
            of = {"department_id": dept, "kind": w.Kind.GENERATION_COMPLETED}
            failures = rng.choice([0, 0, 1, 3])
            for attempt in range(1, failures + 1):
                retry = None if attempt == 3 else at + timedelta(seconds=30)
                failed = w.WebhookAttemptFailed(
                    attempt=attempt, error="HTTP 500", retry_at=retry, status_code=500, **of
                )
                log.append(delivery, failed, tick())
            ending: g.Payload = (
                w.WebhookDeadLettered(attempts=3, last_error="HTTP 500", **of)
                if failures == 3
                else w.WebhookDelivered(attempt=failures + 1, status_code=204, **of)
            )
            log.append(delivery, ending, tick())
        if rng.random() < 0.3:
            crossed = b.BudgetThresholdCrossed(
                department_id=dept,
                period="",
                threshold_percent=rng.choice([80, 90, 100]),
                spent_aud=cost,
                limit_aud=Decimal("0.50"),
            )
            to_budget(dept, crossed)
        if rng.random() < 0.1:
            standing = b.BudgetSet(
                department_id=dept,
                period=None,
                policy=b.BudgetPolicy(
                    monthly_limit_aud=Decimal("9"),
                    enforcement=b.Enforcement.HARD,
                    strategy=b.Strategy.QUALITY,
                ),
            )
            log.append(budget_policy_stream(dept), standing, tick())
    return log


# --- records -----------------------------------------------------------------------------


def test_a_record_is_the_fact_of_its_event() -> None:
    log = random_log(1)
    for record, event in zip(records(log), log.events, strict=True):
        assert stamp(record) == stamp(event) == timestamp(event.recorded_at)
        assert record.recorded_at == event.recorded_at
        assert record.actor == event.actor
        assert (record.stream_id, record.version, record.type) == (
            event.stream_id,
            event.version,
            event.type,
        )


@pytest.mark.parametrize("seed", range(12))
def test_folding_records_in_batches_agrees_with_applying_events(seed: int) -> None:
    log = random_log(seed)
    rng = random.Random(seed)
    facts = records(log)
    for projection in ALL_PROJECTIONS:
        assert projection.fold is not None
        views: dict[str, View] = {}
        start = 0
        while start < len(facts):
            end = start + rng.choice([1, 3, 10, 1000])
            # Redeliver a few earlier records in each batch: they must change nothing.
            again = rng.sample(facts[:start], min(start, rng.randint(0, 3)))
            chunk = [*again, *facts[start:end]]
            touched = [(key, r) for r in chunk for key in projection.keys(r)]
            views.update(projection.fold(dict(views), touched))
            start = end
        assert views == fold(projection, log.events), (projection.name, seed)


def test_each_generated_log_reaches_every_projection_and_fate() -> None:
    # So that the equivalence above is checked on every kind of document and event.
    log = random_log(3)
    types = {e.type for e in log.events}
    assert types >= {t for p in ALL_PROJECTIONS for t in p.types or ()} - {
        "GenerationRejected",
        "PromptRejected",
        "WebhookDeadLettered",
    }
    seen = {e.type for seed in range(12) for e in random_log(seed).events}
    assert seen == {t for p in ALL_PROJECTIONS for t in p.types or ()}


def test_a_charge_counts_on_its_sydney_day_across_the_end_of_daylight_saving() -> None:
    log = Log()
    stream = budget_stream("research", "2026-04")
    policy = b.BudgetPolicy(
        monthly_limit_aud=Decimal("100"), enforcement=b.Enforcement.SOFT, strategy=b.Strategy.COST
    )
    log.append(stream, b.BudgetSet(department_id="research", period="2026-04", policy=policy))
    # From before the Sydney midnight that starts 5 April (AEDT) to after the one that
    # ends it (AEST), through the hour that repeats.
    instants = [
        DST_ENDS + timedelta(minutes=m, seconds=s) for m in range(-200, 1400, 7) for s in (0, 59)
    ]
    for n, at in enumerate(instants):
        charge = b.CostCharged(
            department_id="research",
            period="2026-04",
            generation_id=UUID(int=n),
            user_id="u",
            model_id="m",
            amount_aud=Decimal("1"),
            reserved_aud=Decimal("0"),
        )
        log.append(stream, charge, at)
    expected: dict[str, int] = {}
    for at in instants:
        day = at.astimezone(SYDNEY).date().isoformat()
        expected[day] = expected.get(day, 0) + 1
    assert list(expected) == ["2026-04-04", "2026-04-05", "2026-04-06"]
    for facts in (log.events, records(log)):
        doc = fold(budget.PROJECTION, facts)["research:2026-04"]  # type: ignore[arg-type]
        assert {day: int(Decimal(total)) for day, total in doc["by_day"].items()} == expected


# --- the runner over a RecordLog ---------------------------------------------------------


def test_runner_over_records_writes_what_applying_events_gives(tmp_path: Path) -> None:
    log = random_log(5)
    views = SqliteViewStore(tmp_path / "views.db")
    runner = ProjectionRunner(RecordsOf(log), views, ALL_PROJECTIONS, batch_size=7)
    assert runner.run_until_caught_up() == len(log.events)
    for projection in ALL_PROJECTIONS:
        assert views.position(projection.name) == len(log.events)
        expected = fold(projection, log.events)
        assert {doc_key(projection, d): d for d in views.list(projection.name)} == expected


def doc_key(projection: Projection, doc: View) -> str:
    if projection is generation_status.PROJECTION:
        return str(doc["id"])
    if projection is budget.PROJECTION:
        return f"{doc['department_id']}:{doc['period']}"
    if projection is provider_health.PROJECTION:
        return str(doc["provider"])
    if projection is webhook_deliveries.PROJECTION:
        return str(doc["delivery_id"])
    return str(doc["department_id"])


def test_runner_reads_only_the_types_its_projections_fold(tmp_path: Path) -> None:
    log = random_log(6)
    source = RecordsOf(log)
    views = SqliteViewStore(tmp_path / "views.db")
    runner = ProjectionRunner(source, views, [budget.POLICY_PROJECTION], batch_size=4)
    # Batches without a BudgetSet still move the position on.
    assert runner.run_until_caught_up() == len(log.events)
    assert set(source.handed_out) == {"BudgetSet"}
    assert views.position(budget.POLICY_NAME) == len(log.events)


# --- splitting the streams between workers -----------------------------------------------


def test_streams_are_split_where_the_events_are() -> None:
    sample = sorted(["a"] * 50 + ["b"] * 10 + ["c"] * 10 + ["d"] * 30)
    assert split_streams(sample, 2) == [StreamRange(None, "b"), StreamRange("b", None)]
    parts = split_streams(sample, 4)
    assert parts == [
        StreamRange(None, "b"),
        StreamRange("b", "d"),
        StreamRange("d", None),
    ]  # "a" alone is half the sample: it cannot be split
    for stream in "abcdz":
        assert sum(stream in part for part in parts) == 1


def test_a_sample_that_cannot_be_split_gives_one_range() -> None:
    assert split_streams([], 2) == [StreamRange()]
    assert split_streams(["a", "a", "a"], 3) == [StreamRange()]
    assert "anything" in StreamRange()
    assert "b" not in StreamRange("c", None)
    assert "c" in StreamRange("c", "d")
    assert "d" not in StreamRange("c", "d")
