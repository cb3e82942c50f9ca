"""Reading a provider's circuit and recording what its calls did, through the log.

The health document (projection `provider_health`) may lag the stream; reading it (or
the health this process folded last, when that is newer: `services.health_memo`) and
folding the stream's newer events on top gives the current state for the price of a
short tail read, and needs no projection to be running at all.
"""

from __future__ import annotations

from uuid import UUID

from domain.generation import Payload
from domain.provider_health import Circuit, CircuitTrialStarted, ProviderHealth, evolve
from domain.streams import provider_stream
from projections import provider_health as projection
from services.budget_ledger import MAX_CONFLICT_RETRIES, to_new_events
from services.context import Platform
from services.metrics import CIRCUIT_STATE
from services.ports import ConcurrencyError


def current_health(platform: Platform, provider: str) -> ProviderHealth:
    view = platform.views.get(projection.NAME, provider)
    health = ProviderHealth(provider) if view is None else projection.health_of(view)
    folded = platform.health_memo.newest(provider)
    if folded is not None and folded.version > health.version:
        health = folded
    for event in platform.store.read_stream(provider_stream(provider), health.version + 1):
        health = evolve(health, event.type, event.data, event.recorded_at, event.version)
    platform.health_memo.remember(health)
    circuit = health.circuit(platform.clock())
    platform.meter.set(CIRCUIT_STATE, _CIRCUIT_LEVEL[circuit], provider=provider)
    return health


_CIRCUIT_LEVEL = {Circuit.CLOSED: 0.0, Circuit.HALF_OPEN: 1.0, Circuit.OPEN: 2.0}


def record_call(
    platform: Platform, health: ProviderHealth, outcome: Payload, generation_id: UUID, key: str
) -> None:
    """Append a call's outcome to the provider's stream.

    `key` names the call within its generation (model, attempt), so a repeated step
    records it once. An outcome is a fact, not a decision: on a conflict it goes after whatever
    other workers recorded meanwhile.
    """
    stream_id = provider_stream(health.provider)
    events = to_new_events([outcome], correlation_id=generation_id, deterministic_key=key)
    expected = health.version
    for _ in range(MAX_CONFLICT_RETRIES):
        try:
            platform.store.append(stream_id, expected, events)
            return
        except ConcurrencyError as conflict:
            expected = conflict.actual
    raise ConcurrencyError(stream_id, expected, -1)


def claim_trial(
    platform: Platform, health: ProviderHealth, generation_id: UUID, model_id: str
) -> bool:
    """Claim one of a half-open circuit's trial calls for `generation_id` on `model_id`.

    Appended at the version `health` was read at, so two workers cannot both take the
    last slot: the loser gets False and must read the health again.
    """
    trial = CircuitTrialStarted(provider=health.provider, generation_id=generation_id)
    key = f"{model_id}/trial"
    events = to_new_events([trial], correlation_id=generation_id, deterministic_key=key)
    try:
        platform.store.append(provider_stream(health.provider), health.version, events)
    except ConcurrencyError:
        return False
    return True
