"""Loading `function_app.app` lists every trigger with the bindings Azure needs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from projections import ALL_PROJECTIONS, OWN_FEED_PROJECTIONS
from tests.function_app_triggers import indexed

ROOT = Path(__file__).resolve().parents[2]
TRIGGERS, RETRY_POLICIES = indexed()


def triggers() -> dict[str, dict[str, Any]]:
    return TRIGGERS


def test_every_http_route_of_the_api_is_declared_once() -> None:
    routes = sorted(
        (str(d["route"]), *sorted(str(getattr(m, "value", m)) for m in d["methods"]))
        for d in triggers().values()
        if d["type"] == "httpTrigger"
    )
    assert routes == sorted(
        [
            ("v1/generations", "POST"),
            ("v1/generations", "GET"),
            ("v1/generations/{id}", "GET"),
            ("v1/generations/{id}/image", "GET"),
            ("v1/generations/{id}/prompt", "GET"),
            ("v1/screening/policy", "GET"),
            ("v1/models", "GET"),
            ("v1/budgets", "GET"),
            ("v1/budgets/{department_id}", "GET"),
            ("v1/budgets/{department_id}", "PUT"),
            ("v1/quota", "GET"),
            ("v1/health/live", "GET"),
            ("v1/health/ready", "GET"),
            ("v1/openapi.json", "GET"),
            ("v1/webhooks/{department_id}", "PUT"),
            ("v1/webhooks/{department_id}", "GET"),
            ("v1/webhooks/{department_id}", "DELETE"),
            ("v1/webhooks/{department_id}/deliveries", "GET"),
            ("v1/audit/verify", "POST"),
            ("v1/audit/streams/{stream_id}", "GET"),
            ("v1/audit/events", "GET"),
            ("v1/audit/subjects/{user_id}/streams", "GET"),
            ("v1/privacy/subjects/{user_id}/erase", "POST"),
            ("v1/privacy/subjects/{user_id}/export", "GET"),
            ("v1/provenance/verify", "POST"),
            ("openai/v1/images/generations", "POST"),
            ("openai/deployments/{deployment}/images/generations", "POST"),
            ("openai/v1/models", "GET"),
            ("openai/images/{id}", "GET"),
        ]
    )
    auth_levels = {
        str(getattr(d["authLevel"], "value", d["authLevel"]))
        for d in triggers().values()
        if d["type"] == "httpTrigger"
    }
    # Tokens are validated by the app itself; Functions keys would be a second, weaker door.
    assert auth_levels == {"anonymous"}


def test_the_worker_and_timer_bindings() -> None:
    declared = triggers()
    worker = declared["advance"]
    assert worker["type"] == "serviceBusTrigger"
    assert worker["queueName"] == "generation-jobs"
    assert worker["connection"] == "ServiceBusConnection"
    for name in ("requeue_stuck", "measure_queue_ages"):
        timer = declared[name]
        assert timer["type"] == "timerTrigger"
        assert len(str(timer["schedule"]).split()) == 6


def test_the_seal_timer_runs_on_the_schedule_its_setting_gives() -> None:
    from devhost.ncrontab import parse_schedule
    from services.settings import Settings

    timer = triggers()["write_seals"]
    assert timer["type"] == "timerTrigger"
    assert timer["schedule"] == "%DONATELLO_SEAL_SCHEDULE%"
    schedule = parse_schedule(Settings(seal_interval_minutes=5).seal_schedule)
    start = datetime(2026, 11, 23, 9, 58, 30, tzinfo=UTC)
    fired = [schedule.next_after(start)]
    while len(fired) < 3:
        fired.append(schedule.next_after(fired[-1]))
    assert [f"{t:%H:%M:%S}" for t in fired] == ["10:00:00", "10:05:00", "10:10:00"]


def test_host_json_prefixes_routes_with_api() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == "api"


def test_each_projection_has_a_change_feed_trigger_with_its_own_lease_prefix() -> None:
    feeds = {
        name: d
        for name, d in triggers().items()
        if d["type"] == "cosmosDBTrigger" and name.startswith("project_")
    }
    assert sorted(feeds) == sorted(f"project_{p.name}" for p in OWN_FEED_PROJECTIONS)
    prefixes = set()
    for projection in OWN_FEED_PROJECTIONS:
        feed = feeds[f"project_{projection.name}"]
        assert feed["connection"] == "CosmosDbConnection"  # identity-based: __accountEndpoint
        assert feed["databaseName"] == "%DONATELLO_COSMOS_DATABASE%"
        assert feed["containerName"] == "events"
        assert feed["leaseContainerName"] == "leases"
        assert feed["leaseContainerPrefix"] == f"{projection.name}-"
        prefixes.add(feed["leaseContainerPrefix"])
        # A projection must see the log from its first event.
        assert feed["startFromBeginning"] is True
        # A managed identity cannot create containers; the templates create `leases`.
        assert feed["createLeaseContainerIfNotExists"] is False
    # No prefix is the start of another, or two projections would share leases.
    assert not any(a != b and b.startswith(a) for a in prefixes for b in prefixes)


def test_a_failed_projection_batch_is_retried_until_it_succeeds() -> None:
    """Without a retry policy the Cosmos DB trigger checkpoints past a failed batch."""
    for projection in OWN_FEED_PROJECTIONS:
        policy = RETRY_POLICIES[f"project_{projection.name}"]
        assert policy["strategy"] == "exponential_backoff"
        assert policy["max_retry_count"] == "-1"  # endless: the lease waits for success
        assert policy["minimum_interval"] == "00:00:01"
        assert policy["maximum_interval"] == "00:01:00"


def test_webhooks_are_dispatched_from_the_feed_and_delivered_from_their_own_queue() -> None:
    declared = triggers()
    worker = declared["deliver_webhook"]
    assert worker["type"] == "serviceBusTrigger"
    assert worker["queueName"] == "webhook-deliveries"
    assert worker["connection"] == "ServiceBusConnection"
    feed = declared["dispatch_webhooks"]
    assert feed["type"] == "cosmosDBTrigger"
    assert feed["containerName"] == "events"
    assert feed["leaseContainerName"] == "leases"
    assert feed["createLeaseContainerIfNotExists"] is False
    # Its own leases: no projection's prefix starts it, nor does it start one.
    prefix = str(feed["leaseContainerPrefix"])
    for projection in ALL_PROJECTIONS:
        other = f"{projection.name}-"
        assert not prefix.startswith(other)
        assert not other.startswith(prefix)
    # Checkpointing past a failed batch would lose its notifications (and deliveries view).
    assert RETRY_POLICIES["dispatch_webhooks"]["max_retry_count"] == "-1"
    own = {p.name for p in OWN_FEED_PROJECTIONS}
    assert {p.name for p in ALL_PROJECTIONS} - own == {"webhook_deliveries"}
