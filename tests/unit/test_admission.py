"""The door's decider (domain/admission.py): screening, eligibility and a hard budget,
decided without I/O. Sealing is a stand-in that keeps the text visible to the test."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from domain import budget
from domain.admission import UNSCREENED_PROMPT, Admitted, Door, Refusal, Refused, admit
from domain.budget import Budget, BudgetPolicy, Enforcement, Strategy
from domain.catalogue import Catalogue, ModelRequirements
from domain.generation import (
    FindingSummary,
    GenerationRequested,
    PromptRejected,
    PromptScreened,
    SealedText,
)
from domain.routing import Eligibility, describe_exclusions, exclusions
from domain.screening import ScreeningOutcome, timed_out
from tests.unit.test_budget_decider import apply
from tests.unit.test_routing import TODAY, catalogue, model

PROMPT = "a receipt showing card 4111 1111 1111 1111 on a table"
REDACTED = "a receipt showing card <CREDIT_CARD> on a table"
CARD = FindingSummary(entity_type="CREDIT_CARD", start=23, end=42, score=1.0, action="block")
CHEAP_AND_DEAR = catalogue(
    model("cheap", "a", "0.10"), model("dear", "b", "0.50", regions=["us"], sla_percent="99")
)


def sealed(text: str) -> SealedText:
    return SealedText(subject_id="alice", nonce="n", ciphertext=text)


def requested(model_id: str | None = None) -> GenerationRequested:
    return GenerationRequested(
        generation_id=uuid4(),
        user_id="alice",
        department_id="marketing",
        prompt=sealed(PROMPT),
        size="1024x1024",
        quality="standard",
        model=model_id,
        request_hash="plain",
    )


def policy(
    limit: str = "10",
    enforcement: Enforcement = Enforcement.HARD,
    requirements: ModelRequirements | None = None,
) -> BudgetPolicy:
    return BudgetPolicy(
        monthly_limit_aud=Decimal(limit),
        enforcement=enforcement,
        strategy=Strategy.COST,
        requirements=requirements or ModelRequirements(),
    )


def door(
    standing: BudgetPolicy | None = None,
    month: Budget | None = None,
    cat: Catalogue = CHEAP_AND_DEAR,
) -> Door:
    return Door(
        budget=month or Budget(),
        budget_policy=standing or policy(),
        period="2026-11",
        catalogue=cat,
        enabled_providers=frozenset({"a", "b"}),
        today=TODAY,
    )


def passed(prompt: str = "a gum tree") -> ScreeningOutcome:
    return ScreeningOutcome(False, "", prompt, moderated_by=("terms",))


def decide(
    screening: ScreeningOutcome, at: Door, request: GenerationRequested | None = None
) -> Admitted | Refused:
    return admit(
        request or requested(), screening, "p1", at, seal=sealed, keyed_request_hash="keyed"
    )


def test_a_screened_request_is_admitted_as_the_request_and_its_screening() -> None:
    decision = decide(passed("a <PERSON> by the sea"), door())
    assert isinstance(decision, Admitted)
    request, screened = decision.events
    assert isinstance(request, GenerationRequested)
    assert isinstance(screened, PromptScreened)
    assert (request.prompt.ciphertext, request.prompt_redacted) == (PROMPT, False)
    assert request.request_hash == "plain"
    assert screened.redacted_prompt.ciphertext == "a <PERSON> by the sea"
    assert (screened.policy_version, screened.moderated_by) == ("p1", ("terms",))


def test_a_blocked_prompt_is_recorded_redacted_with_a_keyed_hash_and_refused() -> None:
    blocked = ScreeningOutcome(True, "personal_data: CREDIT_CARD", REDACTED, (CARD,))
    decision = decide(blocked, door())
    assert isinstance(decision, Refused)
    assert (decision.refusal, decision.detail) == (
        Refusal.PROMPT_REJECTED,
        "personal_data: CREDIT_CARD",
    )
    request, rejected = decision.events
    assert isinstance(request, GenerationRequested)
    assert isinstance(rejected, PromptRejected)
    assert (request.prompt.ciphertext, request.prompt_redacted) == (REDACTED, True)
    assert request.request_hash == "keyed"
    assert "4111" not in request.model_dump_json() + rejected.model_dump_json()
    assert rejected.entity_counts == {"CREDIT_CARD": 1}


def test_a_prompt_whose_screening_timed_out_keeps_nothing_of_itself() -> None:
    decision = decide(timed_out(), door())
    assert isinstance(decision, Refused)
    request, rejected = decision.events
    assert isinstance(request, GenerationRequested)
    assert isinstance(rejected, PromptRejected)
    assert request.prompt.ciphertext == UNSCREENED_PROMPT
    assert rejected.reason == "screening_timeout"


def test_screening_is_decided_before_the_budget_and_the_catalogue() -> None:
    spent = door(standing=policy(limit="0"))
    blocked = ScreeningOutcome(True, "content_policy: graphic_violence", "a beheading")
    decision = decide(blocked, spent)
    assert isinstance(decision, Refused)
    assert decision.refusal is Refusal.PROMPT_REJECTED


def holding(standing: BudgetPolicy, amount: str) -> Budget:
    """A month under `standing` with `amount` AUD reserved by another generation."""
    decision = budget.reserve(
        Budget(),
        budget.CostLine("marketing", "2026-11", uuid4(), "bob", "cheap"),
        policy=standing,
        estimate=Decimal(amount),
    )
    return apply(Budget(), decision.events)


def test_a_hard_budget_that_cannot_cover_the_cheapest_eligible_model_is_refused() -> None:
    standing = policy(limit="1.00")
    decision = decide(passed(), door(standing, holding(standing, "0.95")))
    assert isinstance(decision, Refused)
    assert (decision.refusal, decision.events) == (Refusal.BUDGET_EXHAUSTED, ())
    assert "has 0.05 AUD left; this generation needs 0.10 AUD" in decision.detail
    # 0.10 left covers the cheapest model exactly: admitted, routing reserves it.
    roomier = policy(limit="1.05")
    assert isinstance(decide(passed(), door(roomier, holding(roomier, "0.95"))), Admitted)


def test_a_soft_or_warn_budget_is_never_refused_at_the_door() -> None:
    for mode in (Enforcement.SOFT, Enforcement.WARN):
        assert isinstance(decide(passed(), door(policy(limit="0", enforcement=mode))), Admitted)


def test_the_month_s_recorded_limit_is_the_one_that_applies() -> None:
    month = apply(
        Budget(), (budget.BudgetSet(department_id="m", period="2026-11", policy=policy("0")),)
    )
    decision = decide(passed(), door(policy(limit="100"), month))
    assert isinstance(decision, Refused)
    assert decision.refusal is Refusal.BUDGET_EXHAUSTED


def test_requirements_no_model_meets_are_refused_naming_the_rule() -> None:
    australian = policy(
        requirements=ModelRequirements(regions=("us",), min_sla_percent=Decimal("99.5"))
    )
    decision = decide(passed(), door(australian))
    assert isinstance(decision, Refused)
    assert (decision.refusal, decision.events) == (Refusal.NO_ELIGIBLE_MODEL, ())
    assert decision.detail.endswith("requirements: residency excluded cheap; sla excluded dear")


def test_a_requested_model_names_what_excluded_it_and_not_the_others() -> None:
    licensed = policy(requirements=ModelRequirements(min_sla_percent=Decimal("99.5")))
    decision = decide(passed(), door(licensed), requested("dear"))
    assert isinstance(decision, Refused)
    assert decision.detail.endswith(
        "as dear under the department's requirements: sla excluded dear"
    )


def test_exclusions_answer_none_when_a_model_may_serve() -> None:
    eligibility = Eligibility(frozenset({"a", "b"}), TODAY, requirements=ModelRequirements())
    assert exclusions(CHEAP_AND_DEAR, eligibility) is None
    none_commercial = catalogue(model("free", "a", "0", commercial_use=False))
    excluded = exclusions(none_commercial, eligibility)
    assert excluded == {"licence": ["free"]}
    assert describe_exclusions(excluded) == "licence excluded free"
    assert exclusions(CHEAP_AND_DEAR, Eligibility(frozenset(), TODAY)) == {
        "provider": ["cheap", "dear"]
    }
