"""The door of `POST /generations`: what a request records, or why it is refused, decided
before anything is stored or queued.

Screening comes first. A prompt the policy blocks is recorded in its redacted form only
(with `PromptRejected`), so the log never holds what was blocked in recoverable form.
A screened prompt is then refused, with nothing recorded, when no model may serve it
under the department's requirements or when a hard budget cannot cover even the
cheapest eligible model. The second check reads a budget that concurrent requests may
change the next moment: it refuses only what cannot succeed now, and the reservation
at routing stays the authority. Everything else is recorded as the request and its
screening in one append.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.budget import Budget, BudgetPolicy, shortfall
from domain.catalogue import Catalogue
from domain.generation import (
    GenerationRequested,
    Payload,
    PromptRejected,
    PromptScreened,
    SealedText,
)
from domain.routing import Eligibility, describe_exclusions, exclusions, rank_models
from domain.screening import ScreeningOutcome

# What stands in the log for a prompt whose screening gave no redacted form (its
# analysis ran out of time): nothing of it is known to be safe to keep.
UNSCREENED_PROMPT = "<UNSCREENED>"


class Refusal(StrEnum):
    PROMPT_REJECTED = "prompt_rejected"
    BUDGET_EXHAUSTED = "budget_exhausted"
    NO_ELIGIBLE_MODEL = "no_eligible_model"


@dataclass(frozen=True, slots=True)
class Admitted:
    events: tuple[Payload, ...]  # GenerationRequested, PromptScreened


@dataclass(frozen=True, slots=True)
class Refused:
    refusal: Refusal
    detail: str  # entity types, categories, rules or amounts: never the prompt
    events: tuple[Payload, ...]  # what the log records of it: nothing, or the redacted request


@dataclass(frozen=True, slots=True)
class Door:
    """What the door knows beside the request: the department's month and the catalogue."""

    budget: Budget
    budget_policy: BudgetPolicy  # the standing policy (its requirements included)
    period: str
    catalogue: Catalogue
    enabled_providers: frozenset[str]
    today: date


def admit(
    requested: GenerationRequested,
    screening: ScreeningOutcome,
    policy_version: str,
    door: Door,
    *,
    seal: Callable[[str], SealedText],
    keyed_request_hash: str,
) -> Admitted | Refused:
    """`requested` holds the prompt sealed as given; `seal` seals another text under the
    requester's key, and `keyed_request_hash` replaces the plain fingerprint when the
    prompt is refused (a plain hash of a body holding a card number can be reversed)."""
    if screening.rejected:
        redacted = screening.redacted if screening.redacted is not None else UNSCREENED_PROMPT
        recorded = requested.model_copy(
            update={
                "prompt": seal(redacted),
                "prompt_redacted": True,
                "request_hash": keyed_request_hash,
            }
        )
        rejected = PromptRejected(
            reason=screening.reason,
            findings=screening.findings,
            policy_version=policy_version,
            entity_counts=screening.entity_counts,
        )
        return Refused(Refusal.PROMPT_REJECTED, screening.reason, (recorded, rejected))
    refused = _unservable(requested, door)
    if refused is not None:
        return refused
    screened = PromptScreened(
        findings=screening.findings,
        redacted_prompt=seal(screening.redacted_prompt),
        policy_version=policy_version,
        entity_counts=screening.entity_counts,
        moderated_by=screening.moderated_by,
        moderation_skipped=screening.moderation_skipped,
    )
    return Admitted((requested, screened))


def _unservable(requested: GenerationRequested, door: Door) -> Refused | None:
    policy = door.budget_policy
    eligibility = Eligibility(
        door.enabled_providers, door.today, requested.model, policy.requirements
    )
    size, quality = requested.size, requested.quality
    candidates = rank_models(
        door.catalogue, eligibility, size=size, quality=quality, strategy=policy.strategy
    )
    if not candidates:
        excluded = exclusions(door.catalogue, eligibility, size=size, quality=quality)
        detail = (
            f"no model serves {requested.size} at {requested.quality} quality"
            + (f" as {requested.model}" if requested.model else "")
            + f" under the department's requirements: {describe_exclusions(excluded or {})}"
        )
        return Refused(Refusal.NO_ELIGIBLE_MODEL, detail, ())
    cheapest = min(c.price for c in candidates)
    short = shortfall(
        door.budget,
        door.budget.reserved,
        policy=policy,
        period=door.period,
        estimate=cheapest,
    )
    if short is not None:
        return Refused(Refusal.BUDGET_EXHAUSTED, short + " (the cheapest eligible model)", ())
    return None
