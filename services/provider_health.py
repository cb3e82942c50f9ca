"""Reading a provider's circuit and recording what its calls did, through the log.

A provider's stream (`provider-{name}`) is loaded like any other through the repository
(its cache, a snapshot, the events after it), so routing and every call see the circuit
as the log has it now, with no projection needing to run.
"""

from __future__ import annotations

from uuid import UUID

from domain.generation import Payload
from domain.provider_health import Admission, Circuit, CircuitTrialStarted, ProviderHealth
from domain.streams import provider_stream
from services.aggregates import PROVIDER_HEALTH
from services.commands import Stamp, StreamContended, execute
from services.context import Platform
from services.metrics import CIRCUIT_STATE
from services.repository import Loaded

_CIRCUIT_LEVEL = {Circuit.CLOSED: 0.0, Circuit.HALF_OPEN: 1.0, Circuit.OPEN: 2.0}
# A half-open circuit's trial slot is claimed at the version its health was read at;
# a worker that loses the race twice leaves the trials to the others.
TRIAL_CLAIM_ATTEMPTS = 2


def current_health(platform: Platform, provider: str) -> Loaded[ProviderHealth]:
    health = platform.repository.load(PROVIDER_HEALTH, provider_stream(provider))
    _measure(platform, health.state)
    return health


def admit(
    platform: Platform, provider: str, generation_id: UUID, model_id: str
) -> tuple[Loaded[ProviderHealth], Admission]:
    """Whether `generation_id` may call `provider` now: CALL (claiming a half-open
    circuit's trial slot for it on the way, when it needs one) or SKIP."""
    now = platform.clock()

    def claim(health: ProviderHealth) -> list[Payload]:
        if health.admission(now, generation_id) is not Admission.CLAIM_TRIAL:
            return []
        return [CircuitTrialStarted(provider=provider, generation_id=generation_id)]

    try:
        decided = execute(
            platform.repository,
            PROVIDER_HEALTH,
            provider_stream(provider),
            claim,
            Stamp(generation_id, key=f"{model_id}/trial"),
            attempts=TRIAL_CLAIM_ATTEMPTS,
        )
    except StreamContended:
        return current_health(platform, provider), Admission.SKIP
    _measure(platform, decided.after.state)
    # After its own claim the generation holds a slot, which admits it.
    return decided.after, decided.after.state.admission(now, generation_id)


def record_call(
    platform: Platform,
    health: Loaded[ProviderHealth],
    outcome: Payload,
    generation_id: UUID,
    key: str,
) -> None:
    """Append a call's outcome to the provider's stream.

    `key` names the call within its generation (model, attempt), so a repeated step
    records it once. An outcome is a fact, not a decision: on a conflict it goes after
    whatever other workers recorded meanwhile.
    """
    execute(
        platform.repository,
        PROVIDER_HEALTH,
        health.stream_id,
        lambda _: [outcome],
        Stamp(generation_id, key=key),
        start=health,
    )


def _measure(platform: Platform, health: ProviderHealth) -> None:
    circuit = health.circuit(platform.clock())
    platform.meter.set(CIRCUIT_STATE, _CIRCUIT_LEVEL[circuit], provider=health.provider)
