"""How an OutgoingMessage becomes a ServiceBusMessage (adapters.servicebus_queue)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from azure.servicebus.amqp import AmqpMessageBodyType

from adapters.servicebus_queue import to_servicebus_message
from services.generations import job_message
from services.ports import OutgoingMessage

SYDNEY_SUMMER = timezone(timedelta(hours=11))


def test_a_job_message_keeps_its_deterministic_id_and_json_body() -> None:
    generation_id = uuid.uuid4()
    outgoing = job_message(generation_id)
    message = to_servicebus_message(outgoing)
    assert message.message_id == str(generation_id)
    assert message.content_type == "application/json"
    assert message.body_type == AmqpMessageBodyType.DATA
    assert b"".join(message.body) == outgoing.body
    assert message.scheduled_enqueue_time_utc is None
    assert not message.application_properties


def test_the_recovery_timers_ids_fit_service_bus_limit() -> None:
    generation_id = uuid.uuid4()
    outgoing = job_message(generation_id, message_id=f"{generation_id}:requeue:v{10**9}")
    assert to_servicebus_message(outgoing).message_id == outgoing.message_id


def test_an_id_over_service_bus_128_characters_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="128"):
        to_servicebus_message(OutgoingMessage(message_id="x" * 129, body=b"{}"))


def test_application_properties_are_copied() -> None:
    properties = {"correlation_id": "c-1", "kind": "advance"}
    message = to_servicebus_message(OutgoingMessage("m-1", b"{}", None, properties))
    assert message.application_properties == properties


def test_a_scheduled_time_is_sent_as_the_same_instant_in_utc() -> None:
    at = datetime(2026, 1, 15, 9, 30, tzinfo=SYDNEY_SUMMER)
    message = to_servicebus_message(OutgoingMessage("m-1", b"{}", scheduled_enqueue_time=at))
    assert message.scheduled_enqueue_time_utc == at
    assert message.scheduled_enqueue_time_utc is not None
    assert message.scheduled_enqueue_time_utc.utcoffset() == timedelta(0)
    assert message.scheduled_enqueue_time_utc.hour == 22


def test_a_naive_scheduled_time_is_refused_as_the_local_twin_refuses_it() -> None:
    naive = datetime(2026, 1, 15, 9, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        to_servicebus_message(OutgoingMessage("m-1", b"{}", scheduled_enqueue_time=naive))


def test_binary_bodies_are_sent_unchanged() -> None:
    body = bytes(range(256))
    assert b"".join(to_servicebus_message(OutgoingMessage("m", body)).body) == body
