"""`donatello audit replay`'s narration: each event in plain words, with the state the
domain's own fold reached after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from domain.audit_reads import AuditLogRead
from domain.budget import (
    BudgetPolicy,
    BudgetSet,
    BudgetThresholdCrossed,
    CostCharged,
    CostReserved,
    Enforcement,
    ReservationReleased,
    Strategy,
)
from domain.envelope import GENESIS_HASH, Actor, Event, NewEvent, record
from domain.generation import (
    FindingSummary,
    GenerationCharged,
    GenerationFailed,
    GenerationRejected,
    GenerationRequested,
    GenerationRerouted,
    GenerationRouted,
    ImageGenerated,
    Payload,
    PromptRejected,
    PromptScreened,
    SealedText,
)
from services.audit_story import story

ALICE = Actor(user_id="alice", roles=("Generator.Standard",), department_id="marketing")
START = datetime(2026, 11, 23, 10, 0, 1, tzinfo=UTC)
GENERATION = UUID("6f1c2c1e-8d7e-4a43-9b7a-0e5f3c2f1a10")
SEALED = SealedText(subject_id="alice", nonce="bm9uY2U=", ciphertext="c2VjcmV0IHByb21wdA==")
BUDGET_STREAM = "budget-marketing-2026-11"
TIMES = "\u00d7"  # the multiplication sign the story counts findings with


def stream(stream_id: str, payloads: list[Payload], actor: Actor = ALICE) -> list[Event]:
    events, prev = [], GENESIS_HASH
    for version, payload in enumerate(payloads, start=1):
        new = NewEvent(
            type=payload.TYPE,
            data=payload.model_dump(mode="json"),
            actor=actor,
            correlation_id=GENERATION,
        )
        at = START + timedelta(seconds=version - 1)
        event = record(new, stream_id=stream_id, version=version, prev_hash=prev, recorded_at=at)
        events.append(event)
        prev = event.hash
    return events


def requested() -> GenerationRequested:
    return GenerationRequested(
        generation_id=GENERATION,
        user_id="alice",
        department_id="marketing",
        prompt=SEALED,
        size="1024x1024",
        quality="standard",
        request_hash="h",
    )


def screened() -> PromptScreened:
    email = FindingSummary(entity_type="EMAIL_ADDRESS", start=3, end=20, score=1.0, action="redact")
    return PromptScreened(
        findings=(email,),
        redacted_prompt=SEALED,
        policy_version="2026-11-01",
        entity_counts={"EMAIL_ADDRESS": 1},
    )


def routed(model: str = "local-sketch", estimate: str = "0.01") -> GenerationRouted:
    return GenerationRouted(
        model_id=model,
        provider="local",
        ranked_models=("local-sketch", "local-studio"),
        estimated_cost_aud=Decimal(estimate),
        budget_stream_id=BUDGET_STREAM,
        budget_period="2026-11",
        catalogue_version="2026-11",
    )


def generated(model: str, cost: str) -> ImageGenerated:
    return ImageGenerated(
        model_id=model,
        image_ref=f"images/{GENERATION}.png",
        sha256="ab" * 32,
        content_type="image/png",
        bytes=2048,
        cost_aud=Decimal(cost),
    )


def charged(cost: str) -> GenerationCharged:
    return GenerationCharged(cost_aud=Decimal(cost), budget_stream_id=BUDGET_STREAM)


def test_a_charged_generation_is_told_step_by_step_with_each_state() -> None:
    events = stream(
        f"generation-{GENERATION}",
        [requested(), screened(), routed(), generated("local-sketch", "0.01"), charged("0.01")],
    )

    lines = list(story(events))

    assert len(lines) == 5
    assert lines[0] == (
        "v1 2026-11-23 10:00:01Z requested by alice (marketing): 1024x1024 standard → requested"
    )
    assert lines[1].startswith(f"v2 2026-11-23 10:00:02Z screened: redacted EMAIL_ADDRESS {TIMES}1")
    assert "(policy 2026-11-01)" in lines[1]
    assert lines[1].endswith("→ screened")
    assert "routed to local-sketch on local (ranked: local-sketch, local-studio)" in lines[2]
    assert "reserved 0.0100 AUD on budget-marketing-2026-11 → routed" in lines[2]
    assert "image made by local-sketch: 2048 bytes image/png" in lines[3]
    assert lines[3].endswith("cost 0.0100 AUD → generated")
    assert lines[4].endswith("charged 0.0100 AUD to budget-marketing-2026-11 → charged")
    assert not any(SEALED.ciphertext in line for line in lines)


def test_rejections_at_screening_and_at_the_budget_end_the_story_rejected() -> None:
    block = FindingSummary(entity_type="AU_TFN", start=0, end=11, score=0.9, action="block")
    at_screening = stream(
        f"generation-{GENERATION}",
        [
            requested(),
            PromptRejected(reason="blocked_pii", findings=(block,), policy_version="2026-11-01"),
        ],
    )
    over_budget = stream(
        f"generation-{GENERATION}",
        [
            requested(),
            screened(),
            GenerationRejected(reason="budget_exceeded", detail="0.0100 over 0.0000 left"),
        ],
    )

    screening_story = list(story(at_screening))
    budget_story = list(story(over_budget))

    assert screening_story[-1].endswith(
        f"rejected at screening: blocked_pii; blocked AU_TFN {TIMES}1"
        " (policy 2026-11-01) → rejected"
    )
    assert budget_story[-1].endswith(
        "rejected: budget_exceeded (0.0100 over 0.0000 left) → rejected"
    )


def test_a_failover_shows_the_new_model_still_routed_then_the_end() -> None:
    events = stream(
        f"generation-{GENERATION}",
        [
            requested(),
            screened(),
            routed(),
            GenerationRerouted(
                failed_model_id="local-sketch",
                reason="provider_error: 503",
                model_id="local-studio",
                provider="local",
                estimated_cost_aud=Decimal("0.02"),
            ),
            generated("local-studio", "0.02"),
            charged("0.02"),
        ],
    )
    failed = stream(
        f"generation-{uuid4()}",
        [requested(), screened(), routed(), GenerationFailed(reason="timeout", model_id=None)],
    )

    lines = list(story(events))

    assert lines[3].endswith(
        "failed over from local-sketch (provider_error: 503) to local-studio on local,"
        " reserved 0.0200 AUD instead → routed"
    )
    assert "image made by local-studio" in lines[4]
    assert lines[5].endswith("charged 0.0200 AUD to budget-marketing-2026-11 → charged")
    assert list(story(failed))[-1].endswith("failed: timeout → failed")


def test_a_budget_month_shows_the_running_spent_and_reserved() -> None:
    maria = Actor(user_id="maria", roles=("Dept.Manager",), department_id="marketing")
    policy = BudgetPolicy(
        monthly_limit_aud=Decimal("0.05"), enforcement=Enforcement.HARD, strategy=Strategy.COST
    )
    other = uuid4()

    def reserve(gid: UUID, amount: str) -> CostReserved:
        return CostReserved(
            department_id="marketing",
            period="2026-11",
            generation_id=gid,
            user_id="alice",
            model_id="local-studio",
            amount_aud=Decimal(amount),
            outcome="allowed",
        )

    events = stream(
        BUDGET_STREAM,
        [
            BudgetSet(department_id="marketing", period="2026-11", policy=policy),
            reserve(GENERATION, "0.04"),
            reserve(other, "0.01"),
            CostCharged(
                department_id="marketing",
                period="2026-11",
                generation_id=GENERATION,
                user_id="alice",
                model_id="local-studio",
                amount_aud=Decimal("0.04"),
                reserved_aud=Decimal("0.04"),
            ),
            BudgetThresholdCrossed(
                department_id="marketing",
                period="2026-11",
                threshold_percent=80,
                spent_aud=Decimal("0.04"),
                limit_aud=Decimal("0.05"),
            ),
            ReservationReleased(
                department_id="marketing",
                period="2026-11",
                generation_id=other,
                amount_aud=Decimal("0.01"),
                reason="failed",
            ),
        ],
        actor=maria,
    )

    lines = list(story(events))

    assert lines[0].endswith(
        "budget set by maria (for 2026-11): 0.0500 AUD a month, hard, cost_optimised"
        " → spent 0.0000 AUD of 0.0500 AUD, reserved 0.0000 AUD"
    )
    assert f"reserved 0.0400 AUD for generation {GENERATION}" in lines[1]
    assert lines[1].endswith("→ spent 0.0000 AUD of 0.0500 AUD, reserved 0.0400 AUD")
    assert lines[2].endswith("reserved 0.0500 AUD")
    assert f"charged 0.0400 AUD for generation {GENERATION}" in lines[3]
    assert lines[3].endswith("→ spent 0.0400 AUD of 0.0500 AUD, reserved 0.0100 AUD")
    assert "crossed 80%: 0.0400 AUD of 0.0500 AUD" in lines[4]
    assert f"released 0.0100 AUD of generation {other}: failed" in lines[5]
    assert lines[5].endswith("→ spent 0.0400 AUD of 0.0500 AUD, reserved 0.0000 AUD")


def test_other_streams_are_told_without_a_state_and_without_sealed_text() -> None:
    events = stream("quota-abc-2026-11-23", [requested()])

    (line,) = story(events)

    assert line.startswith("v1 2026-11-23 10:00:01Z GenerationRequested by alice: ")
    assert "prompt=[sealed]" in line
    assert SEALED.ciphertext not in line
    assert list(story([])) == []


def test_reads_of_the_log_say_who_read_what() -> None:
    carol = Actor(user_id="carol", roles=("Compliance.Auditor",))
    read = AuditLogRead(
        user_id="carol",
        department_id=None,
        roles=("Compliance.Auditor",),
        what={"stream_id": "generation-1"},
        count=5,
    )

    (line,) = story(stream("audit-reads-2026-11-23", [read], actor=carol))

    assert line == (
        'v1 2026-11-23 10:00:01Z carol (Compliance.Auditor) read {"stream_id":"generation-1"},'
        " 5 events"
    )


def test_an_image_line_says_what_became_of_the_providers_credential() -> None:
    image = generated("openai-gpt-image-1", "0.0651").model_copy(
        update={
            "provider_credential": "invalid",
            "credential_warnings": ("provider credential: claimSignature.mismatch",),
        }
    )
    events = stream(f"generation-{GENERATION}", [requested(), screened(), routed(), image])
    line = list(story(events))[3]
    assert line.endswith(
        "cost 0.0651 AUD, provider credential invalid;"
        " provider credential: claimSignature.mismatch → generated"
    )
