"""A remote-like image provider for the pipeline benchmark: the OpenAI images API over
HTTP, answering every request after a fixed delay with one pre-rendered PNG of a
realistic size, so the host does what a deployment does (wait, receive, decode, sign,
store) and none of the rendering. It runs in the benchmark's process, outside the
host's CPU figures.
"""

from __future__ import annotations

import base64
import io
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

MODEL = "stub-image-model"


def rendered_png(side: int = 1024, seed: int = 7) -> bytes:
    """A photo-like PNG: smooth shading plus grain, which compresses about as poorly as
    a generated image does (about 1.8 MB at 1024 x 1024)."""
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    noise = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    buffer = io.BytesIO()
    Image.blend(image, noise, 0.06).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


class ProviderStub:
    def __init__(self, delay: float, png: bytes) -> None:
        self.delay = delay
        self.answered = 0
        self.image_bytes = len(png)
        created = int(time.time())
        document = {"created": created, "data": [{"b64_json": base64.b64encode(png).decode()}]}
        self.body = json.dumps(document).encode()
        self.url = ""
        self._lock = threading.Lock()

    def count(self) -> None:
        with self._lock:
            self.answered += 1


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as a provider's front door allows

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        stub = self.server.stub
        time.sleep(stub.delay)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(stub.body)))
        self.end_headers()
        self.wfile.write(stub.body)
        stub.count()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    stub: ProviderStub


@contextmanager
def running_stub(delay: float) -> Iterator[ProviderStub]:
    server = _Server(("127.0.0.1", 0), _Handler)
    stub = ProviderStub(delay, rendered_png())
    server.stub = stub
    host, port = server.server_address[:2]
    stub.url = f"http://{host!s}:{port}/v1"
    thread = threading.Thread(target=server.serve_forever, name="provider-stub", daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
