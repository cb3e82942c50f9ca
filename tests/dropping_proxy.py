"""A TCP proxy that loses answers on the wire: the request reaches the server, the
server does the work and answers, and the client's connection closes before a byte of
the answer arrives. What a client sees when a load balancer or network drops it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class DroppingProxy:
    def __init__(self, upstream_port: int, drop_first: int) -> None:
        self._upstream_port = upstream_port
        self._drops_left = drop_first
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.requests: list[bytes] = []  # what each connection carried to the server
        self.dropped = 0

    def serve_forever(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self._upstream_port))
        with self._lock:
            drop = self._drops_left > 0
            self._drops_left -= 1 if drop else 0
            index = len(self.requests)
            self.requests.append(b"")
        threading.Thread(target=self._forward, args=(client, upstream, index), daemon=True).start()
        try:
            while chunk := upstream.recv(65536):
                if drop:
                    with self._lock:
                        self.dropped += 1
                    break
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (client, upstream):
                # shutdown, not only close: it sends the FIN even while the other
                # thread is still blocked reading the same socket.
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def _forward(self, client: socket.socket, upstream: socket.socket, index: int) -> None:
        try:
            while chunk := client.recv(65536):
                with self._lock:
                    self.requests[index] += chunk
                upstream.sendall(chunk)
        except OSError:
            pass


@contextmanager
def dropping_proxy(upstream_port: int, drop_first: int = 1) -> Iterator[DroppingProxy]:
    proxy = DroppingProxy(upstream_port, drop_first)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield proxy
    finally:
        proxy.close()
