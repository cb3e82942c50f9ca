"""The projection functions, folded from hand-built recorded events, and the runner
over an in-memory event log (the views are a real SQLite file)."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from adapters.sqlite_views import SqliteViewStore
from domain import budget as b
from domain import generation as g
from domain import provider_health as ph
from domain import webhooks as w
from domain.envelope import GENESIS_HASH, Actor, Event, NewEvent, record
from domain.streams import (
    budget_policy_stream,
    budget_stream,
    generation_stream,
    provider_stream,
    webhook_delivery_stream,
)
from projections import ALL_PROJECTIONS, budget, generation_status, webhook_deliveries
from projections.base import Fact, Projection, View, timestamp
from projections.runner import ProjectionRunner, replay_all
from services.ports import PositionedEvent

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
USER = Actor(user_id="u-ada", roles=("Generator.Standard",), department_id="research")
SEALED = g.SealedText(subject_id="u-ada", nonce="bm9uY2U=", ciphertext="U0VDUkVUIFBST01QVA==")
POLICY = b.BudgetPolicy(
    monthly_limit_aud=Decimal("1.00"), enforcement=b.Enforcement.SOFT, strategy=b.Strategy.COST
)


@dataclass
class Log:
    """An in-memory EventLog that records events the way the real store does."""

    events: list[Event] = field(default_factory=list)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)

    def append(self, stream_id: str, payload: g.Payload, at: datetime = T0) -> Event:
        version, prev_hash = self.heads.get(stream_id, (0, GENESIS_HASH))
        new = NewEvent(
            type=payload.TYPE,
            data=payload.model_dump(mode="json"),
            actor=USER,
            correlation_id=uuid4(),
        )
        event = record(
            new, stream_id=stream_id, version=version + 1, prev_hash=prev_hash, recorded_at=at
        )
        self.heads[stream_id] = (event.version, event.hash)
        self.events.append(event)
        return event

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[PositionedEvent]:
        chosen = self.events[after_position : after_position + limit]
        return [PositionedEvent(after_position + i + 1, e) for i, e in enumerate(chosen)]

    def last_position(self) -> int:
        return len(self.events)


def fold(projection: Projection, events: list[Event]) -> dict[str, View]:
    views: dict[str, View] = {}
    for event in events:
        for key in projection.keys(event):
            views[key] = projection.apply(views.get(key), event)
    return views


def requested(gid: UUID, user: str = "u-ada", department: str = "research") -> g.Payload:
    return g.GenerationRequested(
        generation_id=gid,
        user_id=user,
        department_id=department,
        prompt=SEALED,
        size="1024x1024",
        quality="hd",
        style="natural",
        model="dall-e-3",
        request_hash="0" * 64,
    )


def finding(entity_type: str, action: Any) -> g.FindingSummary:
    return g.FindingSummary(entity_type=entity_type, start=0, end=4, score=0.9, action=action)


def routed(model_id: str = "dall-e-3", estimate: str = "0.12") -> g.Payload:
    return g.GenerationRouted(
        model_id=model_id,
        provider="local",
        ranked_models=(model_id, "sdxl"),
        estimated_cost_aud=Decimal(estimate),
        budget_stream_id=budget_stream("research", "2026-03"),
        budget_period="2026-03",
        catalogue_version="c1",
    )


def happy_path(log: Log, gid: UUID) -> None:
    stream = generation_stream(gid)
    log.append(stream, requested(gid), T0)
    screened = g.PromptScreened(
        findings=(finding("PHONE_NUMBER", "redact"), finding("EMAIL_ADDRESS", "redact")),
        redacted_prompt=SEALED,
        policy_version="p-7",
    )
    log.append(stream, screened, T0 + timedelta(seconds=1))
    log.append(stream, routed(), T0 + timedelta(seconds=2))
    image = g.ImageGenerated(
        model_id="sdxl",
        image_ref=f"images/{gid}.png",
        sha256="ab" * 32,
        content_type="image/png",
        bytes=1234,
        cost_aud=Decimal("0.10"),
    )
    log.append(stream, image, T0 + timedelta(seconds=3))
    charged = g.GenerationCharged(cost_aud=Decimal("0.10"), budget_stream_id="b")
    log.append(stream, charged, T0 + timedelta(seconds=4))


# --- generation status -------------------------------------------------------------------


def test_a_generation_is_followed_from_request_to_charge() -> None:
    log, gid = Log(), uuid4()
    happy_path(log, gid)
    views = fold(generation_status.PROJECTION, log.events)
    assert list(views) == [str(gid)]
    doc = views[str(gid)]
    assert doc["status"] == "charged"
    assert (doc["user_id"], doc["department_id"]) == ("u-ada", "research")
    assert (doc["size"], doc["quality"], doc["style"], doc["model"]) == (
        "1024x1024",
        "hd",
        "natural",
        "dall-e-3",
    )
    assert doc["model_id"] == "sdxl"  # the model that actually served it
    assert (doc["estimated_cost_aud"], doc["cost_aud"]) == ("0.12", "0.10")
    assert doc["screening"] == {
        "outcome": "redacted",
        "entity_types": ["EMAIL_ADDRESS", "PHONE_NUMBER"],
        "policy_version": "p-7",
    }
    assert doc["image_ref"] == f"images/{gid}.png"
    assert doc["image_sha256"] == "ab" * 32
    assert doc["created_at"] == "2026-03-10T01:00:00.000000+00:00"
    assert doc["updated_at"] == "2026-03-10T01:00:04.000000+00:00"
    assert list(doc["timestamps"]) == ["requested", "screened", "routed", "generated", "charged"]
    assert doc["version"] == 5
    assert "U0VDUkVU" not in json.dumps(views)  # no prompt ciphertext in the view


def test_screening_without_redactions_passes() -> None:
    log, gid = Log(), uuid4()
    log.append(generation_stream(gid), requested(gid))
    clean = g.PromptScreened(
        findings=(finding("PERSON", "allow"),), redacted_prompt=SEALED, policy_version="p-7"
    )
    log.append(generation_stream(gid), clean)
    doc = fold(generation_status.PROJECTION, log.events)[str(gid)]
    assert doc["status"] == "screened"
    assert doc["screening"] == {"outcome": "passed", "entity_types": [], "policy_version": "p-7"}


def test_a_rejected_prompt_names_what_blocked_it() -> None:
    log, gid = Log(), uuid4()
    log.append(generation_stream(gid), requested(gid))
    rejected = g.PromptRejected(
        reason="personal data that may not be sent",
        findings=(finding("CREDIT_CARD", "block"), finding("EMAIL_ADDRESS", "redact")),
        policy_version="p-7",
    )
    log.append(generation_stream(gid), rejected)
    doc = fold(generation_status.PROJECTION, log.events)[str(gid)]
    assert doc["status"] == "rejected"
    assert doc["screening"]["outcome"] == "rejected"
    assert doc["screening"]["entity_types"] == ["CREDIT_CARD"]
    assert doc["reason"] == "personal data that may not be sent"
    assert set(doc["timestamps"]) == {"requested", "rejected"}


def test_budget_rejection_and_provider_failure_are_terminal_with_a_reason() -> None:
    log, over, broken = Log(), uuid4(), uuid4()
    for gid in (over, broken):
        log.append(generation_stream(gid), requested(gid))
        log.append(
            generation_stream(gid),
            g.PromptScreened(findings=(), redacted_prompt=SEALED, policy_version="p"),
        )
    log.append(
        generation_stream(over),
        g.GenerationRejected(reason="budget_exceeded", detail="hard budget of 1 AUD"),
    )
    log.append(generation_stream(broken), routed("dall-e-3"))
    log.append(generation_stream(broken), g.GenerationFailed(reason="timeout", model_id=None))
    views = fold(generation_status.PROJECTION, log.events)
    assert (views[str(over)]["status"], views[str(over)]["reason"]) == (
        "rejected",
        "budget_exceeded",
    )
    assert views[str(broken)]["status"] == "failed"
    assert views[str(broken)]["reason"] == "timeout"
    assert views[str(broken)]["model_id"] == "dall-e-3"  # kept: the failure named none


def test_generation_keys_come_from_generation_streams_only() -> None:
    log, gid = Log(), uuid4()
    event = log.append(generation_stream(gid), requested(gid))
    assert generation_status.keys(event) == (str(gid),)
    budget_event = log.append(
        budget_policy_stream("research"),
        b.BudgetSet(department_id="research", period=None, policy=POLICY),
    )
    assert generation_status.keys(budget_event) == ()


def test_apply_leaves_its_input_alone_and_skips_a_redelivered_event() -> None:
    log, gid = Log(), uuid4()
    happy_path(log, gid)
    first_three = fold(generation_status.PROJECTION, log.events[:3])[str(gid)]
    snapshot = copy.deepcopy(first_three)
    fourth = generation_status.apply(first_three, log.events[3])
    assert first_three == snapshot
    assert fourth["status"] == "generated"
    for old in log.events[:4]:
        assert generation_status.apply(fourth, old) is fourth


# --- budget --------------------------------------------------------------------------


def month_stream(log: Log) -> str:
    stream = budget_stream("research", "2026-03")
    log.append(stream, b.BudgetSet(department_id="research", period="2026-03", policy=POLICY))
    return stream


def reserve(log: Log, gid: UUID, amount: str, user: str = "u-ada", model: str = "m1") -> Event:
    return log.append(
        budget_stream("research", "2026-03"),
        b.CostReserved(
            department_id="research",
            period="2026-03",
            generation_id=gid,
            user_id=user,
            model_id=model,
            amount_aud=Decimal(amount),
            outcome="allowed",
        ),
    )


def charge(
    log: Log,
    gid: UUID,
    amount: str,
    reserved: str,
    user: str = "u-ada",
    model: str = "m1",
    at: datetime = T0,
) -> Event:
    return log.append(
        budget_stream("research", "2026-03"),
        b.CostCharged(
            department_id="research",
            period="2026-03",
            generation_id=gid,
            user_id=user,
            model_id=model,
            amount_aud=Decimal(amount),
            reserved_aud=Decimal(reserved),
        ),
        at,
    )


def test_budget_sums_are_exact_and_broken_down() -> None:
    log = Log()
    month_stream(log)
    spends = [("0.10", "u-ada", "m1"), ("0.20", "u-bob", "m1"), ("0.07", "u-ada", "m2")]
    # 13:30 UTC on the 10th is already 00:30 on the 11th in Sydney (AEDT, +11).
    days = [T0, T0 + timedelta(hours=12, minutes=30), T0 + timedelta(hours=13)]
    for (amount, user, model), at in zip(spends, days, strict=True):
        gid = uuid4()
        reserve(log, gid, "0.12", user, model)
        charge(log, gid, amount, "0.12", user, model, at)
    doc = fold(budget.PROJECTION, log.events)["research:2026-03"]
    assert (doc["department_id"], doc["period"]) == ("research", "2026-03")
    assert (doc["limit_aud"], doc["enforcement"], doc["strategy"]) == (
        "1.00",
        "soft",
        "cost_optimised",
    )
    assert Decimal(doc["spent_aud"]) == Decimal("0.37")
    assert doc["spent_aud"] == "0.37"  # 0.1 + 0.2 is exactly 0.3 here
    assert doc["reserved_aud"] == "0.00"
    assert doc["remaining_aud"] == "0.63"
    assert doc["charged_count"] == 3
    assert doc["by_model"] == {"m1": "0.30", "m2": "0.07"}
    assert doc["by_user"] == {"u-ada": "0.17", "u-bob": "0.20"}
    assert doc["by_day"] == {"2026-03-10": "0.10", "2026-03-11": "0.27"}
    assert doc["overrun"] is False
    assert doc["version"] == 7


def test_reservations_hold_budget_until_released_or_charged() -> None:
    log = Log()
    month_stream(log)
    kept, dropped = uuid4(), uuid4()
    reserve(log, kept, "0.40")
    reserve(log, dropped, "0.25")
    held = fold(budget.PROJECTION, log.events)["research:2026-03"]
    assert (held["reserved_aud"], held["remaining_aud"]) == ("0.65", "0.35")
    log.append(
        budget_stream("research", "2026-03"),
        b.ReservationReleased(
            department_id="research",
            period="2026-03",
            generation_id=dropped,
            amount_aud=Decimal("0.25"),
            reason="failed",
        ),
    )
    released = fold(budget.PROJECTION, log.events)["research:2026-03"]
    assert (released["reserved_aud"], released["spent_aud"]) == ("0.40", "0")
    charge(log, kept, "0.35", "0.40")  # cheaper than estimated: the rest is freed
    settled = fold(budget.PROJECTION, log.events)["research:2026-03"]
    assert (settled["reserved_aud"], settled["spent_aud"]) == ("0.00", "0.35")
    assert settled["remaining_aud"] == "0.65"


def test_soft_budget_overrun_and_thresholds() -> None:
    log = Log()
    stream = month_stream(log)
    gid = uuid4()
    reserve(log, gid, "0.90")
    charge(log, gid, "1.25", "0.90")
    for percent in (100, 80, 90):
        log.append(
            stream,
            b.BudgetThresholdCrossed(
                department_id="research",
                period="2026-03",
                threshold_percent=percent,
                spent_aud=Decimal("1.25"),
                limit_aud=Decimal("1.00"),
            ),
        )
    doc = fold(budget.PROJECTION, log.events)["research:2026-03"]
    assert doc["remaining_aud"] == "-0.25"
    assert doc["overrun"] is True
    assert doc["thresholds_crossed"] == [80, 90, 100]


def test_a_redelivered_charge_is_not_counted_twice() -> None:
    log = Log()
    month_stream(log)
    gid = uuid4()
    reserve(log, gid, "0.12")
    charged = charge(log, gid, "0.12", "0.12")
    once = fold(budget.PROJECTION, log.events)["research:2026-03"]
    again = budget.apply(once, charged)
    assert again is once
    assert (again["spent_aud"], again["charged_count"]) == ("0.12", 1)


def test_standing_policy_is_its_own_projection() -> None:
    log = Log()
    month = month_stream(log)
    standing = log.append(
        budget_policy_stream("research"),
        b.BudgetSet(department_id="research", period=None, policy=POLICY),
    )
    assert budget.keys(standing) == ()
    assert budget.policy_keys(log.events[0]) == ()  # the month's copy of the policy
    assert budget.keys(log.events[0]) == ("research:2026-03",)
    assert month == log.events[0].stream_id
    views = fold(budget.POLICY_PROJECTION, log.events)
    assert views == {
        "research": {
            "department_id": "research",
            "limit_aud": "1.00",
            "enforcement": "soft",
            "strategy": "cost_optimised",
            "requirements": {"regions": [], "min_sla_percent": None, "commercial_use": True},
            "set_by": "u-ada",
            "updated_at": "2026-03-10T01:00:00.000000+00:00",
            "version": 1,
        }
    }


# --- the runner, over an in-memory log ---------------------------------------------------


def busy_log(generations: int) -> Log:
    log = Log()
    month_stream(log)
    for _ in range(generations):
        gid = uuid4()
        happy_path(log, gid)
        reserve(log, gid, "0.12")
        charge(log, gid, "0.10", "0.12")
    return log


def test_runner_folds_the_log_into_stored_views(tmp_path: Path) -> None:
    log = busy_log(30)
    views = SqliteViewStore(tmp_path / "views.db")
    runner = ProjectionRunner(log, views, ALL_PROJECTIONS, batch_size=17)
    assert runner.run_until_caught_up() == len(log.events)
    assert runner.run_once() == 0
    for projection in ALL_PROJECTIONS:
        assert views.position(projection.name) == len(log.events)
        for key, doc in fold(projection, log.events).items():
            assert views.get(projection.name, key) == doc
    month = views.get("budget", "research:2026-03")
    assert month is not None
    assert (month["spent_aud"], month["charged_count"]) == ("3.00", 30)


def test_replaying_from_an_older_position_counts_nothing_twice(tmp_path: Path) -> None:
    log = busy_log(10)
    views = SqliteViewStore(tmp_path / "views.db")
    replay_all(log, views)
    before = {p.name: list(views.list(p.name)) for p in ALL_PROJECTIONS}
    for projection in ALL_PROJECTIONS:
        views.apply_batch(projection.name, {}, 7)  # a checkpoint that fell behind
    assert ProjectionRunner(log, views, batch_size=5).run_until_caught_up() == (len(log.events) - 7)
    assert {p.name: list(views.list(p.name)) for p in ALL_PROJECTIONS} == before


def mixed_log() -> Log:
    """Every budget event kind, a policy change, and generations that end differently."""
    log = busy_log(6)
    stream = budget_stream("research", "2026-03")
    gid = uuid4()
    happy_path(log, gid)
    reserve(log, gid, "0.90", user="u-bob", model="m2")
    log.append(
        stream,
        b.ReservationReleased(
            department_id="research",
            period="2026-03",
            generation_id=gid,
            amount_aud=Decimal("0.90"),
            reason="failed",
        ),
    )
    charge(log, uuid4(), "1.25", "0", at=T0 + timedelta(hours=14))
    log.append(
        stream,
        b.BudgetThresholdCrossed(
            department_id="research",
            period="2026-03",
            threshold_percent=80,
            spent_aud=Decimal("1.25"),
            limit_aud=Decimal("1.00"),
        ),
    )
    log.append(
        budget_policy_stream("research"),
        b.BudgetSet(department_id="research", period=None, policy=POLICY),
    )
    provider_outcomes(log, "p-flaky", gid, "FFFFF" + "T" + "SFS")  # opens, half-opens, reopens
    delivery = webhook_delivery_stream(uuid4())
    of: dict[str, Any] = {"department_id": "research", "kind": w.Kind.BUDGET_THRESHOLD_CROSSED}
    failed = w.WebhookAttemptFailed(attempt=1, error="HTTP 500", retry_at=T0, status_code=500, **of)
    log.append(delivery, failed)
    log.append(delivery, w.WebhookDelivered(attempt=2, status_code=204, **of))
    return log


def provider_outcomes(log: Log, provider: str, gid: UUID, script: str) -> None:
    """Append a provider's calls a minute apart: `S` success, `F` failure, `T` a trial."""
    stream = provider_stream(provider)
    for n, step in enumerate(script):
        at = T0 + timedelta(minutes=n)
        if step == "T":
            log.append(stream, ph.CircuitTrialStarted(provider=provider, generation_id=gid), at)
        elif step == "S":
            succeeded = ph.ProviderCallSucceeded(provider=provider, model_id="m", generation_id=gid)
            log.append(stream, succeeded, at)
        else:
            failed = ph.ProviderCallFailed(
                provider=provider,
                model_id="m",
                generation_id=gid,
                attempt=n + 1,
                reason="HTTP 503",
                retryable=True,
            )
            log.append(stream, failed, at)


@pytest.mark.parametrize("projection", ALL_PROJECTIONS, ids=lambda p: p.name)
@pytest.mark.parametrize("batch", [1, 4, 1000])
def test_folding_a_batch_agrees_with_applying_event_by_event(
    projection: Projection, batch: int
) -> None:
    assert projection.fold is not None
    log = mixed_log()
    views: dict[str, View] = {}
    for start in range(0, len(log.events), batch):
        # Each batch also carries a redelivery of the event before it: a no-op.
        chunk = log.events[max(0, start - 1) : start + batch]
        touched = [(key, event) for event in chunk for key in projection.keys(event)]
        loaded = copy.deepcopy(views)
        changed = projection.fold(loaded, touched)
        assert loaded == views  # the loaded documents are left alone
        views.update(changed)
    assert views == fold(projection, log.events)
    assert views  # the log reaches every projection


class Boom(Exception):
    pass


def test_a_failing_batch_writes_nothing_and_is_retried(tmp_path: Path) -> None:
    log = busy_log(6)
    failures: dict[str, int] = defaultdict(int)

    def flaky_apply(view: View | None, event: Fact) -> View:
        if event.type == "CostCharged" and failures["left"] > 0:
            failures["left"] -= 1
            raise Boom("projection bug")
        return budget.apply(view, event)

    flaky = Projection(budget.NAME, budget.keys, flaky_apply, budget.PROJECTION.partition_field)
    views = SqliteViewStore(tmp_path / "views.db")
    runner = ProjectionRunner(log, views, [generation_status.PROJECTION, flaky], batch_size=20)
    assert runner.run_once() == 20  # no charge among the first 20 events
    failures["left"] = 1
    status_docs = list(views.list(generation_status.NAME))
    budget_doc = views.get(budget.NAME, "research:2026-03")
    with pytest.raises(Boom):
        runner.run_once()
    # Neither projection of the failed batch moved: documents and positions together.
    assert views.positions([generation_status.NAME, budget.NAME]) == {
        generation_status.NAME: 20,
        budget.NAME: 20,
    }
    assert list(views.list(generation_status.NAME)) == status_docs
    assert views.get(budget.NAME, "research:2026-03") == budget_doc
    assert runner.run_until_caught_up() == len(log.events) - 20
    month = views.get(budget.NAME, "research:2026-03")
    assert month is not None
    assert (month["spent_aud"], month["charged_count"]) == ("0.60", 6)


def test_a_projection_added_later_catches_up_without_holding_back_the_others(
    tmp_path: Path,
) -> None:
    log = busy_log(4)
    views = SqliteViewStore(tmp_path / "views.db")
    replay_all(log, views, [generation_status.PROJECTION])
    happy_path(log, uuid4())
    runner = ProjectionRunner(log, views, ALL_PROJECTIONS, batch_size=1000)
    runner.run_once()  # each position group reads its own batch
    assert views.position(generation_status.NAME) == len(log.events)
    assert views.position(budget.NAME) == len(log.events)


def test_runner_refuses_two_projections_with_one_name(tmp_path: Path) -> None:
    views = SqliteViewStore(tmp_path / "views.db")
    with pytest.raises(ValueError, match="unique"):
        ProjectionRunner(Log(), views, [budget.PROJECTION, budget.PROJECTION])


def test_a_webhook_delivery_folds_to_its_attempts_last_answer_and_next_try() -> None:
    log = Log()
    delivery, older = uuid4(), uuid4()
    stream = webhook_delivery_stream(delivery)
    of: dict[str, Any] = {"department_id": "design", "kind": w.Kind.GENERATION_COMPLETED}
    retry_at = T0 + timedelta(seconds=30)
    log.append(
        stream,
        w.WebhookAttemptFailed(
            attempt=1, error="HTTP 503", retry_at=retry_at, status_code=503, **of
        ),
        T0,
    )
    log.append(stream, w.WebhookAttemptFailed(attempt=2, error="timed out", retry_at=None, **of))
    log.append(stream, w.WebhookDeadLettered(attempts=2, last_error="timed out", **of))
    # Records made before they named their department are not listed.
    log.append(webhook_delivery_stream(older), w.WebhookDelivered(attempt=1, status_code=204))

    views: dict[str, View] = {}
    seen = []
    for event in log.events:
        for key in webhook_deliveries.keys(event):
            views[key] = webhook_deliveries.apply(views.get(key), event)
            seen.append(dict(views[key]))

    assert list(views) == [str(delivery)]
    assert (seen[0]["state"], seen[0]["last_status"], seen[0]["next_attempt_at"]) == (
        "retrying",
        503,
        timestamp(retry_at),
    )
    assert {k: v for k, v in views[str(delivery)].items() if k not in ("updated_at",)} == {
        "delivery_id": str(delivery),
        "department_id": "design",
        "event": "generation.completed",
        "state": "dead_lettered",
        "attempts": 2,
        "last_status": None,
        "last_error": "timed out",
        "next_attempt_at": None,
        "first_recorded_at": seen[0]["first_recorded_at"],
        "version": 3,
    }
    again = webhook_deliveries.apply(views[str(delivery)], log.events[1])
    assert again is views[str(delivery)]  # redelivered: nothing changes
