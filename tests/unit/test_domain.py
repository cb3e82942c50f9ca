"""Envelope hashing, the generation decider, routing, screening and budget months."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from adapters.presidio_redactor import PresidioRedactor
from domain import generation
from domain.budget import Strategy
from domain.catalogue import default_catalogue
from domain.envelope import (
    GENESIS_HASH,
    SYSTEM_ACTOR,
    Actor,
    Event,
    EventText,
    NewEvent,
    canonical_json,
    format_timestamp,
    hashed_fields,
    recompute_hash,
    record,
)
from domain.generation import GenerationRequested, InvalidTransition, SealedText, Status, Step
from domain.money import aud_text
from domain.periods import budget_period, is_period
from domain.routing import Eligibility, rank_models
from domain.screening import DEFAULT_POLICY, Finding, screen

MOMENT = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)


def requested_event() -> NewEvent:
    gid = uuid4()
    payload = GenerationRequested(
        generation_id=gid,
        user_id="alice",
        department_id="marketing",
        prompt=SealedText(subject_id="alice", nonce="bm9uY2U=", ciphertext="Y2lwaGVy"),
        size="1024x1024",
        quality="standard",
        request_hash="0" * 64,
    )
    return NewEvent(
        type=payload.TYPE,
        data=payload.model_dump(mode="json"),
        actor=SYSTEM_ACTOR,
        correlation_id=gid,
    )


def test_hash_covers_every_field_and_chains() -> None:
    first = record(
        requested_event(), stream_id="s", version=1, prev_hash=GENESIS_HASH, recorded_at=MOMENT
    )
    assert recompute_hash(first) == first.hash
    tampered = first.model_copy(update={"data": {**first.data, "size": "1792x1024"}})
    assert recompute_hash(tampered) != first.hash
    moved = first.model_copy(update={"version": 2})
    assert recompute_hash(moved) != first.hash
    second = record(
        requested_event(), stream_id="s", version=2, prev_hash=first.hash, recorded_at=MOMENT
    )
    assert second.prev_hash == first.hash


@pytest.mark.parametrize(
    ("stream_id", "type_", "data", "causation"),
    [
        ("generation-1", "GenerationRequested", {"b": 1, "a": [None, True, 1.5]}, None),
        ('str"eam\\id', "Type\nwith\tescapes", {"ü": "ünïcode ✓", "z": {"y": "\u0000"}}, uuid4()),
        ("budget-dept-2026-11", "BudgetReserved", {}, uuid4()),
        ("s", "T", {"nested": {"deep": [{"k": "v"}, [], {}]}, "emoji": "🎨"}, None),
    ],
)
def test_record_hashes_the_canonical_json_of_every_field(
    stream_id: str, type_: str, data: dict[str, object], causation: object
) -> None:
    """`record` assembles the canonical JSON from parts; it must equal the plain form."""
    new = NewEvent(
        type=type_,
        data=data,
        actor=Actor(user_id='ä"user', roles=("Role.B", "Role.A"), department_id=None),
        correlation_id=uuid4(),
        causation_id=causation,
        schema_version=3,
    )
    event = record(new, stream_id=stream_id, version=7, prev_hash="ab" * 32, recorded_at=MOMENT)
    plain = canonical_json(hashed_fields(**event.model_dump(exclude={"hash"})))
    assert event.hash == hashlib.sha256(plain.encode("utf-8")).hexdigest()
    assert event.hash == recompute_hash(event)
    assert event == Event.model_validate(event.model_dump())  # every field of the right type
    assert (
        record(
            new,
            stream_id=stream_id,
            version=7,
            prev_hash="ab" * 32,
            recorded_at=MOMENT,
            text=EventText.of(new),
        )
        == event
    )


def test_record_refuses_version_zero() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        record(
            requested_event(), stream_id="s", version=0, prev_hash=GENESIS_HASH, recorded_at=MOMENT
        )


def test_timestamps_are_fixed_width_utc() -> None:
    sydney = datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=11)))
    assert format_timestamp(sydney) == "2025-12-31T23:00:00.000000Z"
    assert format_timestamp(MOMENT) == "2026-11-23T01:02:03.456789Z"


def test_generation_steps_in_order_and_terminal_has_none() -> None:
    with pytest.raises(InvalidTransition):
        generation.next_step(generation.Generation())
    event = record(
        requested_event(), stream_id="g", version=1, prev_hash=GENESIS_HASH, recorded_at=MOMENT
    )
    state = generation.fold([event])
    assert state.status is Status.REQUESTED
    assert state.requested_at == MOMENT
    assert generation.next_step(state) is Step.SCREEN


def test_routing_respects_strategy_and_requested_model() -> None:
    catalogue = default_catalogue()
    local = frozenset({"local"})
    cheap = rank_models(
        catalogue,
        Eligibility(local, date(2026, 11, 23)),
        size="1024x1024",
        quality="standard",
        strategy=Strategy.COST,
    )
    assert [c.model.id for c in cheap] == ["local-sketch", "local-studio"]
    best = rank_models(
        catalogue,
        Eligibility(frozenset({"local", "openai", "azure_openai"}), date(2026, 11, 23)),
        size="1024x1024",
        quality="hd",
        strategy=Strategy.QUALITY,
    )
    assert best[0].model.id == "openai-gpt-image-1"
    only = rank_models(
        catalogue,
        Eligibility(local, date(2026, 11, 23), "local-studio"),
        size="1024x1024",
        quality="standard",
        strategy=Strategy.COST,
    )
    assert [c.model.id for c in only] == ["local-studio"]
    assert only[0].price == Decimal("0.0400")


def test_retired_models_are_never_routed_to() -> None:
    catalogue = default_catalogue()
    retired = catalogue.model_copy(
        update={
            "models": tuple(
                m.model_copy(update={"retires_on": date(2026, 1, 1)})
                if m.id == "local-sketch"
                else m
                for m in catalogue.models
            )
        }
    )
    ranked = rank_models(
        retired,
        Eligibility(frozenset({"local"}), date(2026, 11, 23)),
        size="1024x1024",
        quality="standard",
        strategy=Strategy.COST,
    )
    assert "local-sketch" not in [c.model.id for c in ranked]


def test_screening_redacts_blocks_and_ignores_low_scores() -> None:
    prompt = "email ann@example.com card 4111111111111111"
    findings = [
        Finding("EMAIL_ADDRESS", 6, 21, 1.0),
        Finding("CREDIT_CARD", 27, 43, 1.0),
    ]
    outcome = screen(prompt, findings, DEFAULT_POLICY, PresidioRedactor())
    assert outcome.rejected
    assert "CREDIT_CARD" in outcome.reason
    assert outcome.redacted_prompt == "email <EMAIL_ADDRESS> card <CREDIT_CARD>"
    mild = screen("call Ann", [Finding("PERSON", 5, 8, 0.3)], DEFAULT_POLICY, PresidioRedactor())
    assert not mild.rejected
    assert mild.redacted_prompt == "call Ann"


@pytest.mark.parametrize(
    ("utc", "period"),
    [
        (datetime(2026, 10, 31, 12, 59, 59, tzinfo=UTC), "2026-10"),  # 23:59:59 AEDT
        (datetime(2026, 10, 31, 13, 0, 0, tzinfo=UTC), "2026-11"),  # midnight AEDT (UTC+11)
        (datetime(2026, 6, 30, 13, 59, 59, tzinfo=UTC), "2026-06"),  # 23:59:59 AEST
        (datetime(2026, 6, 30, 14, 0, 0, tzinfo=UTC), "2026-07"),  # midnight AEST (UTC+10)
    ],
)
def test_budget_months_roll_over_at_sydney_midnight(utc: datetime, period: str) -> None:
    assert budget_period(utc) == period


def test_a_period_is_always_four_digits_of_year_and_two_of_month() -> None:
    # Schemathesis found it: strftime's %Y gave "8-07" for the year 8.
    assert budget_period(datetime(8, 7, 29, 5, 19, 20, tzinfo=UTC)) == "0008-07"
    assert is_period(budget_period(datetime(8, 7, 29, tzinfo=UTC)))


def test_money_is_shown_with_at_least_four_places_and_never_rounded_or_exponent() -> None:
    assert aud_text(Decimal("0")) == "0.0000"
    assert aud_text("500.00") == "500.0000"
    assert aud_text(Decimal("1E+3")) == "1000.0000"
    assert aud_text(Decimal("-12.54")) == "-12.5400"
    assert aud_text("0.000125") == "0.000125"  # more places kept, never rounded away
