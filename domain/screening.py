"""Screening policy: what to do with each kind of personal data, and blocked content.

The analyzer (Presidio, behind a port) finds entities; this module decides, purely,
whether the prompt is rejected, and what redacted text the provider may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from domain.generation import FindingSummary

Action = Literal["block", "redact", "allow"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One entity the analyzer found: its type, span in the prompt and confidence."""

    entity_type: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class EntityRule:
    action: Action
    min_score: float = 0.5


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    version: str
    rules: dict[str, EntityRule]
    default_rule: EntityRule = EntityRule("allow")
    blocked_terms: frozenset[str] = frozenset()

    def rule_for(self, entity_type: str) -> EntityRule:
        return self.rules.get(entity_type, self.default_rule)


DEFAULT_POLICY = ScreeningPolicy(
    version="default-2026-11",
    rules={
        "CREDIT_CARD": EntityRule("block", 0.5),
        "IBAN_CODE": EntityRule("block", 0.5),
        "AU_TFN": EntityRule("block", 0.5),
        "AU_MEDICARE": EntityRule("block", 0.5),
        "US_SSN": EntityRule("block", 0.5),
        "EMAIL_ADDRESS": EntityRule("redact", 0.5),
        "PHONE_NUMBER": EntityRule("redact", 0.4),
        "IP_ADDRESS": EntityRule("redact", 0.5),
        "AU_ABN": EntityRule("redact", 0.5),
        "AU_ACN": EntityRule("redact", 0.5),
        "PERSON": EntityRule("redact", 0.85),
    },
    blocked_terms=frozenset({"child sexual", "csam", "beheading"}),
)


@dataclass(frozen=True, slots=True)
class ScreeningOutcome:
    rejected: bool
    reason: str
    redacted_prompt: str
    findings: tuple[FindingSummary, ...] = field(default=())


def screen(prompt: str, findings: Sequence[Finding], policy: ScreeningPolicy) -> ScreeningOutcome:
    """Apply `policy` to the analyzer's `findings` for `prompt`."""
    lowered = prompt.casefold()
    blocked_term = next((t for t in sorted(policy.blocked_terms) if t in lowered), None)
    summaries: list[FindingSummary] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        rule = policy.rule_for(finding.entity_type)
        if finding.score < rule.min_score:
            continue
        summaries.append(
            FindingSummary(
                entity_type=finding.entity_type,
                start=finding.start,
                end=finding.end,
                score=round(finding.score, 3),
                action=rule.action,
            )
        )
    blocked = sorted({s.entity_type for s in summaries if s.action == "block"})
    redacted = redact(prompt, [s for s in summaries if s.action != "allow"])
    if blocked_term is not None:
        return ScreeningOutcome(True, "content_policy: blocked term", redacted, tuple(summaries))
    if blocked:
        return ScreeningOutcome(
            True, f"personal_data: {', '.join(blocked)}", redacted, tuple(summaries)
        )
    return ScreeningOutcome(False, "", redacted, tuple(summaries))


def redact(prompt: str, spans: Sequence[FindingSummary]) -> str:
    """Replace each span by `<ENTITY_TYPE>`; overlapping spans merge into the first."""
    out: list[str] = []
    cursor = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.end <= cursor:
            continue
        out.append(prompt[cursor : max(cursor, span.start)])
        out.append(f"<{span.entity_type}>")
        cursor = span.end
    out.append(prompt[cursor:])
    return "".join(out)
