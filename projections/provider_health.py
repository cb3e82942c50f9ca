"""Provider health: one document per provider, the fold of its `provider-{name}` stream.

It is what `GET /models` shows and what routing starts from; routing folds the stream's
few newer events onto it (see services/provider_health.py), so a lagging view never
lets a worker call a provider whose circuit has opened.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.provider_health import (
    PROVIDER_HEALTH_EVENTS,
    Calls,
    ProviderHealth,
    Trial,
    evolve,
)
from domain.streams import PROVIDER_PREFIX
from projections.base import ApplyingEach, Fact, Projection, View, stamp, timestamp

NAME = "provider_health"


def keys(event: Fact) -> tuple[str, ...]:
    if event.type in PROVIDER_HEALTH_EVENTS and event.stream_id.startswith(PROVIDER_PREFIX):
        return (event.stream_id[len(PROVIDER_PREFIX) :],)
    return ()


def apply(view: View | None, event: Fact) -> View:
    if view is not None and event.version <= view["version"]:
        return view  # redelivered: already folded in
    provider = event.stream_id[len(PROVIDER_PREFIX) :]
    state = ProviderHealth(provider) if view is None else health_of(view)
    folded = evolve(state, event.type, event.data, event.recorded_at, event.version)
    return {**document_of(folded), "updated_at": stamp(event)}


def document_of(health: ProviderHealth) -> View:
    return {
        "provider": health.provider,
        "version": health.version,
        "consecutive_failures": health.consecutive_failures,
        "opened_at": None if health.opened_at is None else timestamp(health.opened_at),
        "trials": [[str(t.generation_id), timestamp(t.started_at)] for t in health.trials],
        "trial_successes": health.trial_successes,
        "recent": [[timestamp(c.minute), c.successes, c.failures] for c in health.recent],
        "successes": health.successes,
        "failures": health.failures,
    }


def health_of(view: View) -> ProviderHealth:
    opened_at = view["opened_at"]
    return ProviderHealth(
        provider=view["provider"],
        version=view["version"],
        consecutive_failures=view["consecutive_failures"],
        opened_at=None if opened_at is None else datetime.fromisoformat(opened_at),
        trials=tuple(Trial(UUID(gid), datetime.fromisoformat(at)) for gid, at in view["trials"]),
        trial_successes=view["trial_successes"],
        recent=tuple(Calls(datetime.fromisoformat(m), s, f) for m, s, f in view["recent"]),
        successes=view["successes"],
        failures=view["failures"],
    )


PROJECTION = Projection(
    name=NAME,
    keys=keys,
    apply=apply,
    fold=ApplyingEach(apply),
    types=frozenset(PROVIDER_HEALTH_EVENTS),
    keyed_by_stream=True,  # `provider-{name}` feeds `{name}`
)
