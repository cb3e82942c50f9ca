"""The Grafana dashboard in docs/ reads only metrics the platform exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from services.metrics import CATALOGUE, Kind

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
_NAME = re.compile(r"\bdonatello_[a-z0-9_]+")


def exposed_names() -> set[str]:
    """Every series name prometheus-client writes for the catalogue."""
    names: set[str] = set()
    for metric in CATALOGUE:
        if metric.kind is Kind.COUNTER:
            names.add(f"{metric.name}_total")
        elif metric.kind is Kind.HISTOGRAM:
            names |= {f"{metric.name}_{part}" for part in ("bucket", "sum", "count")}
        else:
            names.add(metric.name)
    return names


def queries(dashboard: dict[str, Any]) -> dict[str, list[str]]:
    return {
        panel["title"]: [target["expr"] for target in panel.get("targets", [])]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
    }


def test_every_panel_queries_metrics_the_platform_exports() -> None:
    panels = queries(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    exported = exposed_names()
    assert panels
    for title, expressions in panels.items():
        named = {name for expr in expressions for name in _NAME.findall(expr)}
        assert named, f"panel {title!r} names no metric of ours"
        assert named <= exported, f"panel {title!r} names {sorted(named - exported)}"


def test_every_metric_has_a_panel() -> None:
    panels = queries(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    named = {name for exprs in panels.values() for e in exprs for name in _NAME.findall(e)}
    shown = {m.name for m in CATALOGUE if any(n.startswith(m.name) for n in named)}
    assert shown == {m.name for m in CATALOGUE}


def test_the_check_catches_a_misspelt_metric() -> None:
    dashboard = {
        "panels": [{"type": "timeseries", "title": "t", "targets": [{"expr": "donatello_x"}]}]
    }
    named = set(_NAME.findall(queries(dashboard)["t"][0]))
    assert not named <= exposed_names()
