"""ServiceBusWorkQueue through the real `azure-servicebus` SDK, against a local AMQP broker.

There is no Service Bus emulator here. `tests.amqp_broker` accepts a sender's AMQP 1.0
conversation over TLS on loopback and records each message as the SDK encoded it, so
these tests check the adapter end to end down to the wire: the SDK's client, its
claims-based-security auth with a token credential, the sender link, transfers and
settlement. They cannot check the queue's semantics (duplicate detection, scheduling):
those are the service's, and the local twin's (tests/contract/test_local_queue.py).

Where this setup differs from a real namespace, and the tests say so:
- `custom_endpoint_address` points the client at the broker; with it, the SDK would
  default to AMQP over WebSockets, so the tests ask for plain AMQP (`TransportType.Amqp`),
  which is what the adapter uses against a real namespace.
- With a custom endpoint, the SDK reports a rejected token as ServiceBusConnectionError
  (its own choice, "for uamqp parity"); against a real namespace it is
  ServiceBusAuthenticationError. Both carry the CBS failure as the inner exception.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, TransportType
from azure.servicebus._pyamqp.error import TokenAuthFailure
from azure.servicebus.exceptions import ServiceBusConnectionError

from adapters.servicebus_queue import ServiceBusWorkQueue
from services.generations import JOB_QUEUE, job_message
from services.ports import OutgoingMessage
from tests.amqp_broker import AmqpBroker, BrokerLog
from tests.azurite_fixtures import _self_signed_loopback_cert
from tests.contract.queue_probe_contract import Probed, QueueProbeContract
from tests.keyvault_server import FixedTokenCredential

NAMESPACE = "donatello-test.servicebus.windows.net"
QUEUE_ADDRESS = f"amqps://{NAMESPACE}/{JOB_QUEUE}"
TOKEN = "managed-identity-token"

MakeQueue = Callable[..., ServiceBusWorkQueue]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _self_signed_loopback_cert(tmp_path_factory.mktemp("servicebus-tls"))


@pytest.fixture
def broker(tls_files: tuple[Path, Path]) -> Iterator[AmqpBroker]:
    server = AmqpBroker(*tls_files, token=TOKEN)
    yield server
    server.close()


@pytest.fixture
def make_queue(broker: AmqpBroker, tls_files: tuple[Path, Path]) -> Iterator[MakeQueue]:
    made: list[ServiceBusWorkQueue] = []

    def make(
        token: str = TOKEN, *, retry_total: int = 0, retry_backoff_factor: float = 0.8
    ) -> ServiceBusWorkQueue:
        client = ServiceBusClient(
            NAMESPACE,
            FixedTokenCredential(token),
            custom_endpoint_address=broker.endpoint,
            transport_type=TransportType.Amqp,
            connection_verify=str(tls_files[0]),
            retry_total=retry_total,
            retry_backoff_factor=retry_backoff_factor,
        )
        made.append(ServiceBusWorkQueue(client, JOB_QUEUE))
        return made[-1]

    yield make
    for queue in made:
        queue.close()


def _message_ids(log: BrokerLog) -> list[object]:
    return [
        d.message.properties.message_id if d.message.properties else None for d in log.delivered
    ]


def _eventually(check: Callable[[BrokerLog], bool], broker: AmqpBroker) -> BrokerLog:
    deadline = time.monotonic() + 5
    while not check(log := broker.log()):
        assert time.monotonic() < deadline, f"the broker never saw it: {log}"
        time.sleep(0.01)
    return log


def test_a_job_message_arrives_as_sent(broker: AmqpBroker, make_queue: MakeQueue) -> None:
    generation_id = uuid.uuid4()
    make_queue().send(job_message(generation_id))
    (delivered,) = broker.log().delivered
    assert delivered.address == QUEUE_ADDRESS
    properties = delivered.message.properties
    assert properties is not None
    assert properties.message_id == str(generation_id).encode()
    assert properties.content_type == b"application/json"
    assert delivered.message.data == [job_message(generation_id).body]


def test_a_scheduled_message_carries_its_enqueue_time_and_properties(
    broker: AmqpBroker, make_queue: MakeQueue
) -> None:
    at = datetime(2030, 1, 1, 12, 0, 0, 250000, tzinfo=UTC)
    make_queue().send(OutgoingMessage("m-1", b"{}", at, {"kind": "retry"}))
    (delivered,) = broker.log().delivered
    annotations = delivered.message.message_annotations
    assert annotations == {b"x-opt-scheduled-enqueue-time": int(at.timestamp() * 1000)}
    assert delivered.message.application_properties == {b"kind": b"retry"}


def test_authenticates_with_the_credentials_token_for_the_queue(
    broker: AmqpBroker, make_queue: MakeQueue
) -> None:
    make_queue().send(job_message(uuid.uuid4()))
    assert broker.log().tokens == [(f"sb://{NAMESPACE}/{JOB_QUEUE}", "jwt")]


def test_a_rejected_token_fails_the_send(broker: AmqpBroker, make_queue: MakeQueue) -> None:
    with pytest.raises(ServiceBusConnectionError) as raised:
        make_queue(token="a-stolen-token").send(job_message(uuid.uuid4()))
    assert isinstance(raised.value.inner_exception, TokenAuthFailure)
    assert raised.value.inner_exception.status_code == 401
    assert broker.log().delivered == []


def test_concurrent_sends_share_one_connection_and_one_link(
    broker: AmqpBroker, make_queue: MakeQueue
) -> None:
    queue = make_queue()
    ids = [str(uuid.uuid4()) for _ in range(40)]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def send(batch: list[str]) -> None:
        try:
            start.wait()
            for message_id in batch:
                queue.send(OutgoingMessage(message_id, b"{}"))
        except BaseException as error:  # surfaced below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=send, args=(ids[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    log = broker.log()
    delivered = _message_ids(log)
    assert len(delivered) == len(ids)
    assert set(delivered) == {i.encode() for i in ids}
    assert log.connections_opened == 1
    assert [address for address, _ in log.links].count(QUEUE_ADDRESS) == 1


def test_a_dropped_connection_is_reopened_by_the_sdks_retry(
    broker: AmqpBroker, make_queue: MakeQueue
) -> None:
    queue = make_queue(retry_total=1, retry_backoff_factor=0.01)
    queue.send(OutgoingMessage("before", b"{}"))
    broker.drop_connections()
    queue.send(OutgoingMessage("after", b"{}"))
    log = broker.log()
    assert _message_ids(log) == [b"before", b"after"]
    assert log.connections_opened == 2


def test_an_unreachable_namespace_fails_the_send(broker: AmqpBroker, make_queue: MakeQueue) -> None:
    queue = make_queue()
    broker.close()
    with pytest.raises(ServiceBusConnectionError):
        queue.send(job_message(uuid.uuid4()))


def test_close_ends_the_connection_and_refuses_later_sends(
    broker: AmqpBroker, make_queue: MakeQueue
) -> None:
    queue = make_queue()
    queue.send(job_message(uuid.uuid4()))
    queue.close()
    _eventually(lambda log: log.connections_closed == 1, broker)
    with pytest.raises(RuntimeError, match="closed"):
        queue.send(job_message(uuid.uuid4()))
    assert broker.log().connections_opened == 1


class TestServiceBusProbe(QueueProbeContract):
    @pytest.fixture
    def probed(self, broker: AmqpBroker, make_queue: MakeQueue) -> Probed:
        return Probed(make_queue(), lambda: broker.settle_first(JOB_QUEUE))


def test_the_probe_peeks_through_one_receiver_that_never_takes_a_message(
    broker: AmqpBroker, make_queue: MakeQueue
) -> None:
    queue = make_queue()
    queue.send(job_message(uuid.uuid4()))
    assert queue.oldest_unsettled() is not None
    assert queue.oldest_unsettled() is not None
    log = broker.log()
    receiving = [address for address, client_receives in log.links if client_receives]
    assert receiving.count(QUEUE_ADDRESS) == 1, "one receiver, kept"
    assert f"{JOB_QUEUE}/$management" in receiving
    # A peek-lock receiver granted credit would lock messages away from the workers.
    assert all(credit == 0 for address, credit in log.credit if address == QUEUE_ADDRESS)
    queue.close()
    with pytest.raises(RuntimeError, match="closed"):
        queue.oldest_unsettled()
