"""What the platform measures: one catalogue of metrics, each with a bounded label set.

Services record through the `Meter` port (services/ports.py), naming a metric of this
catalogue; the adapter (adapters/prometheus_meter.py) registers exactly this catalogue,
and the Grafana dashboard's test checks its queries against it. No label may hold a
user id or a prompt: each names a value from a closed set (a status, a provider or
model of the catalogue, the kind of a reason, an entity type; the budget gauge's
department, one of the organisation's own).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    COUNTER = "counter"
    HISTOGRAM = "histogram"
    GAUGE = "gauge"


@dataclass(frozen=True, slots=True)
class Metric:
    name: str  # a counter's exposed name gains `_total`
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()


GENERATIONS = Metric(
    "donatello_generations", Kind.COUNTER, "Generations settled, by final status and model.",
    ("status", "model"),
)  # fmt: skip
GENERATION_SECONDS = Metric(
    "donatello_generation_seconds", Kind.HISTOGRAM,
    "Time from the request to the terminal state.", ("status",),
)  # fmt: skip
QUEUE_WAIT_SECONDS = Metric(
    "donatello_generation_queue_wait_seconds", Kind.HISTOGRAM,
    "Time from the request until a worker first took the generation's message.",
)  # fmt: skip
PLATFORM_SECONDS = Metric(
    "donatello_generation_platform_seconds", Kind.HISTOGRAM,
    "Worker time spent on a generation outside provider calls (screen, route, store, charge).",
)  # fmt: skip
PROVIDER_SECONDS = Metric(
    "donatello_generation_provider_seconds", Kind.HISTOGRAM,
    "Time a generation spent in provider calls, every attempt included.",
)  # fmt: skip
PROVIDER_CALL_SECONDS = Metric(
    "donatello_provider_call_seconds", Kind.HISTOGRAM, "One provider call's latency.",
    ("provider", "outcome"),
)  # fmt: skip
PROVIDER_ERRORS = Metric(
    "donatello_provider_errors", Kind.COUNTER, "Failed provider calls, by kind of failure.",
    ("provider", "kind"),
)  # fmt: skip
PROVIDER_RETRIES = Metric(
    "donatello_provider_retries", Kind.COUNTER, "Provider calls tried again after a failure.",
    ("provider",),
)  # fmt: skip
REROUTES = Metric(
    "donatello_reroutes", Kind.COUNTER, "Generations handed to another provider's model.",
    ("from_provider", "to_provider"),
)  # fmt: skip
CIRCUIT_STATE = Metric(
    "donatello_provider_circuit_state", Kind.GAUGE,
    "A provider's circuit as last read: 0 closed, 1 half-open, 2 open.", ("provider",),
)  # fmt: skip
SCREENING_SECONDS = Metric(
    "donatello_screening_seconds", Kind.HISTOGRAM, "Screening one prompt (PII and moderation)."
)  # fmt: skip
SCREENING_FINDINGS = Metric(
    "donatello_screening_findings", Kind.COUNTER, "Personal data found in prompts, by type.",
    ("entity_type",),
)  # fmt: skip
REJECTIONS = Metric(
    "donatello_rejections", Kind.COUNTER, "Generations rejected, by the kind of reason.",
    ("reason",),
)  # fmt: skip
QUOTA_REFUSALS = Metric(
    "donatello_quota_refusals", Kind.COUNTER, "Requests refused for a used-up daily quota."
)  # fmt: skip
# Departments are the organisation's own (validated ids, a few hundred at most), never a
# person: the one label where budgets are concerned.
BUDGET_UTILISATION = Metric(
    "donatello_budget_utilisation_ratio", Kind.GAUGE,
    "Spent over the monthly limit in the current budget month, as of its last charge.",
    ("department",),
)  # fmt: skip
BUDGET_THRESHOLDS = Metric(
    "donatello_budget_threshold_crossings", Kind.COUNTER,
    "Budget thresholds (percent of the limit) crossed by a charge.", ("threshold_percent",),
)  # fmt: skip
AUTH_FAILURES = Metric(
    "donatello_auth_failures", Kind.COUNTER, "Requests refused for want of a valid token.",
    ("reason",),
)  # fmt: skip
# Read when scraped (services/operations_gauges.py), by the process serving /metrics; the
# queue ages also by a timer every minute, and the lag in seconds by the change-feed
# projector on Azure.
QUEUE_DEPTH = Metric(
    "donatello_queue_depth", Kind.GAUGE, "Messages waiting or in flight.", ("queue",)
)  # fmt: skip
QUEUE_OLDEST_SECONDS = Metric(
    "donatello_queue_oldest_message_age_seconds", Kind.GAUGE,
    "Age of the oldest message not yet completed, waiting or in flight (0 when none is due).",
    ("queue",),
)  # fmt: skip
PROJECTION_LAG_EVENTS = Metric(
    "donatello_projection_lag_events", Kind.GAUGE, "Events recorded but not yet projected.",
    ("projection",),
)  # fmt: skip
PROJECTION_LAG_SECONDS = Metric(
    "donatello_projection_lag_seconds", Kind.GAUGE,
    "Age of the oldest event not yet projected (0 when caught up).", ("projection",),
)  # fmt: skip
SEAL_AGE_SECONDS = Metric(
    "donatello_audit_seal_age_seconds", Kind.GAUGE, "Time since the audit log's last seal."
)  # fmt: skip

CATALOGUE: tuple[Metric, ...] = (
    GENERATIONS, GENERATION_SECONDS, QUEUE_WAIT_SECONDS, PLATFORM_SECONDS, PROVIDER_SECONDS,
    PROVIDER_CALL_SECONDS, PROVIDER_ERRORS, PROVIDER_RETRIES, REROUTES, CIRCUIT_STATE,
    SCREENING_SECONDS, SCREENING_FINDINGS, REJECTIONS, QUOTA_REFUSALS, BUDGET_UTILISATION,
    BUDGET_THRESHOLDS, AUTH_FAILURES,
    QUEUE_DEPTH, QUEUE_OLDEST_SECONDS, PROJECTION_LAG_EVENTS, PROJECTION_LAG_SECONDS,
    SEAL_AGE_SECONDS,
)  # fmt: skip


def reason_kind(reason: str) -> str:
    """A reason's bounded head: "content_policy: violence" -> "content_policy"."""
    return reason.split(":", 1)[0].strip() or "unspecified"


class NullMeter:
    """Records nothing: for platforms built without telemetry (unit tests, one-shot tools)."""

    def add(self, metric: Metric, amount: float = 1.0, **labels: str) -> None:
        return None

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        return None

    def set(self, metric: Metric, value: float, **labels: str) -> None:
        return None


@dataclass
class ProviderTime:
    """Seconds spent in provider calls by the generation this worker is advancing."""

    seconds: float = 0.0


_provider_time: ContextVar[ProviderTime | None] = ContextVar("provider_time", default=None)


def provider_time() -> ProviderTime:
    """Collect, from now on in this context, the time spent in provider calls (a worker
    starts afresh with each message it advances), to split platform time out."""
    collected = ProviderTime()
    _provider_time.set(collected)
    return collected


def add_provider_time(seconds: float) -> None:
    collected = _provider_time.get()
    if collected is not None:
        collected.seconds += seconds
