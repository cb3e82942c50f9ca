"""Screening decisions: what the policy does with the personal data and content found.

The analyzer (Presidio, behind a port) finds entities and the moderators flag content
categories; this module decides, purely, whether the prompt is rejected, which spans
are replaced before a provider sees the prompt, and how the rejection reads. The
replacing itself is the redactor's (presidio-anonymizer, behind a port).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from domain.generation import FindingSummary
from domain.screening_policy import (
    PUBLIC_NAME_TYPES,
    Action,
    EntityRule,
    PolicyBook,
    ScreeningPolicy,
    default_policy_book,
)

__all__ = [
    "DEFAULT_POLICY",
    "Action",
    "EntityRule",
    "Finding",
    "PolicyBook",
    "Redactor",
    "ScreeningOutcome",
    "ScreeningPolicy",
    "judge_content",
    "screen",
    "timed_out",
]

# Why a prompt whose analysis ran past its time bound is rejected: never let through,
# since what it holds is unknown.
SCREENING_TIMEOUT = "screening_timeout"

# The organisation's policy as shipped: what a department without overrides gets.
DEFAULT_POLICY = default_policy_book().organisation


@dataclass(frozen=True, slots=True)
class Finding:
    """One entity the analyzer found: its type, span in the prompt and confidence."""

    entity_type: str
    start: int
    end: int
    score: float


class Redactor(Protocol):
    def redact(self, text: str, spans: Sequence[FindingSummary]) -> str:
        """`text` with each span replaced by `<ENTITY_TYPE>`; overlapping spans become one."""
        ...


@dataclass(frozen=True, slots=True)
class ScreeningOutcome:
    rejected: bool
    reason: str
    redacted: str | None  # None when `screen` was given no redactor: only the decision
    findings: tuple[FindingSummary, ...] = field(default=())
    moderated_by: tuple[str, ...] = ()
    moderation_skipped: tuple[str, ...] = ()

    @property
    def redacted_prompt(self) -> str:
        """The prompt a provider may see; only when `screen` was given a redactor."""
        if self.redacted is None:
            raise ValueError("no redacted prompt: screen() was called without a redactor")
        return self.redacted

    @property
    def entity_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(f.entity_type for f in self.findings).items()))


def screen(
    prompt: str,
    findings: Sequence[Finding],
    policy: ScreeningPolicy,
    redactor: Redactor | None = None,
) -> ScreeningOutcome:
    """Apply `policy`'s entity rules to the analyzer's `findings` for `prompt`."""
    public = policy.public_name_spans(prompt)
    summaries: list[FindingSummary] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        rule = policy.rule_for(finding.entity_type)
        if finding.score < rule.min_score:
            continue
        is_public = finding.entity_type in PUBLIC_NAME_TYPES and any(
            start <= finding.start and finding.end <= end for start, end in public
        )
        summaries.append(
            FindingSummary(
                entity_type=finding.entity_type,
                start=finding.start,
                end=finding.end,
                score=round(finding.score, 3),
                action="allow" if is_public else rule.action,
            )
        )
    hidden = [s for s in summaries if s.action != "allow"]
    redacted = None if redactor is None else redactor.redact(prompt, hidden)
    blocked = sorted({s.entity_type for s in summaries if s.action == "block"})
    if blocked:
        reason = f"personal_data: {', '.join(blocked)}"
        return ScreeningOutcome(True, reason, redacted, tuple(summaries))
    return ScreeningOutcome(False, "", redacted, tuple(summaries))


def timed_out() -> ScreeningOutcome:
    """The outcome of a prompt whose analysis was abandoned: rejected, nothing found."""
    return ScreeningOutcome(True, SCREENING_TIMEOUT, None)


def judge_content(
    outcome: ScreeningOutcome,
    flagged: Iterable[str],
    policy: ScreeningPolicy,
    *,
    moderated_by: Sequence[str] = (),
    skipped: Sequence[str] = (),
) -> ScreeningOutcome:
    """Reject for the content categories the moderators flagged that `policy` blocks."""
    blocked = sorted({category for category in flagged if policy.blocks(category)})
    judged = replace(outcome, moderated_by=tuple(moderated_by), moderation_skipped=tuple(skipped))
    if outcome.rejected or not blocked:
        return judged
    return replace(judged, rejected=True, reason=f"content_policy: {', '.join(blocked)}")
