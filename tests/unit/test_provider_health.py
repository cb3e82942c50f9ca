"""The circuit breaker, as folded from a provider's stream of call outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from domain.generation import Payload
from domain.provider_health import (
    Admission,
    Circuit,
    CircuitTrialStarted,
    ProviderCallFailed,
    ProviderCallSucceeded,
    ProviderHealth,
    evolve,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PROVIDER = "openai"


class Stream:
    """A provider's stream folded as it is written, each event `seconds` after T0."""

    def __init__(self) -> None:
        self.health = ProviderHealth(PROVIDER)

    def add(self, payload: Payload, seconds: float) -> ProviderHealth:
        data = payload.model_dump(mode="json")
        at = T0 + timedelta(seconds=seconds)
        self.health = evolve(self.health, payload.TYPE, data, at, self.health.version + 1)
        return self.health

    def fail(self, seconds: float, generation_id: UUID | None = None) -> ProviderHealth:
        return self.add(
            ProviderCallFailed(
                provider=PROVIDER,
                model_id="m",
                generation_id=generation_id or uuid4(),
                attempt=1,
                reason="timeout",
                retryable=True,
            ),
            seconds,
        )

    def succeed(self, seconds: float, generation_id: UUID | None = None) -> ProviderHealth:
        succeeded = ProviderCallSucceeded(
            provider=PROVIDER, model_id="m", generation_id=generation_id or uuid4()
        )
        return self.add(succeeded, seconds)

    def trial(self, seconds: float, generation_id: UUID) -> ProviderHealth:
        return self.add(
            CircuitTrialStarted(provider=PROVIDER, generation_id=generation_id), seconds
        )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened_at_10s() -> Stream:
    stream = Stream()
    for n in range(6, 11):
        stream.fail(n)
    return stream


def test_four_consecutive_failures_keep_the_circuit_closed() -> None:
    stream = Stream()
    for n in range(4):
        stream.fail(n)
    assert stream.health.circuit(at(5)) is Circuit.CLOSED
    assert stream.health.admission(at(5), uuid4()) is Admission.CALL


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    stream = Stream()
    for n in range(4):
        stream.fail(n)
    stream.succeed(4)
    for n in range(5, 9):
        stream.fail(n)
    assert stream.health.circuit(at(10)) is Circuit.CLOSED


def test_the_fifth_consecutive_failure_opens_the_circuit_for_sixty_seconds() -> None:
    health = opened_at_10s().health
    assert health.opened_at == at(10)
    assert health.circuit(at(10)) is Circuit.OPEN
    assert health.circuit(at(69.9)) is Circuit.OPEN
    assert health.admission(at(69.9), uuid4()) is Admission.SKIP
    assert health.circuit(at(70)) is Circuit.HALF_OPEN


def test_half_open_admits_three_trials_and_no_fourth() -> None:
    stream = opened_at_10s()
    trials = [uuid4() for _ in range(3)]
    for n, generation_id in enumerate(trials):
        assert stream.health.admission(at(71), generation_id) is Admission.CLAIM_TRIAL
        stream.trial(71 + n, generation_id)
    assert stream.health.admission(at(75), uuid4()) is Admission.SKIP
    # A trial's own generation, redelivered, still goes ahead on its slot.
    assert stream.health.admission(at(75), trials[0]) is Admission.CALL


def test_a_trial_whose_worker_died_frees_its_slot_after_five_minutes() -> None:
    stream = opened_at_10s()
    for n in range(3):
        stream.trial(71 + n, uuid4())
    assert stream.health.admission(at(71 + 299), uuid4()) is Admission.SKIP
    assert stream.health.admission(at(71 + 300), uuid4()) is Admission.CLAIM_TRIAL


def test_three_successful_trials_close_the_circuit() -> None:
    stream = opened_at_10s()
    trials = [uuid4() for _ in range(3)]
    for n, generation_id in enumerate(trials):
        stream.trial(71 + n, generation_id)
    stream.succeed(80, trials[0])
    stream.succeed(81, trials[1])
    assert stream.health.circuit(at(82)) is Circuit.HALF_OPEN
    stream.succeed(82, trials[2])
    assert stream.health.circuit(at(83)) is Circuit.CLOSED
    assert stream.health.trials == ()
    assert stream.health.admission(at(83), uuid4()) is Admission.CALL


def test_a_failed_trial_opens_the_circuit_again_at_once() -> None:
    stream = opened_at_10s()
    generation_id = uuid4()
    stream.trial(71, generation_id)
    stream.succeed(72, uuid4())
    stream.fail(75, generation_id)
    assert stream.health.opened_at == at(75)
    assert stream.health.circuit(at(76)) is Circuit.OPEN
    assert stream.health.trials == ()
    assert stream.health.circuit(at(135)) is Circuit.HALF_OPEN


def test_a_success_from_a_call_begun_before_the_circuit_opened_does_not_close_it() -> None:
    stream = opened_at_10s()
    stream.succeed(20)
    assert stream.health.circuit(at(21)) is Circuit.OPEN
    assert stream.health.consecutive_failures == 0


def test_the_success_rate_counts_the_last_fifteen_minutes() -> None:
    stream = Stream()
    assert stream.health.success_rate(at(0)) == Decimal(1)  # no history: no penalty
    for n in range(4):
        stream.fail(n * 60)  # minutes 0-3
        stream.succeed(n * 60 + 1)
        stream.succeed(n * 60 + 2)
        stream.succeed(n * 60 + 3)
    assert stream.health.success_rate(at(4 * 60)) == Decimal("0.75")
    # Minute 0 leaves the window at 15:00, minute 3 at 18:00; then all is forgiven.
    assert stream.health.success_rate(at(15 * 60)) == Decimal("0.75")
    assert stream.health.success_rate(at(18 * 60)) == Decimal(1)
    assert (stream.health.successes, stream.health.failures) == (12, 4)
    assert len(stream.health.recent) == 4  # one tally per minute


def test_a_half_open_circuit_is_not_penalised_and_closing_it_starts_afresh() -> None:
    stream = opened_at_10s()
    assert stream.health.success_rate(at(71)) == Decimal(1)  # its trials must be routed to
    for n in range(3):
        generation_id = uuid4()
        stream.trial(71 + n, generation_id)
        stream.succeed(80 + n, generation_id)
    assert stream.health.circuit(at(90)) is Circuit.CLOSED
    assert stream.health.success_rate(at(90)) == Decimal(1)
    assert stream.health.recent == ()
