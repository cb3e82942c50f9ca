"""Reading a running host's `GET /metrics` (for the telemetry tests and the benchmark)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample the host at `url` exposes, keyed by name and labels."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def histogram_quantile(samples: Samples, name: str, q: float) -> float | None:
    """The `q` quantile of histogram `name`, summed over its labels, as Prometheus
    estimates it: the bucket holding the rank, interpolated linearly within it (so no
    finer than the buckets); None without observations."""
    totals: dict[float, float] = {}
    for (sample, labels), count in samples.items():
        if sample == f"{name}_bucket":
            bound = float(dict(labels)["le"])
            totals[bound] = totals.get(bound, 0.0) + count
    buckets = sorted(totals.items())
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower
