"""A stream's story in plain words: one line per event, with the state it left behind.

The states are the domain's own: a generation's stream is folded with
`domain.generation.evolve` and a budget's with `domain.budget.evolve`, event by event,
so what a line says the stream passed through is what the deciders saw. Other streams
(quotas, providers, webhooks, audit reads) are told event by event without a state.
Prompts are never opened: the story says what screening found, not what was written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import chain
from typing import Any

from domain import budget, generation
from domain.access import Principal
from domain.audit_reads import AUDIT_READS_PREFIX, AuditLogRead
from domain.budget import (
    BudgetSet,
    BudgetThresholdCrossed,
    CostCharged,
    CostReserved,
    ReservationReleased,
)
from domain.envelope import Event, canonical_json
from domain.generation import (
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
)
from domain.streams import BUDGET_PREFIX, GENERATION_PREFIX
from services.audit_log import audit_stream
from services.audit_reads import LogAccess


def replay(platform: LogAccess, principal: Principal, stream_id: str) -> Iterator[str]:
    """The story of `stream_id`, read (and the read recorded) as an auditor's."""
    return story(audit_stream(platform, principal, stream_id))


def story(events: Iterable[Event]) -> Iterator[str]:
    """One line per event: `v<version> <time> <what happened> → <state after it>`."""
    stream = iter(events)
    first = next(stream, None)
    if first is None:
        return
    teller = _plain_story
    if first.stream_id.startswith(GENERATION_PREFIX):
        teller = _generation_story
    elif first.stream_id.startswith(BUDGET_PREFIX):  # the standing policy's stream too
        teller = _budget_story
    elif first.stream_id.startswith(AUDIT_READS_PREFIX):
        teller = _reads_story
    yield from teller(chain([first], stream))


def _prefix(event: Event) -> str:
    return f"v{event.version} {event.recorded_at:%Y-%m-%d %H:%M:%S}Z"


def _aud(amount: Decimal) -> str:
    return f"{amount:.4f} AUD"


# --- generations -------------------------------------------------------------------------


def _generation_story(events: Iterable[Event]) -> Iterator[str]:
    state = generation.Generation()
    for event in events:
        state = generation.evolve(state, event)
        payload = generation.parse_payload(event.type, event.data)
        yield f"{_prefix(event)} {_generation_step(payload, event)} → {state.status.value}"


def _generation_step(payload: Payload, event: Event) -> str:
    match payload:
        case GenerationRequested():
            extras = "".join(f" {x}" for x in (payload.style,) if x)
            model = f", asked for {payload.model}" if payload.model else ""
            return (
                f"requested by {payload.user_id} ({payload.department_id}): "
                f"{payload.size} {payload.quality}{extras}{model}"
            )
        case PromptScreened():
            moderated = (
                f", cleared by {', '.join(payload.moderated_by)}" if payload.moderated_by else ""
            )
            skipped = (
                f", {', '.join(payload.moderation_skipped)} skipped (unavailable)"
                if payload.moderation_skipped
                else ""
            )
            return (
                f"screened: {_findings(payload.findings)} "
                f"(policy {payload.policy_version}){moderated}{skipped}"
            )
        case PromptRejected():
            return (
                f"rejected at screening: {payload.reason}; {_findings(payload.findings)} "
                f"(policy {payload.policy_version})"
            )
        case GenerationRouted():
            return (
                f"routed to {payload.model_id} on {payload.provider} "
                f"(ranked: {', '.join(payload.ranked_models)}), reserved "
                f"{_aud(payload.estimated_cost_aud)} on {payload.budget_stream_id}"
            )
        case GenerationRerouted():
            return (
                f"failed over from {payload.failed_model_id} ({payload.reason}) to "
                f"{payload.model_id} on {payload.provider}, reserved "
                f"{_aud(payload.estimated_cost_aud)} instead"
            )
        case GenerationRejected():
            return f"rejected: {payload.reason} ({payload.detail})"
        case ImageGenerated():
            credential = (
                ""
                if payload.provider_credential is None
                else f", provider credential {payload.provider_credential}"
                + "".join(f"; {warning}" for warning in payload.credential_warnings)
            )
            return (
                f"image made by {payload.model_id}: {payload.bytes} bytes {payload.content_type},"
                f" sha256 {payload.sha256[:12]}…, cost {_aud(payload.cost_aud)}{credential}"
            )
        case GenerationFailed():
            model = f" on {payload.model_id}" if payload.model_id else ""
            return f"failed{model}: {payload.reason}"
        case GenerationCharged():
            return f"charged {_aud(payload.cost_aud)} to {payload.budget_stream_id}"
    return f"{event.type} by {event.actor.user_id}"


def _findings(findings: Iterable[generation.FindingSummary]) -> str:
    counted = Counter((finding.action, finding.entity_type) for finding in findings)
    if not counted:
        return "no personal data found"
    verbs = {"redact": "redacted", "block": "blocked", "allow": "allowed"}
    return ", ".join(
        f"{verbs[action]} {entity} \u00d7{count}"
        for (action, entity), count in sorted(counted.items())
    )


# --- budgets -----------------------------------------------------------------------------


def _budget_story(events: Iterable[Event]) -> Iterator[str]:
    state = budget.Budget()
    for event in events:
        state = budget.evolve(state, event)
        payload = budget.BUDGET_EVENTS[event.type].model_validate(event.data)
        limit = "" if state.policy is None else f" of {_aud(state.policy.monthly_limit_aud)}"
        totals = f"spent {_aud(state.spent)}{limit}, reserved {_aud(state.reserved)}"
        yield f"{_prefix(event)} {_budget_step(payload, event)} → {totals}"


def _budget_step(payload: Payload, event: Event) -> str:
    match payload:
        case BudgetSet(policy=policy):
            scope = f"for {payload.period}" if payload.period else "standing"
            return (
                f"budget set by {event.actor.user_id} ({scope}): "
                f"{_aud(policy.monthly_limit_aud)} a month, {policy.enforcement.value}, "
                f"{policy.strategy.value}"
            )
        case CostReserved():
            return (
                f"reserved {_aud(payload.amount_aud)} for generation {payload.generation_id} "
                f"({payload.user_id}, {payload.model_id}): {payload.outcome}"
            )
        case ReservationReleased():
            return (
                f"released {_aud(payload.amount_aud)} of generation {payload.generation_id}: "
                f"{payload.reason}"
            )
        case CostCharged():
            return (
                f"charged {_aud(payload.amount_aud)} for generation {payload.generation_id} "
                f"({payload.user_id}, {payload.model_id})"
            )
        case BudgetThresholdCrossed():
            return (
                f"crossed {payload.threshold_percent}%: {_aud(payload.spent_aud)} of "
                f"{_aud(payload.limit_aud)}"
            )
    return f"{event.type} by {event.actor.user_id}"


# --- reads of the log -----------------------------------------------------------------------


def _reads_story(events: Iterable[Event]) -> Iterator[str]:
    for event in events:
        read = AuditLogRead.model_validate(event.data)
        count = "" if read.count is None else f", {read.count} events"
        yield (
            f"{_prefix(event)} {read.user_id} ({', '.join(read.roles)}) read "
            f"{canonical_json(read.what)}{count}"
        )


# --- anything else -------------------------------------------------------------------------


def _plain_story(events: Iterable[Event]) -> Iterator[str]:
    for event in events:
        yield f"{_prefix(event)} {event.type} by {event.actor.user_id}: {_compact(event.data)}"


def _compact(data: dict[str, Any]) -> str:
    # Sealed texts are shown as such: the story never opens a prompt.
    return ", ".join(
        f"{key}={'[sealed]' if isinstance(value, dict) and 'ciphertext' in value else value}"
        for key, value in sorted(data.items())
    )
