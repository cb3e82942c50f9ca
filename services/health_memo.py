"""The newest provider health this process has folded, kept for the next read.

Routing and every provider call read a provider's health: the projection's document
plus the stream's events newer than it. Under load the projection lags, and folding the
same lag again on every read cost more than anything else a generation does (a tenth of
a millisecond an event, read twice a generation). A health folded here is a fold of a
prefix of the provider's stream, whose events never change, so the next read may start
from it wherever it is newer than the document.
"""

from __future__ import annotations

import threading

from domain.provider_health import ProviderHealth


class HealthMemo:
    """Thread-safe; one per process (the `Platform` holds it)."""

    def __init__(self) -> None:
        self._newest: dict[str, ProviderHealth] = {}  # bounded: one per provider
        self._lock = threading.Lock()

    def newest(self, provider: str) -> ProviderHealth | None:
        return self._newest.get(provider)

    def remember(self, health: ProviderHealth) -> None:
        with self._lock:
            known = self._newest.get(health.provider)
            if known is None or known.version < health.version:
                self._newest[health.provider] = health
