"""The Azure Monitor workbook (infra/bicep/modules/workbook.bicep) shows the operations
view over metrics the platform sends to Application Insights."""

from __future__ import annotations

import json
import re
from typing import Any

from services.metrics import CATALOGUE
from tests.infra.bicep import BICEP, MAIN, parse, references

MODULE = BICEP / "modules" / "workbook.bicep"
CONTENT = BICEP / "modules" / "operations-workbook.json"
_NAME = re.compile(r"\bdonatello_[a-z0-9_]+")
# The OpenTelemetry names the distro sends: the catalogue's, counters without `_total`.
SENT = {metric.name for metric in CATALOGUE}


def queries(workbook: dict[str, Any]) -> dict[str, str]:
    return {
        item["content"]["title"]: item["content"]["query"]
        for item in workbook["items"]
        if item["type"] == 3
    }


def named(query: str) -> set[str]:
    return set(_NAME.findall(query))


def test_the_workbook_is_shared_on_the_application_insights_resource() -> None:
    resource = parse(MODULE).resources()["operations"]
    assert resource["type"] == "Microsoft.Insights/workbooks"
    body = resource["config"]
    assert body["kind"] == "shared"
    assert body["properties"]["category"] == "workbook"
    assert body["properties"]["sourceId"] == "appInsightsId"
    loaded = body["properties"]["serializedData"]["function"]
    assert loaded["type"] == "load_text_content"
    assert MODULE.parent / loaded["parameters"]["file_path"] == CONTENT
    passed = parse(MAIN).modules["workbook"]["config"]["params"]["appInsightsId"]
    assert "monitoring.outputs.appInsightsId" in set(references(passed))


def test_every_query_reads_custom_metrics_the_platform_sends() -> None:
    panels = queries(json.loads(CONTENT.read_text(encoding="utf-8")))
    assert panels
    for title, query in panels.items():
        assert query.startswith("customMetrics"), title
        assert "{TimeRange}" in query, f"{title!r} ignores the time range"
        assert named(query), f"{title!r} names no metric of ours"
        assert named(query) <= SENT, f"{title!r} names {sorted(named(query) - SENT)}"


def test_the_operations_view_is_all_there() -> None:
    """Generations by status, the time split, provider errors, circuit state, queue age
    and projection lag."""
    shown = set().union(*map(named, queries(json.loads(CONTENT.read_text("utf-8"))).values()))
    assert shown >= {
        "donatello_generations",
        "donatello_generation_queue_wait_seconds",
        "donatello_generation_platform_seconds",
        "donatello_generation_provider_seconds",
        "donatello_provider_errors",
        "donatello_provider_circuit_state",
        "donatello_queue_oldest_message_age_seconds",
        "donatello_projection_lag_seconds",
    }


def test_the_check_catches_a_prometheus_name() -> None:
    """Application Insights gets OpenTelemetry names: `_total` would match nothing."""
    assert not named('customMetrics | where name == "donatello_generations_total"') <= SENT
