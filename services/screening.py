"""Screening one prompt: personal data first, then content, under a department's policy.

1. The analyzer finds personal data; the policy blocks, redacts or allows each entity,
   and the redactor replaces the spans to hide. A blocked entity rejects the prompt
   here, before any text leaves the process.
2. The moderators judge the redacted prompt, never the original, so a moderation
   service sees exactly what an image provider would: the policy's own term list
   always, and the configured moderation services. The policy says which flagged
   categories block.

A moderator that cannot answer never lets a prompt through silently. With the policy's
`fail_closed` (the default) a passing outage raises ModerationUnavailable: at the door
of `POST /generations` a 503 to retry, with nothing recorded (in the worker, for a
stream recorded before the door, a redelivery later); a lasting one (a bad key) rejects
the prompt as `moderation_unavailable`. Without it, the prompt goes
on unmoderated by that service and the event names it in `moderation_skipped`.

The analysis has a time bound (the analyzer's: adapters.analyzer_processes): a prompt
whose analysis runs past it is rejected as `screening_timeout`, so one prompt crafted
to be slow costs its sender a rejection and nobody else any wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace

from domain import screening
from domain.screening import Redactor, ScreeningOutcome, ScreeningPolicy
from services.context import Platform
from services.metrics import SCREENING_FINDINGS, SCREENING_SECONDS
from services.ports import ContentModerator, ModerationUnavailable, PiiAnalyzer, ScreeningTimedOut
from services.tracing import tracer

log = logging.getLogger(__name__)


def screen_text(
    prompt: str,
    policy: ScreeningPolicy,
    *,
    analyzer: PiiAnalyzer,
    redactor: Redactor,
    moderators: Sequence[ContentModerator] = (),
) -> ScreeningOutcome:
    try:
        findings = analyzer.analyze(prompt)
    except ScreeningTimedOut as error:
        log.warning("screening rejected a prompt: %s", error)
        return screening.timed_out()
    outcome = screening.screen(prompt, findings, policy, redactor)
    if outcome.rejected:
        return outcome
    flagged: set[str] = set()
    consulted: list[str] = []
    down: list[tuple[str, ModerationUnavailable]] = []
    consulting: tuple[ContentModerator, ...] = (policy.term_list, *moderators)
    for moderator in consulting:
        try:
            flagged |= moderator.flagged(outcome.redacted_prompt)
        except ModerationUnavailable as error:
            log.warning("moderator %s unavailable: %s", moderator.name, error)
            down.append((moderator.name, error))
        else:
            consulted.append(moderator.name)
    skipped = [name for name, _ in down]
    judged = screening.judge_content(
        outcome, flagged, policy, moderated_by=consulted, skipped=skipped
    )
    if judged.rejected or not down or not policy.fail_closed:
        return judged
    name, outage = next(((n, e) for n, e in down if e.retryable), down[0])
    if outage.retryable:
        raise outage
    return replace(judged, rejected=True, reason=f"moderation_unavailable: {name}")


def screen_for(platform: Platform, prompt: str, policy: ScreeningPolicy) -> ScreeningOutcome:
    """`screen_text` with the platform's analyzer, redactor and moderators, measured
    (latency, and findings by entity type) wherever a prompt is screened."""
    started = time.monotonic()
    with tracer.start_as_current_span("prompt.screen"):
        outcome = screen_text(
            prompt,
            policy,
            analyzer=platform.analyzer,
            redactor=platform.redactor,
            moderators=platform.moderators,
        )
    platform.meter.observe(SCREENING_SECONDS, time.monotonic() - started)
    for entity_type, count in outcome.entity_counts.items():
        platform.meter.add(SCREENING_FINDINGS, count, entity_type=entity_type)
    return outcome
