"""How each provider has been doing, and the circuit breaker that follows from it.

Every worker records the outcome of each provider call on the provider's own stream
(`provider-{name}`), so the breaker is shared by every instance through the log itself,
with no cache server: 5 consecutive failures open the circuit for 60 s; after that it is
half-open and admits 3 trial calls, each claimed by an expected-version append so that
racing workers cannot start a fourth; 3 successful trials close it, a failed one opens it
again. A trial whose worker died never reports, so its claim lapses after a while.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from domain.generation import Payload

FAILURES_TO_OPEN = 5
OPEN_FOR = timedelta(seconds=60)
HALF_OPEN_TRIALS = 3
# Longer than a call's worst case (3 attempts of 60 s plus backoff), so a live trial is
# never mistaken for a dead one.
TRIAL_LAPSES_AFTER = timedelta(minutes=5)
# The success rate routing weighs is over the calls of this last while: long enough to
# mean something, short enough that a provider traffic moved away from is forgiven.
RATE_WINDOW = timedelta(minutes=15)


class ProviderCallSucceeded(Payload):
    TYPE: ClassVar[str] = "ProviderCallSucceeded"

    provider: str
    model_id: str
    generation_id: UUID


class ProviderCallFailed(Payload):
    TYPE: ClassVar[str] = "ProviderCallFailed"

    provider: str
    model_id: str
    generation_id: UUID
    attempt: int
    reason: str
    retryable: bool


class CircuitTrialStarted(Payload):
    TYPE: ClassVar[str] = "CircuitTrialStarted"

    provider: str
    generation_id: UUID


PROVIDER_HEALTH_EVENTS: dict[str, type[Payload]] = {
    cls.TYPE: cls for cls in (ProviderCallSucceeded, ProviderCallFailed, CircuitTrialStarted)
}


class Circuit(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Admission(StrEnum):
    CALL = "call"  # go ahead
    CLAIM_TRIAL = "claim_trial"  # go ahead once a trial slot is claimed on the stream
    SKIP = "skip"  # the circuit is open, or every trial slot is taken


@dataclass(frozen=True, slots=True)
class Trial:
    generation_id: UUID
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Calls:
    """The outcomes of the calls in one minute."""

    minute: datetime
    successes: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """The fold of one provider's stream."""

    provider: str
    version: int = 0
    consecutive_failures: int = 0
    opened_at: datetime | None = None  # set while open or half-open
    trials: tuple[Trial, ...] = ()
    trial_successes: int = 0
    recent: tuple[Calls, ...] = ()  # per minute, oldest first, within RATE_WINDOW
    successes: int = 0
    failures: int = 0

    def circuit(self, now: datetime) -> Circuit:
        if self.opened_at is None:
            return Circuit.CLOSED
        return Circuit.OPEN if now < self.opened_at + OPEN_FOR else Circuit.HALF_OPEN

    def admission(self, now: datetime, generation_id: UUID) -> Admission:
        circuit = self.circuit(now)
        if circuit is Circuit.CLOSED:
            return Admission.CALL
        if circuit is Circuit.OPEN:
            return Admission.SKIP
        if any(trial.generation_id == generation_id for trial in self.trials):
            return Admission.CALL  # this generation holds a slot already (a redelivery)
        live = [t for t in self.trials if now - t.started_at < TRIAL_LAPSES_AFTER]
        return Admission.CLAIM_TRIAL if len(live) < HALF_OPEN_TRIALS else Admission.SKIP

    def success_rate(self, now: datetime) -> Decimal:
        """Share of the calls in the last RATE_WINDOW that succeeded; 1 when there were none.

        Counted only while the circuit is closed: a half-open circuit's trials must be
        the ones routed to, and closing starts the count afresh.
        """
        if self.circuit(now) is not Circuit.CLOSED:
            return Decimal(1)
        window = [calls for calls in self.recent if calls.minute > now - RATE_WINDOW]
        total = sum(c.successes + c.failures for c in window)
        if total == 0:
            return Decimal(1)
        return Decimal(sum(c.successes for c in window)) / Decimal(total)


def evolve(
    state: ProviderHealth, event_type: str, data: dict[str, Any], at: datetime, version: int
) -> ProviderHealth:
    """Fold the provider stream's event at `version`, recorded at `at`, into its health."""
    payload = PROVIDER_HEALTH_EVENTS[event_type].model_validate(data)
    return replace(_evolve(state, payload, at), version=version)


def _evolve(state: ProviderHealth, payload: Payload, at: datetime) -> ProviderHealth:
    match payload:
        case CircuitTrialStarted(generation_id=generation_id):
            return replace(state, trials=(*state.trials, Trial(generation_id, at)))
        case ProviderCallSucceeded():
            state = _outcome(state, at, success=True)
            if state.circuit(at) is not Circuit.HALF_OPEN:
                return replace(state, consecutive_failures=0)
            successes = state.trial_successes + 1
            if successes < HALF_OPEN_TRIALS:
                return replace(state, consecutive_failures=0, trial_successes=successes)
            return replace(
                state,
                consecutive_failures=0,
                opened_at=None,
                trials=(),
                trial_successes=0,
                recent=(),
            )
        case ProviderCallFailed():
            state = _outcome(state, at, success=False)
            failures = state.consecutive_failures + 1
            circuit = state.circuit(at)
            reopen = circuit is Circuit.HALF_OPEN or (
                circuit is Circuit.CLOSED and failures >= FAILURES_TO_OPEN
            )
            if reopen:
                return replace(
                    state,
                    consecutive_failures=failures,
                    opened_at=at,
                    trials=(),
                    trial_successes=0,
                )
            return replace(state, consecutive_failures=failures)
    raise ValueError(f"unexpected provider health event {payload.TYPE}")


def _outcome(state: ProviderHealth, at: datetime, *, success: bool) -> ProviderHealth:
    minute = at.replace(second=0, microsecond=0)
    recent = [calls for calls in state.recent if calls.minute > at - RATE_WINDOW]
    current = recent.pop() if recent and recent[-1].minute == minute else Calls(minute)
    if success:
        recent.append(replace(current, successes=current.successes + 1))
        return replace(state, recent=tuple(recent), successes=state.successes + 1)
    recent.append(replace(current, failures=current.failures + 1))
    return replace(state, recent=tuple(recent), failures=state.failures + 1)
