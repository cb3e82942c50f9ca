"""Webhook delivery through the service layer, with the real embedded adapters.

Events come from the real pipeline; the dispatcher reads them from the log, the real
local queue carries the delivery messages, httpx POSTs them over real sockets to a
local receiver. The tests drain the queue themselves, as the queue trigger would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.httpx_webhooks import HttpxWebhookSender
from bootstrap import (
    build_platform,
    local_queue,
    sqlite_event_store,
    webhook_dispatcher,
    webhook_ports,
)
from domain.access import AccessDenied, Principal, Role
from domain.generation import Status
from domain.streams import generation_stream, webhook_delivery_stream
from domain.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    Kind,
    WebhookAttemptFailed,
    WebhookDeadLettered,
    WebhookDelivered,
    verify_signature,
)
from services.budgets import BudgetUpdate, set_budget
from services.context import Platform
from services.destinations import RefusedDestination
from services.generations import GenerationRefused, GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.ports import EventStore
from services.repository import Repository
from services.settings import Settings
from services.webhook_delivery import DeliveryMessage, deliver, dispatch, parse_message
from services.webhooks import (
    WEBHOOK_QUEUE,
    WebhookPorts,
    WebhookRegistration,
    read_webhook,
    register_webhook,
    remove_webhook,
)
from tests.static_resolver import StaticResolver
from tests.store_wrappers import Forwarding
from tests.webhook_receiver import Receiver, running_receiver

DEPARTMENT = "marketing"
REQUESTER = Principal("alice", frozenset({Role.GENERATOR_STANDARD}), DEPARTMENT, None)
MANAGER = Principal("mia", frozenset({Role.DEPT_MANAGER}), DEPARTMENT, None)
OTHER_MANAGER = Principal("olga", frozenset({Role.DEPT_MANAGER}), "finance", None)
ADMIN = Principal("ada", frozenset({Role.ORG_ADMIN}), None, None)


@dataclasses.dataclass
class Harness:
    platform: Platform
    ports: WebhookPorts
    config: Settings

    def register(self, url: str, *kinds: Kind, who: Principal = MANAGER) -> dict[str, Any]:
        registration = WebhookRegistration(url=url, events=kinds or (Kind.GENERATION_COMPLETED,))
        return register_webhook(
            self.platform, self.ports.signing_key, who, DEPARTMENT, registration
        )

    def generate(self, prompt: str, callback_url: str | None = None) -> Status:
        request = GenerationRequest(prompt=prompt, callback_url=callback_url)
        submitted = submit_generation(self.platform, REQUESTER, request, None)
        return advance_generation(self.platform, submitted.generation_id).status

    def dispatch(self) -> None:
        webhook_dispatcher(self.config, lambda: self.platform).run_until_caught_up()

    def drain(self) -> list[str]:
        """Handle every visible delivery message, as the queue trigger would."""
        queue = local_queue(self.config, WEBHOOK_QUEUE)
        outcomes = []
        while batch := queue.receive(max_messages=1, max_wait_time=0.2):
            for message in batch:
                outcomes.append(deliver(self.platform, self.ports, parse_message(message.body)))
                queue.complete(message)
        return outcomes

    def delivery_events(self, delivery_id: str) -> list[str]:
        stream = webhook_delivery_stream(UUID(delivery_id))
        return [e.type for e in self.platform.store.read_stream(stream)]


def harness_for(tmp_path: Path, **settings: Any) -> Harness:
    config = Settings(
        data_dir=tmp_path,
        provider_backoff_seconds=(0.0,),
        webhook_allow_private=True,
        webhook_retry_base_seconds=0.0,
        **settings,
    )
    return Harness(build_platform(config), webhook_ports(config), config)


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return harness_for(tmp_path, webhook_max_attempts=3)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def now_seconds() -> int:
    return int(datetime.now(UTC).timestamp())


def verified(secret: str, received: Any) -> bool:
    header = received.headers[SIGNATURE_HEADER.lower()]
    return verify_signature(secret, header, received.body, now_seconds())


def test_a_receiver_failing_twice_gets_the_threshold_crossing_once_it_recovers(
    harness: Harness,
) -> None:
    update = BudgetUpdate(monthly_limit_aud=Decimal("0.05"), strategy="cost_optimised")
    set_budget(harness.platform, MANAGER, DEPARTMENT, update)
    with running_receiver(failures=2) as receiver:
        secret = harness.register(receiver.url, Kind.BUDGET_THRESHOLD_CROSSED)["secret"]
        # 0.01 AUD an image: the fourth charge reaches 80 % of 0.05.
        for n in range(3):
            assert harness.generate(f"a tile, pattern {n}") is Status.CHARGED
        harness.dispatch()
        assert harness.drain() == []
        assert harness.generate("a tile, pattern 3") is Status.CHARGED
        harness.dispatch()
        outcomes = harness.drain()

    assert outcomes == ["attempt 1 failed: HTTP 500", "attempt 2 failed: HTTP 500", "delivered"]
    assert [r.answered for r in receiver.received] == [500, 500, 204]
    (delivered,) = receiver.delivered()
    assert verified(secret, delivered)
    notification = delivered.document
    assert notification["type"] == "budget.threshold_crossed"
    assert notification["department_id"] == DEPARTMENT
    assert notification["data"]["threshold_percent"] == 80
    assert Decimal(notification["data"]["spent_aud"]) == Decimal("0.04")
    assert Decimal(notification["data"]["limit_aud"]) == Decimal("0.05")
    # Every attempt is the same delivery, with the same bytes, for the receiver to de-dup.
    assert {r.headers[DELIVERY_HEADER.lower()] for r in receiver.received} == {notification["id"]}
    assert {r.body for r in receiver.received} == {delivered.body}
    assert harness.delivery_events(notification["id"]) == [
        WebhookAttemptFailed.TYPE,
        WebhookAttemptFailed.TYPE,
        WebhookDelivered.TYPE,
    ]


def test_a_receiver_that_never_recovers_leaves_a_dead_letter_record(harness: Harness) -> None:
    with running_receiver(failures=-1) as receiver:
        harness.register(receiver.url)
        assert harness.generate("a lighthouse at dusk") is Status.CHARGED
        harness.dispatch()
        outcomes = harness.drain()

    assert len(receiver.received) == 3  # webhook_max_attempts
    assert outcomes[-1] == "dead-lettered"
    delivery_id = receiver.received[0].document["id"]
    stream = harness.platform.store.read_stream(webhook_delivery_stream(UUID(delivery_id)))
    assert [e.type for e in stream] == [WebhookAttemptFailed.TYPE] * 3 + [WebhookDeadLettered.TYPE]
    assert stream[-1].data == {
        "attempts": 3,
        "last_error": "HTTP 500",
        "department_id": "marketing",
        "kind": "generation.completed",
    }
    assert [e.data["status_code"] for e in stream[:-1]] == [500] * 3


def test_an_unreachable_receiver_is_retried_then_dead_lettered(harness: Harness) -> None:
    with running_receiver() as receiver:
        closed_url = receiver.url
    harness.register(closed_url)  # the server is gone: the connection is refused
    assert harness.generate("a lighthouse at dusk") is Status.CHARGED
    harness.dispatch()
    outcomes = harness.drain()
    assert outcomes[-1] == "dead-lettered"
    assert all("ConnectError" in o for o in outcomes[:-1])


def test_a_redelivered_message_or_event_after_success_posts_nothing(
    harness: Harness, receiver: Receiver
) -> None:
    harness.register(receiver.url)
    assert harness.generate("a lighthouse at dusk") is Status.CHARGED
    queue = local_queue(harness.config, WEBHOOK_QUEUE)
    harness.dispatch()
    (message,) = queue.receive(max_messages=1, max_wait_time=1.0)
    delivery = parse_message(message.body)
    assert deliver(harness.platform, harness.ports, delivery) == "delivered"
    queue.complete(message)

    # The same message again (a lost completion) and the same event dispatched again.
    assert deliver(harness.platform, harness.ports, delivery) == "already finished"
    generation_id = UUID(receiver.received[0].document["data"]["generation_id"])
    charged = harness.platform.store.read_stream(generation_stream(generation_id))[-1]
    assert dispatch(harness.platform, harness.ports, charged) == 1
    assert harness.drain() == []  # the queue dropped the duplicate message id
    assert len(receiver.received) == 1


class RacedOnTheDelivery(Forwarding):
    """The real store, except that `other` (another worker) handles `message` to its end
    just before this worker's first append to the delivery's stream."""

    def __init__(self, store: EventStore, other: Harness, message: DeliveryMessage) -> None:
        super().__init__(store)
        self.other: Harness | None = other
        self.message = message

    def before_append(self, stream_id: str, expected_version: int) -> None:
        other = self.other
        if other is not None and stream_id == webhook_delivery_stream(self.message.delivery_id):
            self.other = None
            deliver(other.platform, other.ports, self.message)


def test_an_attempt_two_workers_made_at_once_is_recorded_once(harness: Harness) -> None:
    with running_receiver() as receiver:
        closed_url = receiver.url
    harness.register(closed_url)
    assert harness.generate("a lighthouse at dusk") is Status.CHARGED
    harness.dispatch()
    queue = local_queue(harness.config, WEBHOOK_QUEUE)
    (message,) = queue.receive(max_messages=1, max_wait_time=1.0)
    delivery = parse_message(message.body)
    other = dataclasses.replace(harness, platform=build_platform(harness.config))
    racing = RacedOnTheDelivery(harness.platform.store, other, delivery)
    mine = dataclasses.replace(harness.platform, store=racing, repository=Repository(racing))

    outcome = deliver(mine, harness.ports, delivery)

    assert racing.other is None  # the other worker did get in first
    assert outcome.startswith("attempt 1 failed")
    events = harness.delivery_events(str(delivery.delivery_id))
    assert events == [WebhookAttemptFailed.TYPE]


def test_retries_back_off_exponentially_by_rescheduling(tmp_path: Path, receiver: Receiver) -> None:
    harness = harness_for(tmp_path, webhook_max_attempts=8)
    frozen = datetime.now(UTC)
    harness.platform = dataclasses.replace(harness.platform, clock=lambda: frozen)
    harness.platform = dataclasses.replace(
        harness.platform,
        settings=harness.config.model_copy(update={"webhook_retry_base_seconds": 30.0}),
    )
    receiver.failures = -1
    harness.register(receiver.url)
    assert harness.generate("a lighthouse at dusk") is Status.CHARGED
    harness.dispatch()
    assert harness.drain() == ["attempt 1 failed: HTTP 500"]  # the retry is not yet due
    queue = local_queue(harness.config, WEBHOOK_QUEUE)
    assert queue.active_count() == 1
    delivery_id = receiver.received[0].document["id"]
    (failed,) = harness.platform.store.read_stream(webhook_delivery_stream(UUID(delivery_id)))
    assert datetime.fromisoformat(failed.data["retry_at"]) == frozen + timedelta(seconds=30)


def test_a_completed_generation_is_posted_to_its_callback_url(
    harness: Harness, receiver: Receiver
) -> None:
    with running_receiver() as callback:
        secret = harness.register(receiver.url, Kind.BUDGET_THRESHOLD_CROSSED)["secret"]
        assert harness.generate("a lighthouse at dusk", callback.url) is Status.CHARGED
        with pytest.raises(GenerationRefused):  # refused at the door, its callback still told
            harness.generate("print my card 4111 1111 1111 1111", callback.url)
        harness.dispatch()
        harness.drain()

    documents = [r.document for r in callback.received]
    assert [d["data"]["status"] for d in documents] == ["charged", "rejected"]
    assert all(d["type"] == "generation.completed" for d in documents)
    assert Decimal(documents[0]["data"]["cost_aud"]) > 0
    assert "reason" in documents[1]["data"]
    assert all(verified(secret, r) for r in callback.received)
    assert receiver.received == []  # the subscription asked for thresholds only


def test_a_callback_without_a_department_webhook_is_dead_lettered_with_its_reason(
    harness: Harness, receiver: Receiver
) -> None:
    assert harness.generate("a lighthouse at dusk", receiver.url) is Status.CHARGED
    harness.dispatch()
    assert harness.drain() == []
    assert receiver.received == []
    store = sqlite_event_store(harness.config)  # the platform's log, read in its global order
    dead = [p.event for p in store.read_all(0) if p.event.type == WebhookDeadLettered.TYPE]
    assert len(dead) == 1
    assert "no webhook" in dead[0].data["last_error"]


def test_only_the_departments_manager_or_an_admin_manages_its_webhook(
    harness: Harness, receiver: Receiver
) -> None:
    registration = WebhookRegistration(url=receiver.url)
    for intruder in (OTHER_MANAGER, REQUESTER):
        with pytest.raises(AccessDenied):
            register_webhook(
                harness.platform, harness.ports.signing_key, intruder, DEPARTMENT, registration
            )
    first = harness.register(receiver.url)
    with pytest.raises(AccessDenied):
        read_webhook(harness.platform, OTHER_MANAGER, DEPARTMENT)
    with pytest.raises(AccessDenied):
        remove_webhook(harness.platform, OTHER_MANAGER, DEPARTMENT)

    second = harness.register(receiver.url, who=ADMIN)  # replaces it, with a new secret
    assert second["subscription_id"] != first["subscription_id"]
    assert second["secret"] != first["secret"]
    shown = read_webhook(harness.platform, MANAGER, DEPARTMENT)
    assert shown["subscription_id"] == second["subscription_id"]
    assert "secret" not in shown
    stored = b"".join(p.read_bytes() for p in harness.config.data_dir.glob("*.db*"))
    assert second["secret"].encode() not in stored
    assert first["secret"].encode() not in stored


def test_a_webhook_url_must_be_https_to_a_public_address_unless_told_otherwise(
    tmp_path: Path,
) -> None:
    strict = harness_for(tmp_path)
    resolver = StaticResolver({"hooks.example.com": ["93.184.215.14"], "intranet": ["10.1.2.3"]})
    strict.platform = dataclasses.replace(
        strict.platform,
        settings=strict.config.model_copy(update={"webhook_allow_private": False}),
        resolver=resolver,
    )
    for url in (
        "http://hooks.example.com/hook",
        "ftp://hooks.example.com",
        "https://user:pw@hooks.example.com/",
        "https://intranet/hook",
        "https://127.0.0.1/hook",
    ):
        with pytest.raises(RefusedDestination):
            strict.register(url)
    assert strict.register("https://hooks.example.com/hook")["url"] == (
        "https://hooks.example.com/hook"
    )


def test_a_webhook_whose_name_now_points_inside_is_dead_lettered_without_a_retry(
    tmp_path: Path, receiver: Receiver
) -> None:
    harness = harness_for(tmp_path)
    resolver = StaticResolver({"hooks.example.com": ["93.184.215.14"]})
    strict = harness.config.model_copy(update={"webhook_allow_private": False})
    harness.platform = dataclasses.replace(harness.platform, settings=strict, resolver=resolver)
    port = receiver.url.rsplit(":", 1)[1]  # "…:<port>/hooks"
    harness.ports = dataclasses.replace(
        harness.ports, sender=HttpxWebhookSender(resolver, allow_private=False)
    )
    harness.register(f"https://hooks.example.com:{port}")
    resolver.answers["hooks.example.com"] = ["127.0.0.1"]  # rebound after registration

    assert harness.generate("a lighthouse at dusk") is Status.CHARGED
    harness.dispatch()
    assert harness.drain() == ["dead-lettered: destination refused"]
    assert receiver.received == []
    store = sqlite_event_store(harness.config)  # the platform's log, read in its global order
    (dead,) = [p.event for p in store.read_all(0) if p.event.type == WebhookDeadLettered.TYPE]
    assert "loopback" in dead.data["last_error"]
