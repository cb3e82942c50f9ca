"""The webhook domain: signatures, the subscription fold, delivery ids and backoff."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from domain.envelope import GENESIS_HASH, SYSTEM_ACTOR, Event
from domain.generation import Payload
from domain.webhooks import (
    Delivery,
    Kind,
    WebhookAttemptFailed,
    WebhookDeadLettered,
    WebhookDelivered,
    WebhookRegistered,
    WebhookRemoved,
    current_subscription,
    delivery_id,
    delivery_state,
    retry_delay,
    signature_header,
    subscription_secret,
    unrecorded,
    verify_signature,
)

SECRET = "whsec_test"
BODY = b'{"id":"1","type":"budget.threshold_crossed"}'
NOW = 1_750_000_000


def event(payload: Payload, version: int) -> Event:
    return Event(
        event_id=uuid4(),
        stream_id="webhooks-marketing",
        version=version,
        type=payload.TYPE,
        schema_version=1,
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        correlation_id=uuid4(),
        causation_id=None,
        actor=SYSTEM_ACTOR,
        data=payload.model_dump(mode="json"),
        prev_hash=GENESIS_HASH,
        hash=GENESIS_HASH,
    )


def test_a_signature_verifies_with_its_secret_body_and_a_fresh_timestamp() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert header.startswith(f"t={NOW},v1=")
    assert verify_signature(SECRET, header, BODY, NOW + 10)


def test_a_signature_fails_for_another_body_secret_or_an_old_timestamp() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, header, BODY + b" ", NOW)
    assert not verify_signature("whsec_other", header, BODY, NOW)
    assert not verify_signature(SECRET, header, BODY, NOW + 301)
    # A replay under a new timestamp does not carry a valid v1 for it.
    replayed = header.replace(f"t={NOW}", f"t={NOW + 1000}")
    assert not verify_signature(SECRET, replayed, BODY, NOW + 1000)
    assert not verify_signature(SECRET, "garbage", BODY, NOW)


def test_subscription_secrets_differ_by_key_department_and_subscription() -> None:
    one, two = UUID(int=1), UUID(int=2)
    secret = subscription_secret(b"k", "marketing", one)
    assert secret.startswith("whsec_")
    assert secret == subscription_secret(b"k", "marketing", one)
    assert secret != subscription_secret(b"other", "marketing", one)
    assert secret != subscription_secret(b"k", "finance", one)
    assert secret != subscription_secret(b"k", "marketing", two)


def test_the_subscription_in_force_follows_registrations_and_removals() -> None:
    first, second = uuid4(), uuid4()

    def registered(sid: UUID, url: str) -> WebhookRegistered:
        kinds = (Kind.BUDGET_THRESHOLD_CROSSED,)
        return WebhookRegistered(
            department_id="marketing", subscription_id=sid, url=url, kinds=kinds, secret_ref="x"
        )

    stream = [
        event(registered(first, "https://a.example/hook"), 1),
        event(registered(second, "https://b.example/hook"), 2),
        # Removing a replaced subscription leaves its successor in force.
        event(WebhookRemoved(department_id="marketing", subscription_id=first), 3),
    ]
    current = current_subscription(stream)
    assert current is not None
    assert (current.subscription_id, current.url) == (second, "https://b.example/hook")
    removed = event(WebhookRemoved(department_id="marketing", subscription_id=second), 4)
    assert current_subscription([*stream, removed]) is None
    assert current_subscription([]) is None


def test_a_delivery_counts_failed_attempts_until_it_finishes() -> None:
    failed = event(WebhookAttemptFailed(attempt=1, error="HTTP 500", retry_at=None), 1)
    assert delivery_state([failed]).failed_attempts == 1
    assert not delivery_state([failed]).finished
    done = event(WebhookDelivered(attempt=2, status_code=204), 2)
    assert delivery_state([failed, done]).finished


def test_an_outcome_is_recorded_once_per_attempt_and_never_after_the_end() -> None:
    failed = WebhookAttemptFailed(attempt=1, error="HTTP 500", retry_at=None)
    delivered = WebhookDelivered(attempt=2, status_code=204)
    dead = WebhookDeadLettered(attempts=0, last_error="the webhook was removed")
    one_failure = delivery_state([event(failed, 1)])
    assert unrecorded(Delivery(), 1, [failed]) == [failed]
    assert unrecorded(one_failure, 1, [failed]) == []  # another worker recorded it first
    assert unrecorded(one_failure, 2, [delivered]) == [delivered]
    assert unrecorded(one_failure, 0, [dead]) == [dead]
    finished = delivery_state([event(failed, 1), event(delivered, 2)])
    assert finished.version == 2
    assert unrecorded(finished, 3, [failed]) == []
    assert unrecorded(finished, 0, [dead]) == []


def test_delivery_ids_are_stable_per_event_and_target() -> None:
    event_id = uuid4()
    assert delivery_id(event_id, "callback") == delivery_id(event_id, "callback")
    assert delivery_id(event_id, "callback") != delivery_id(event_id, "sub")
    assert delivery_id(event_id, "callback") != delivery_id(uuid4(), "callback")


def test_the_backoff_doubles_up_to_its_cap() -> None:
    assert [retry_delay(n, 30.0, 3600.0) for n in range(1, 9)] == [
        30.0,
        60.0,
        120.0,
        240.0,
        480.0,
        960.0,
        1920.0,
        3600.0,
    ]
    assert retry_delay(1, 0.0, 3600.0) == 0.0


def test_the_readmes_verification_snippet_accepts_our_signatures_only() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    snippet = next(
        block.removeprefix("python\n")
        for block in readme.split("```")
        if block.startswith("python\n") and "def verify(" in block
    )
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    verify = namespace["verify"]
    header = signature_header(SECRET, int(time.time()), BODY)
    assert verify(SECRET, header, BODY)
    assert not verify(SECRET, header, BODY + b"x")
    assert not verify("whsec_other", header, BODY)
    assert not verify(SECRET, signature_header(SECRET, NOW, BODY), BODY)  # too old
