"""On the Azure shape, metrics and spans reach Application Insights through the Azure
Monitor OpenTelemetry distro: here its real exporter posts to a local stand-in for the
ingestion endpoint (the connection string's `IngestionEndpoint`), which keeps what it
receives."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = """
from opentelemetry import metrics, trace

from adapters.otel_meter import install_azure_monitor, otel_meter
from bootstrap import settings, work_queue
from functions.operations import measure_queue_ages
from services.generations import JOB_QUEUE
from services.metrics import GENERATIONS, PROVIDER_CALL_SECONDS
from services.ports import OutgoingMessage
from services.tracing import tracer

assert install_azure_monitor()
otel_meter().add(GENERATIONS, status="charged", model="local-sketch")
otel_meter().observe(PROVIDER_CALL_SECONDS, 0.25, provider="local", outcome="ok")
with tracer.start_as_current_span("generation.process"):
    pass
work_queue(settings(), JOB_QUEUE).send(OutgoingMessage("waiting", b"{}"))
measure_queue_ages(None)  # the timer, as the Functions host calls it
trace.get_tracer_provider().force_flush()
metrics.get_meter_provider().force_flush()
# Nothing was measured since: no gauge may be sent again (a stale age would never clear).
metrics.get_meter_provider().force_flush()
"""


@pytest.fixture
def ingestion() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path.endswith("/v2.1/track"):
                envelopes = json.loads(body)
                received.extend(envelopes)
                answer = {"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes)}
            else:
                answer = {}
            data = json.dumps({**answer, "errors": []}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", received
    finally:
        server.shutdown()
        server.server_close()


def test_measurements_and_spans_reach_the_ingestion_endpoint(
    ingestion: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    endpoint, received = ingestion
    key = "00000000-0000-0000-0000-000000000000"
    env = {
        **os.environ,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": f"InstrumentationKey={key};"
        f"IngestionEndpoint={endpoint}",
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",  # no calls home from a test
        "TMPDIR": str(tmp_path),  # the exporter's retry files
        # The distro's default samples by rate (5 traces/s) from an empty budget at start.
        "OTEL_TRACES_SAMPLER": "always_on",
        "DONATELLO_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    metrics = {
        point["name"]: point
        for envelope in received
        if envelope["data"]["baseType"] == "MetricData"
        for point in envelope["data"]["baseData"]["metrics"]
    }
    assert metrics["donatello_generations"]["value"] == 1
    generations = next(
        e for e in received if e["data"]["baseType"] == "MetricData"
        and e["data"]["baseData"]["metrics"][0]["name"] == "donatello_generations"
    )  # fmt: skip
    assert generations["data"]["baseData"]["properties"] == {
        "status": "charged",
        "model": "local-sketch",
    }
    assert metrics["donatello_provider_call_seconds"]["count"] == 1
    ages = [
        (envelope["data"]["baseData"]["properties"], point["value"])
        for envelope in received
        if envelope["data"]["baseType"] == "MetricData"
        for point in envelope["data"]["baseData"]["metrics"]
        if point["name"] == "donatello_queue_oldest_message_age_seconds"
    ]
    # Both queues, once each: the jobs' has a message waiting, the webhooks' is empty.
    assert sorted(labels["queue"] for labels, _ in ages) == [
        "generation-jobs",
        "webhook-deliveries",
    ]
    assert dict((labels["queue"], age) for labels, age in ages)["webhook-deliveries"] == 0
    assert 0 <= dict((labels["queue"], age) for labels, age in ages)["generation-jobs"] < 60
    spans = [
        e["data"]["baseData"]["name"]
        for e in received
        if "Data" in e["data"]["baseType"] and e["data"]["baseType"] != "MetricData"
    ]
    assert "generation.process" in spans
