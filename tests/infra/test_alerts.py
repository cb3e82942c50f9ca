"""The alert rules (infra/bicep/modules/alerts.bicep) on the platform's own metrics: each
names a metric the platform sends to Application Insights, by a label it has, and the
queue-age and projection-lag alerts are there with their thresholds from main.bicep."""

from __future__ import annotations

import re
from typing import Any

from services.metrics import CATALOGUE
from tests.infra.bicep import BICEP, MAIN, parse

MODULE = BICEP / "modules" / "alerts.bicep"
_NAME = re.compile(r"\bdonatello_[a-z0-9_]+")
_DIMENSION = re.compile(r"customDimensions\.([a-z_]+)")
# The OpenTelemetry names the distro sends: the catalogue's, counters without `_total`.
SENT = {metric.name: metric for metric in CATALOGUE}


def custom_metric_rules() -> dict[str, dict[str, Any]]:
    """Each scheduled query over the platform's custom metrics, by resource name."""
    rules = {}
    for name, resource in parse(MODULE).resources().items():
        if resource["type"] != "Microsoft.Insights/scheduledQueryRules":
            continue
        (criterion,) = resource["config"]["properties"]["criteria"]["allOf"]
        if criterion["query"].startswith("customMetrics"):
            rules[name] = criterion
    return rules


def test_every_alert_reads_a_metric_the_platform_sends_by_its_own_labels() -> None:
    rules = custom_metric_rules()
    assert rules
    for name, criterion in rules.items():
        query = criterion["query"]
        (metric,) = set(_NAME.findall(query))
        assert metric in SENT, f"{name} reads {metric}, which the platform does not send"
        labels = set(_DIMENSION.findall(query))
        assert labels <= set(SENT[metric].labels), f"{name} splits by {labels}"
        split = {dimension["name"] for dimension in criterion.get("dimensions", [])}
        assert split <= labels, f"{name} alerts per {split}, which its query does not give"


def test_queue_age_and_projection_lag_alert_per_queue_and_per_projection() -> None:
    rules = custom_metric_rules()
    expected = {
        "queueAge": ("donatello_queue_oldest_message_age_seconds", "queue", "queueAgeSeconds"),
        "projectionLag": ("donatello_projection_lag_seconds", "projection", "projectionLagSeconds"),
    }
    alerts = parse(MAIN).modules["alerts"]["config"]["params"]
    for name, (metric, label, threshold) in expected.items():
        criterion = rules[name]
        assert _NAME.findall(criterion["query"]) == [metric]
        assert [d["name"] for d in criterion["dimensions"]] == [label]
        assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", threshold)
        assert alerts[threshold] == threshold, f"main.bicep does not pass {threshold}"
        assert parse(MAIN).params[threshold]["default"] is not None


def test_a_queue_age_that_stops_arriving_is_an_alert_of_its_own() -> None:
    silent = custom_metric_rules()["queueAgeSilent"]
    assert _NAME.findall(silent["query"]) == ["donatello_queue_oldest_message_age_seconds"]
    assert (silent["operator"], silent["threshold"]) == ("LessThan", 1)
