"""Webhooks on the running embedded platform: registered over HTTP, dispatched from the
log by the host's background reader, delivered by the queue-triggered function."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.webhooks import SIGNATURE_HEADER, verify_signature
from tests.platform_process import RunningPlatform, running_platform
from tests.webhook_receiver import Received, running_receiver


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(
        tmp_path_factory.mktemp("platform"),
        DONATELLO_WEBHOOK_ALLOW_PRIVATE="true",
        DONATELLO_WEBHOOK_RETRY_BASE_SECONDS="0",
    ) as running:
        yield running


def test_managers_register_only_their_departments_webhook(platform: RunningPlatform) -> None:
    manager = platform.client(platform.token("mia", ["Dept.Manager"], "design"))
    outsider = platform.client(platform.token("olga", ["Dept.Manager"], "finance"))
    requester = platform.client(platform.token("dan", ["Generator.Standard"], "design"))
    body = {"url": "http://127.0.0.1:9/hook", "events": ["budget.threshold_crossed"]}

    assert outsider.put("/api/v1/webhooks/design", json=body).status_code == 403
    assert requester.put("/api/v1/webhooks/design", json=body).status_code == 403
    assert manager.get("/api/v1/webhooks/design").status_code == 404
    refused = manager.put("/api/v1/webhooks/design", json={"url": "ftp://example.com"})
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/invalid-webhook-url")
    unknown_kind = manager.put("/api/v1/webhooks/design", json={**body, "events": ["nope"]})
    assert unknown_kind.status_code == 422
    # One mistake, one error: not a second "Tuple should have at least 1 item" besides.
    (error,) = unknown_kind.json()["errors"]
    assert error["loc"] == ["events", 0]
    assert "budget.threshold_crossed" in error["msg"]
    assert "generation.completed" in error["msg"]
    empty = manager.put("/api/v1/webhooks/design", json={**body, "events": []})
    assert [e["type"] for e in empty.json()["errors"]] == ["too_short"]  # still said alone

    registered = manager.put("/api/v1/webhooks/design", json=body)
    assert registered.status_code == 200
    assert registered.headers["cache-control"] == "no-store"
    assert registered.json()["secret"].startswith("whsec_")
    shown = manager.get("/api/v1/webhooks/design").json()
    assert shown["url"] == body["url"]
    assert "secret" not in shown
    assert outsider.get("/api/v1/webhooks/design").status_code == 403
    assert outsider.delete("/api/v1/webhooks/design").status_code == 403
    assert manager.delete("/api/v1/webhooks/design").status_code == 204
    assert manager.get("/api/v1/webhooks/design").status_code == 404


def test_a_flaky_receiver_gets_the_thresholds_and_the_callback_signed(
    platform: RunningPlatform,
) -> None:
    manager = platform.client(platform.token("max", ["Dept.Manager"], "events"))
    requester = platform.client(platform.token("eve", ["Generator.Standard"], "events"))
    update = {"monthly_limit_aud": "0.02", "enforcement": "hard", "strategy": "cost_optimised"}
    assert manager.put("/api/v1/budgets/events", json=update).status_code == 200
    with running_receiver(failures=2) as hooks, running_receiver() as callback:
        body = {"url": hooks.url, "events": ["budget.threshold_crossed"]}
        secret = manager.put("/api/v1/webhooks/events", json=body).json()["secret"]
        # Two 0.01 images: the second reaches 100 %, crossing 80, 90 and 100 at once.
        ids = [
            requester.post(
                "/api/v1/generations",
                json={"prompt": f"a poster, variant {n}", "callback_url": callback.url},
            ).json()["id"]
            for n in range(2)
        ]
        for generation_id in ids:
            assert platform.wait_terminal(requester, generation_id)["status"] == "charged"

        def delivered(received: list[Received]) -> list[Received]:
            return [r for r in received if r.answered == 204]

        thresholds = hooks.wait_for(lambda got: len(delivered(got)) == 3)
        callbacks = callback.wait_for(lambda got: len(got) == 2)

    # The receiver failed its first two requests; every notification still arrived once.
    assert sum(r.answered == 500 for r in thresholds) == 2
    ok = delivered(thresholds)
    assert sorted(r.document["data"]["threshold_percent"] for r in ok) == [80, 90, 100]
    assert len({r.document["id"] for r in ok}) == 3
    assert {r.document["data"]["generation_id"] for r in callbacks} == set(ids)
    assert all(Decimal(r.document["data"]["cost_aud"]) > 0 for r in callbacks)
    now = int(datetime.now(UTC).timestamp())
    for received in [*ok, *callbacks]:
        header = received.headers[SIGNATURE_HEADER.lower()]
        assert verify_signature(secret, header, received.body, now)

    # The manager sees each delivery: its event, attempts, last answer and error.
    deliveries = wait_for_deliveries(manager, "events", 5)
    by_event = {
        kind: [d for d in deliveries if d["event"] == kind]
        for kind in ("budget.threshold_crossed", "generation.completed")
    }
    assert len(by_event["budget.threshold_crossed"]) == 3
    assert len(by_event["generation.completed"]) == 2
    assert {d["delivery_id"] for d in by_event["budget.threshold_crossed"]} == {
        r.document["id"] for r in ok
    }
    assert all(d["state"] == "delivered" and d["last_status"] == 204 for d in deliveries)
    assert all(d["next_attempt_at"] is None for d in deliveries)
    retried = [d for d in by_event["budget.threshold_crossed"] if d["attempts"] > 1]
    assert sum(d["attempts"] - 1 for d in retried) == 2  # the receiver's two failures
    assert all(d["last_error"] == "HTTP 500" for d in retried)
    newest_first = [d["updated_at"] for d in deliveries]
    assert newest_first == sorted(newest_first, reverse=True)
    assert len(manager.get("/api/v1/webhooks/events/deliveries?limit=2").json()["items"]) == 2
    outsider = platform.client(platform.token("olga", ["Dept.Manager"], "finance"))
    assert outsider.get("/api/v1/webhooks/events/deliveries").status_code == 403


def wait_for_deliveries(client: Any, department: str, count: int) -> list[Any]:
    """The deliveries view, once it shows `count` finished deliveries."""
    deadline = time.monotonic() + 30
    while True:
        answer = client.get(f"/api/v1/webhooks/{department}/deliveries")
        assert answer.status_code == 200, answer.text
        items: list[Any] = answer.json()["items"]
        if sum(d["state"] == "delivered" for d in items) >= count:
            return items
        assert time.monotonic() < deadline, items
        time.sleep(0.2)


def test_the_platform_logged_no_exception(platform: RunningPlatform) -> None:
    log = Path(platform.log_path).read_text()
    assert "Traceback" not in log
