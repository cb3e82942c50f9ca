"""A minimal AMQP 1.0 broker over TLS on loopback, enough for a Service Bus *sender*
and for a receiver that only peeks.

Service Bus has no emulator that runs here, so this broker accepts exactly the
conversation `azure-servicebus`'s `ServiceBusSender` has with a namespace, frame by frame,
encoded and decoded with the SDK's own AMQP codec (`azure.servicebus._pyamqp`):

1. the SASL layer: mechanisms offered, ANONYMOUS accepted (token auth happens on CBS);
2. open, begin, and the claims-based-security links (`$cbs`): the SDK sends a
   `put-token` request with the token its credential issued for
   `https://servicebus.azure.net/.default`; the broker checks it and answers
   `status-code` 202, or 401 for a wrong token;
3. a sender link to the queue, flow credit, and each message transfer, which the broker
   records and settles as `accepted` (the SDK's `send_messages` returns once it sees it);
4. detach, end, close;
5. for a receiver that peeks: its link to the queue (the credit it grants is logged, and
   nothing is ever delivered on it), and the queue's management node
   (`<queue>/$management`): a `com.microsoft:peek-message` request is answered with the
   queue's messages from the requested sequence number, each annotated as Service Bus
   does (`x-opt-sequence-number`, `x-opt-enqueued-time`, `x-opt-message-state`: 2 for one
   scheduled for later than it arrived).

It is not Service Bus: no duplicate detection, scheduled activation, locks, sessions,
management operations but the peek, or multi-frame messages. Tests use it to see what
the SDK puts on the wire for a message and how the adapter uses its connection; the
queue's semantics are the local twin's (`adapters.sqlite_queue`) and the service's.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

from azure.servicebus._pyamqp._decode import decode_frame, decode_payload
from azure.servicebus._pyamqp._encode import encode_frame, encode_payload
from azure.servicebus._pyamqp.endpoints import Source, Target
from azure.servicebus._pyamqp.message import Message, Properties
from azure.servicebus._pyamqp.outcomes import Accepted
from azure.servicebus._pyamqp.performatives import (
    AttachFrame,
    BeginFrame,
    CloseFrame,
    DetachFrame,
    DispositionFrame,
    EndFrame,
    FlowFrame,
    OpenFrame,
    SASLMechanism,
    SASLOutcome,
    TransferFrame,
)
from azure.servicebus._pyamqp.types import TYPE, VALUE, AMQPTypes

SASL_HEADER = b"AMQP\x03\x01\x00\x00"
AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
_SASL_FRAME = b"\x01"
_OPEN, _BEGIN, _ATTACH, _FLOW, _TRANSFER, _DISPOSITION, _DETACH, _END, _CLOSE = range(0x10, 0x19)
_SASL_INIT = 0x41
_RECEIVER = True  # an attach's role: True for the receiving end
CBS = "$cbs"
MANAGEMENT = "/$management"
_PEEK = b"com.microsoft:peek-message"
_SCHEDULED_FOR, _ENQUEUED_AT = b"x-opt-scheduled-enqueue-time", b"x-opt-enqueued-time"
_T = TypeVar("_T", bound=NamedTuple)


@dataclass(frozen=True, slots=True)
class Delivered:
    """A message the broker accepted on a link to `address`, as the SDK encoded it."""

    address: str
    message: Message
    connection: int


@dataclass
class BrokerLog:
    connections_opened: int = 0
    connections_closed: int = 0
    tokens: list[tuple[str, str]] = field(default_factory=list)  # (audience, token type)
    links: list[tuple[str, bool]] = field(default_factory=list)  # (address, client is receiver)
    delivered: list[Delivered] = field(default_factory=list)
    credit: list[tuple[str, int]] = field(default_factory=list)  # (address, link credit granted)


@dataclass(frozen=True, slots=True)
class Stored:
    """A message in the broker's queue, as a peek shows it."""

    sequence_number: int
    enqueued_ms: int
    scheduled: bool
    message: Message


@dataclass
class _Link:
    address: str
    client_is_receiver: bool
    our_handle: int


def _terminus(kind: type[_T], fields: list[Any]) -> _T:
    """The client's source or target, echoed back: omitted trailing fields are defaults."""
    return kind._make([*fields, *[None] * (len(kind._fields) - len(fields))])


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class AmqpBroker:
    def __init__(self, cert_file: Path, key_file: Path, *, token: str) -> None:
        self._token = token
        self._lock = threading.Lock()
        self._log = BrokerLog()
        self._queues: dict[str, list[Stored]] = {}  # by queue name
        self._sequence = 0
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert_file, key_file)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def endpoint(self) -> str:
        """For `ServiceBusClient(custom_endpoint_address=...)`."""
        return f"sb://127.0.0.1:{self.port}"

    def log(self) -> BrokerLog:
        with self._lock:
            return BrokerLog(
                self._log.connections_opened,
                self._log.connections_closed,
                list(self._log.tokens),
                list(self._log.links),
                list(self._log.delivered),
                list(self._log.credit),
            )

    def settle_first(self, queue: str) -> None:
        """Take the queue's first message away, as a worker completing it would."""
        with self._lock:
            self._queues[queue].pop(0)

    def drop_connections(self) -> None:
        """Cut every open connection, as a network failure or a broker restart would."""
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop listening and cut open connections: the namespace is unreachable."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._listener.close()
        self.drop_connections()
        self._accepting.join()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        with self._lock:
            self._log.connections_opened += 1
            number = self._log.connections_opened
        try:
            with self._context.wrap_socket(raw, server_side=True) as tls:
                with self._lock:
                    self._sockets.add(tls)
                try:
                    _Connection(self, tls, number).run()
                finally:
                    with self._lock:
                        self._sockets.discard(tls)
        except (OSError, ConnectionError):
            pass  # the client went away, or the broker cut the connection
        finally:
            with self._lock:
                self._log.connections_closed += 1

    def _put_token(self, audience: str, token_type: str, token: str) -> bool:
        with self._lock:
            self._log.tokens.append((audience, token_type))
        return token == self._token

    def _attached(self, address: str, client_is_receiver: bool) -> None:
        with self._lock:
            self._log.links.append((address, client_is_receiver))

    def _deliver(self, delivered: Delivered) -> None:
        now_ms = int(time.time() * 1000)
        annotations = delivered.message.message_annotations or {}
        scheduled_for = annotations.get(_SCHEDULED_FOR)
        with self._lock:
            self._log.delivered.append(delivered)
            self._sequence += 1
            stored = Stored(
                self._sequence, now_ms, _epoch_ms(scheduled_for) > now_ms, delivered.message
            )
            self._queues.setdefault(delivered.address.rsplit("/", 1)[-1], []).append(stored)

    def _granted(self, address: str, credit: int) -> None:
        with self._lock:
            self._log.credit.append((address, credit))

    def _peek(self, queue: str, from_sequence: int, count: int) -> list[Stored]:
        with self._lock:
            stored = self._queues.get(queue, [])
            return [m for m in stored if m.sequence_number >= from_sequence][:count]


def _epoch_ms(moment: Any) -> int:
    """An AMQP timestamp as the codec decodes it (ms since the epoch), or 0 for none."""
    if moment is None:
        return 0
    return int(moment.timestamp() * 1000) if hasattr(moment, "timestamp") else int(moment)


def _peeked(stored: Stored) -> bytes:
    """The message as a peek answers it: Service Bus's annotations added."""
    annotations: dict[str | bytes, Any] = {
        key: {TYPE: AMQPTypes.timestamp, VALUE: _epoch_ms(value)}
        if key == _SCHEDULED_FOR
        else value
        for key, value in (stored.message.message_annotations or {}).items()
    }
    annotations[b"x-opt-sequence-number"] = {TYPE: AMQPTypes.long, VALUE: stored.sequence_number}
    annotations[_ENQUEUED_AT] = {TYPE: AMQPTypes.timestamp, VALUE: stored.enqueued_ms}
    annotations[b"x-opt-message-state"] = {TYPE: AMQPTypes.int, VALUE: 2 if stored.scheduled else 0}
    payload = bytearray()
    encode_payload(payload, stored.message._replace(message_annotations=annotations))
    return bytes(payload)


class _Connection:
    """One client connection: one session, frames answered in order."""

    def __init__(self, broker: AmqpBroker, tls: ssl.SSLSocket, number: int) -> None:
        self._broker = broker
        self._tls = tls
        self._number = number
        self._links: dict[int, _Link] = {}  # by the client's handle
        self._next_delivery_id = 0

    def run(self) -> None:
        self._handshake(SASL_HEADER)
        self._send(0, SASLMechanism(sasl_server_mechanisms=[b"MSSBCBS", b"ANONYMOUS"]), _SASL_FRAME)
        _, code, _ = self._read_frame()
        if code != _SASL_INIT:
            raise ConnectionError(f"expected sasl-init, got frame {code:#x}")
        self._send(0, SASLOutcome(code=0, additional_data=None), _SASL_FRAME)
        self._handshake(AMQP_HEADER)
        while True:
            channel, code, fields = self._read_frame()
            if code == _CLOSE:
                self._send(0, CloseFrame(error=None))
                return
            self._answer(channel, code, fields)

    def _answer(self, channel: int, code: int, fields: list[Any]) -> None:
        if code == _OPEN:
            self._send(0, OpenFrame("fake-servicebus", None, 65536, 255, None, *[None] * 5))
        elif code == _BEGIN:
            self._send(channel, BeginFrame(channel, 0, 5000, 5000, 255, None, None, None))
        elif code == _ATTACH:
            self._attach(channel, fields)
        elif code == _TRANSFER:
            self._transfer(channel, fields)
        elif code == _DETACH:
            self._send(channel, DetachFrame(self._links[fields[0]].our_handle, True, None))
        elif code == _END:
            self._send(channel, EndFrame(error=None))
        elif code == _FLOW and fields[4] is not None:
            link = self._links[fields[4]]
            if link.client_is_receiver:
                self._broker._granted(link.address, fields[6] or 0)
        # Disposition (the settlement of our replies) needs no answer.

    def _attach(self, channel: int, fields: list[Any]) -> None:
        name, handle, role, send_settle, receive_settle, source, target = fields[:7]
        client_is_receiver = bool(role)
        address = _text((source if client_is_receiver else target)[0])
        link = _Link(address, client_is_receiver, our_handle=len(self._links))
        self._links[handle] = link
        self._broker._attached(address, client_is_receiver)
        reply = AttachFrame(
            name,
            link.our_handle,
            not client_is_receiver,
            send_settle,
            receive_settle,
            _terminus(Source, source),
            _terminus(Target, target),
            None,
            None,
            0 if client_is_receiver else None,
            262144,
            None,
            None,
            None,
        )
        self._send(channel, reply)
        if not client_is_receiver:
            flow = FlowFrame(
                0,
                5000,
                self._next_delivery_id,
                5000,
                link.our_handle,
                0,
                100,  # link credit
                None,
                False,
                False,
                None,
            )
            self._send(channel, flow)

    def _transfer(self, channel: int, fields: list[Any]) -> None:
        handle, delivery_id, settled, more = fields[0], fields[1], fields[4], fields[5]
        if more:
            raise ConnectionError("multi-frame messages are not supported by this broker")
        link = self._links[handle]
        message = decode_payload(fields[-1])
        management = link.address == CBS or link.address.endswith(MANAGEMENT)
        if not management:
            # Recorded before it is settled: once settled, the sender's send returns.
            self._broker._deliver(Delivered(link.address, message, self._number))
        if not settled:
            accepted = DispositionFrame(_RECEIVER, delivery_id, delivery_id, True, Accepted(), None)
            self._send(channel, accepted)
        if link.address == CBS:
            self._answer_put_token(channel, message)
        elif management:
            self._answer_peek(channel, link.address, message)

    def _answer_peek(self, channel: int, address: str, request: Message) -> None:
        operation = (request.application_properties or {}).get(b"operation")
        if operation != _PEEK or request.properties is None:
            raise ConnectionError(f"management operation {operation!r} is not supported")
        asked = {_text(key): value for key, value in (request.value or {}).items()}
        peeked = self._broker._peek(
            address.removesuffix(MANAGEMENT).rsplit("/", 1)[-1],
            int(asked["from-sequence-number"]),
            int(asked["message-count"]),
        )
        response = Message(
            properties=Properties(correlation_id=cast(Any, request.properties.message_id)),
            application_properties={b"statusCode": 200 if peeked else 204},
            value={b"messages": [{b"message": _peeked(m)} for m in peeked]} if peeked else None,
        )
        self._reply(channel, address, response)

    def _answer_put_token(self, channel: int, request: Message) -> None:
        properties, request_properties = request.application_properties, request.properties
        if properties is None or request_properties is None:
            raise ConnectionError("a put-token request without its properties")
        valid = self._broker._put_token(
            _text(properties[b"name"]), _text(properties[b"type"]), _text(request.value)
        )
        status, description = (202, b"Accepted") if valid else (401, b"InvalidSignature")
        response = Message(
            # The request's id is a UUID, which Properties' annotation leaves out.
            properties=Properties(correlation_id=cast(Any, request_properties.message_id)),
            application_properties={b"status-code": status, b"status-description": description},
        )
        self._reply(channel, CBS, response)

    def _reply(self, channel: int, address: str, response: Message) -> None:
        """A management node's answer, on the client's receiving link from that node."""
        reply_link = next(
            link
            for link in self._links.values()
            if link.client_is_receiver and link.address == address
        )
        payload = bytearray()
        encode_payload(payload, response)
        delivery_id, self._next_delivery_id = self._next_delivery_id, self._next_delivery_id + 1
        tag = struct.pack(">I", delivery_id)
        transfer = TransferFrame(
            handle=reply_link.our_handle,
            delivery_id=delivery_id,
            delivery_tag=tag,
            message_format=0,
            settled=True,
            more=False,
            payload=bytes(payload),
        )
        self._send(channel, transfer)

    # --- framing -----------------------------------------------------------------------

    def _handshake(self, header: bytes) -> None:
        received = self._read_exact(8)
        if received != header:
            raise ConnectionError(f"expected protocol header {header!r}, got {received!r}")
        self._tls.sendall(header)

    def _read_frame(self) -> tuple[int, int, list[Any]]:
        """The next non-empty frame: channel, performative code, fields."""
        while True:
            header = self._read_exact(8)
            size, offset, _frame_type, channel = struct.unpack(">IBBH", header)
            body = self._read_exact(size - 8)[offset * 4 - 8 :]
            if body:  # an empty frame is a heartbeat
                code, fields = decode_frame(memoryview(body))
                return channel, code, fields

    def _read_exact(self, count: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < count:
            chunk = self._tls.recv(count - len(chunks))
            if not chunk:
                raise ConnectionError("the client closed the connection")
            chunks += chunk
        return bytes(chunks)

    def _send(self, channel: int, frame: NamedTuple, frame_type: bytes = b"\x00") -> None:
        header, body = encode_frame(frame, frame_type)
        self._tls.sendall(header + struct.pack(">H", channel) + (body or b""))
