"""host.json as production runs it, checked against the Bicep that hosts it."""

from __future__ import annotations

import json
from typing import Any

from devhost.host import HostSettings
from devhost.ncrontab import parse_timespan
from tests.infra.bicep import ROOT
from tests.infra.test_app_settings import resolved, written_settings

HOST_JSON = ROOT / "host.json"


def host() -> dict[str, Any]:
    return dict(json.loads(HOST_JSON.read_text("utf-8")))


def test_sampling_never_drops_requests_exceptions_or_log_lines() -> None:
    """Audit-relevant records (seal writes, erasures, refusals) are log lines and request
    outcomes: sampling may thin dependency calls only."""
    sampling = host()["logging"]["applicationInsights"]["samplingSettings"]
    excluded = set(sampling["excludedTypes"].split(";"))
    assert {"Request", "Exception", "Trace", "Event"} <= excluded


def test_a_step_keeps_its_lock_as_long_as_it_may_run() -> None:
    settings = host()
    renewal = settings["extensions"]["serviceBus"]["maxAutoLockRenewalDuration"]
    assert parse_timespan(renewal) == parse_timespan(settings["functionTimeout"])
    # The embedded host reads the same file.
    assert HostSettings.read(HOST_JSON).max_lock_renewal == parse_timespan(renewal)
    assert HostSettings.read(HOST_JSON).route_prefix == "api"


def test_the_worker_has_a_thread_for_each_concurrent_message_and_then_some() -> None:
    calls = host()["extensions"]["serviceBus"]["maxConcurrentCalls"]
    threads = int(written_settings()["PYTHON_THREADPOOL_THREAD_COUNT"])
    assert threads > calls


def test_the_host_speaks_opentelemetry_and_lets_the_worker_send_its_own() -> None:
    """The host's request spans and the worker's (the distro, adapters/otel_meter.py) in
    one format, the worker's logs sent once, by the worker."""
    assert host()["telemetryMode"] == "OpenTelemetry"
    assert resolved(written_settings()["PYTHON_ENABLE_OPENTELEMETRY"]) == "true"
    # The embedded host reads the same file and ignores the key.
    assert HostSettings.read(HOST_JSON).route_prefix == "api"
