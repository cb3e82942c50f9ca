"""The local host serving a small FunctionApp over real HTTP, a real SQLite queue and a clock."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import httpx
import pytest

from adapters.sqlite_queue import MAX_DELIVERY_COUNT_EXCEEDED, ReceivedMessage, SqliteQueue
from devhost.host import LocalHost
from devhost.triggers import UnsupportedBindingError
from services.ports import OutgoingMessage

MAX_BODY = 64 * 1024
SLOW_LOCK = timedelta(seconds=1)


RENDEZVOUS = 40


class Recorder:
    """What the functions saw, shared with the test thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.ticks: list[bool] = []

    def add_message(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.messages.append(entry)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages)


def build_app(recorder: Recorder) -> func.FunctionApp:
    things = func.Blueprint()

    @things.route(route="v1/things/{id}", methods=["GET"])
    def get_thing(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
        document = {
            "route": "thing",
            "id": req.route_params["id"],
            "params": dict(req.params),
            "x_test": req.headers.get("X-Test"),
            "method": req.method,
            "url": req.url,
            "invocation_id": context.invocation_id,
        }
        return func.HttpResponse(
            json.dumps(document), mimetype="application/json", headers={"X-Thing": "yes"}
        )

    # Registered before the literal route it overlaps, so order alone cannot pick it.
    @things.route(route="v1/things/{id}/{part}", methods=["GET"])
    def get_part(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"route": "part", **req.route_params}))

    @things.route(route="v1/things/{id}/image", methods=["GET"])
    def get_image(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(b"\x89PNG", mimetype="image/png")

    @things.route(route="v1/things", methods=["POST"])
    async def create_thing(req: func.HttpRequest) -> func.HttpResponse:
        body = req.get_json()
        return func.HttpResponse(
            json.dumps({"created": body["name"], "content_type": req.headers["content-type"]}),
            status_code=201,
            mimetype="application/json",
        )

    @things.route(route="v1/items/{slug}", methods=["GET"])
    def item_by_slug(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(f"slug {req.route_params['slug']}")

    @things.route(route="v1/items/{id:int}", methods=["GET"])
    def item_by_number(req: func.HttpRequest) -> str:
        return f"number {req.route_params['id']}"

    @things.route(route="v1/letters/{word:alpha}", methods=["GET"])
    def letters(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(f"word {req.route_params['word']}")

    @things.route(route="v1/items/{key:guid}", methods=["GET", "DELETE"])
    def item_by_key(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(f"{req.method} key {req.route_params['key']}")

    @things.route(route="v1/echo", methods=["POST"])
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")

    @things.route(route="v1/boom", methods=["GET"])
    def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("secret-detail-xyz")

    # More callers than Python's default executor has threads on any machine (at most 32):
    # the drop-in face holds a thread while it waits for generations.
    rendezvous = threading.Barrier(RENDEZVOUS, timeout=10)

    @things.route(route="v1/rendezvous", methods=["GET"])
    def meet(req: func.HttpRequest) -> func.HttpResponse:
        # The calls only get past the barrier together: sync handlers must not block the
        # loop, nor wait for a thread.
        rendezvous.wait()
        return func.HttpResponse("met")

    jobs = func.Blueprint()

    @jobs.service_bus_queue_trigger(
        arg_name="message", queue_name="%JOBS_QUEUE%", connection="ServiceBusConnection"
    )
    def advance(message: func.ServiceBusMessage) -> None:
        recorder.add_message(
            {
                "queue": "jobs",
                "message_id": message.message_id,
                "delivery_count": message.delivery_count,
                "body": message.get_body(),
                "properties": message.application_properties,
                "enqueued": message.enqueued_time_utc,
                "lock_token": message.lock_token,
            }
        )
        if message.get_body() == b"poison":
            raise ValueError("poison message")

    @jobs.service_bus_queue_trigger(
        arg_name="message", queue_name="slow-jobs", connection="ServiceBusConnection"
    )
    def slow_step(message: func.ServiceBusMessage) -> None:
        # Outlives the 1 s lock twice over: only lock renewal keeps it from redelivery.
        time.sleep(2.5)
        recorder.add_message(
            {
                "queue": "slow-jobs",
                "message_id": message.message_id,
                "delivery_count": message.delivery_count,
            }
        )

    timers = func.Blueprint()

    @timers.timer_trigger(arg_name="timer", schedule="* * * * * *", run_on_startup=True)
    def tick(timer: func.TimerRequest) -> None:
        with recorder.lock:
            recorder.ticks.append(timer.past_due)
        if len(recorder.ticks) == 2:
            raise RuntimeError("a failing tick must not stop the timer")

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in (things, jobs, timers):
        app.register_functions(blueprint)
    return app


class ReceiverNamingQueue(SqliteQueue):
    """The local queue, noting which threads receive from it."""

    def __init__(self, path: Path, name: str, lock: timedelta) -> None:
        super().__init__(path, name, lock_duration=lock, max_delivery_count=3)
        self.receivers: set[str] = set()

    def receive(self, max_messages: int = 1, max_wait_time: float = 0.0) -> list[ReceivedMessage]:
        self.receivers.add(threading.current_thread().name)
        return super().receive(max_messages, max_wait_time)


class Queues:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.created: dict[str, ReceiverNamingQueue] = {}

    def __call__(self, name: str) -> ReceiverNamingQueue:
        lock = SLOW_LOCK if name == "slow-jobs" else timedelta(seconds=30)
        queue = ReceiverNamingQueue(self.path, name, lock)
        self.created[name] = queue
        return queue


class Running:
    def __init__(self, host: LocalHost, queues: Queues, recorder: Recorder) -> None:
        self.host, self.queues, self.recorder = host, queues, recorder
        self.client = httpx.Client(base_url=f"{host.base_url}/api", timeout=10)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("devhost")
    host_json = folder / "host.json"
    host_json.write_text(
        json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": "api"}}})
    )
    recorder = Recorder()
    queues = Queues(folder / "queue.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOBS_QUEUE", "jobs")
        host = LocalHost(
            build_app(recorder),
            queue_for=queues,
            host_json=host_json,
            http_port=0,
            workers_per_queue=2,
            max_request_body_bytes=MAX_BODY,
            log_level="warning",
        )
    host.start_in_thread()
    state = Running(host, queues, recorder)
    try:
        yield state
    finally:
        state.client.close()
        host.stop()
        for queue in queues.created.values():
            queue.close()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"] == f"https://donatello.ai/problems/{slug}"
    assert problem["title"]
    assert problem["detail"]
    return problem


# --- HTTP ------------------------------------------------------------------------------


def test_get_passes_route_params_query_headers_and_context(running: Running) -> None:
    response = running.client.get(
        "/v1/things/a%20b", params=[("q", "1"), ("q", "2"), ("empty", "")], headers={"X-Test": "hi"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-thing"] == "yes"
    document = response.json()
    assert document["route"] == "thing"
    assert document["id"] == "a b"
    assert document["params"] == {
        "q": "1,2",
        "empty": "",
    }  # repeated values joined, as the host does
    assert document["x_test"] == "hi"
    assert document["method"] == "GET"
    assert document["url"] == f"{running.host.base_url}/api/v1/things/a%20b?q=1&q=2&empty="
    assert document["invocation_id"]


def test_post_body_reaches_an_async_function(running: Running) -> None:
    response = running.client.post("/v1/things", json={"name": "lamp"})
    assert response.status_code == 201
    assert response.json() == {"created": "lamp", "content_type": "application/json"}


def test_binary_bodies_round_trip(running: Running) -> None:
    payload = bytes(range(256)) * 200  # 51 200 bytes, under the limit
    response = running.client.post("/v1/echo", content=payload)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == payload


def test_literal_segments_win_over_parameters(running: Running) -> None:
    image = running.client.get("/v1/things/42/image")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == b"\x89PNG"
    part = running.client.get("/v1/things/42/colour")
    assert part.json() == {"route": "part", "id": "42", "part": "colour"}


def test_constraints_choose_the_route(running: Running) -> None:
    key = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    number = running.client.get("/v1/items/42")
    assert (number.status_code, number.text) == (200, "number 42")
    assert number.headers["content-type"] == "text/plain; charset=utf-8"
    assert running.client.get("/v1/items/lamp").text == "slug lamp"
    assert running.client.get(f"/v1/items/{key}").text == f"GET key {key}"
    assert running.client.delete(f"/v1/items/{key}").text == f"DELETE key {key}"
    # Constrained parameters win over the plain one, which takes whatever they refuse.
    assert running.client.get("/v1/items/12ab").text == "slug 12ab"
    assert running.client.get("/v1/items/99999999999").text == "slug 99999999999"  # > Int32
    assert running.client.get("/v1/letters/abc").text == "word abc"
    assert_problem(running.client.get("/v1/letters/ab1"), 404, "not-found")


def test_literals_and_prefix_are_case_insensitive(running: Running) -> None:
    response = httpx.get(f"{running.host.base_url}/API/V1/Things/7", timeout=10)
    assert response.json()["id"] == "7"


def test_unknown_paths_are_404_problems(running: Running) -> None:
    assert_problem(running.client.get("/v1/nothing"), 404, "not-found")
    assert_problem(httpx.get(f"{running.host.base_url}/v1/things/1", timeout=10), 404, "not-found")


def test_wrong_method_is_405_with_allow(running: Running) -> None:
    response = running.client.put("/v1/things/1", content=b"{}")
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET"
    key = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    assert running.client.post(f"/v1/items/{key}").headers["allow"] == "DELETE, GET"


def test_declared_oversized_body_is_413_before_it_is_read(running: Running) -> None:
    with socket.create_connection(("127.0.0.1", running.host.port), timeout=10) as conn:
        conn.sendall(
            b"POST /api/v1/echo HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Length: 104857600\r\n\r\n" + b"x" * 1024
        )
        received = b""
        while b"\r\n\r\n" not in received or not received.endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["type"] == "https://donatello.ai/problems/payload-too-large"


def test_streamed_oversized_body_is_413(running: Running) -> None:
    chunks = iter([b"y" * 16384] * 5)  # chunked, no Content-Length, 80 KiB > 64 KiB
    assert_problem(running.client.post("/v1/echo", content=chunks), 413, "payload-too-large")
    assert running.client.get("/v1/items/1").status_code == 200  # the host is fine afterwards


def test_exception_is_a_500_without_details(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="devhost.http"):
        response = running.client.get("/v1/boom")
    problem = assert_problem(response, 500, "internal-error")
    assert "secret-detail-xyz" not in response.text
    assert "Traceback" not in response.text
    assert "secret-detail-xyz" in caplog.text  # the log has it, tied to the incident id
    assert problem["instance"].removeprefix("urn:uuid:") in caplog.text


def test_sync_functions_run_concurrently(running: Running) -> None:
    results: list[str] = []

    def call() -> None:
        results.append(httpx.get(f"{running.host.base_url}/api/v1/rendezvous", timeout=20).text)

    callers = [threading.Thread(target=call) for _ in range(RENDEZVOUS)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert results == ["met"] * RENDEZVOUS


# --- Service Bus queue trigger ----------------------------------------------------------


def test_each_message_is_processed_once_and_completed(running: Running) -> None:
    queue = running.queues.created["jobs"]
    ids = [f"job-{n}" for n in range(20)]
    for message_id in ids:
        queue.send(
            OutgoingMessage(
                message_id, f"body {message_id}".encode(), application_properties={"k": "v"}
            )
        )

    def seen() -> list[dict[str, Any]]:
        return [m for m in running.recorder.snapshot() if m["message_id"] in ids]

    wait_for(lambda: len(seen()) >= len(ids) and queue.active_count() == 0)
    assert Counter(m["message_id"] for m in seen()) == dict.fromkeys(ids, 1)
    first = next(m for m in seen() if m["message_id"] == "job-0")
    assert first["body"] == b"body job-0"
    assert first["delivery_count"] == 1
    assert first["properties"] == {"k": "v"}
    assert isinstance(first["enqueued"], datetime)
    assert first["lock_token"]


def test_one_pump_per_queue_receives_for_all_its_workers(running: Running) -> None:
    """Two workers per queue here, and one thread polling each queue for both."""
    wait_for(lambda: all(queue.receivers for queue in running.queues.created.values()))
    for queue in running.queues.created.values():
        (receiver,) = queue.receivers
        assert receiver.endswith("-pump")


def test_failing_message_is_retried_then_dead_lettered(running: Running) -> None:
    queue = running.queues.created["jobs"]
    queue.send(OutgoingMessage("poison-1", b"poison"))
    wait_for(lambda: any(d.message_id == "poison-1" for d in queue.dead_letters()))
    attempts = [
        m["delivery_count"] for m in running.recorder.snapshot() if m["message_id"] == "poison-1"
    ]
    assert attempts == [1, 2, 3]
    (dead,) = [d for d in queue.dead_letters() if d.message_id == "poison-1"]
    assert dead.reason == MAX_DELIVERY_COUNT_EXCEEDED
    assert queue.active_count() == 0


def test_lock_is_renewed_while_a_long_step_runs(running: Running) -> None:
    queue = running.queues.created["slow-jobs"]
    queue.send(OutgoingMessage("slow-1", b"{}"))
    wait_for(lambda: queue.active_count() == 0)
    runs = [m for m in running.recorder.snapshot() if m["message_id"] == "slow-1"]
    assert [m["delivery_count"] for m in runs] == [1]
    assert queue.dead_letters() == []


# --- timer ------------------------------------------------------------------------------


def test_timer_fires_every_second_and_survives_failures(running: Running) -> None:
    wait_for(lambda: len(running.recorder.ticks) >= 3)
    assert not any(running.recorder.ticks)  # nothing was missed, so nothing is past due


# --- start-up ---------------------------------------------------------------------------


def test_empty_route_prefix_and_one_log_line_per_trigger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps({"extensions": {"http": {"routePrefix": ""}}}))
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="ping", methods=["GET"])
    def ping(req: func.HttpRequest) -> str:
        return "pong"

    started: list[bool] = []

    @app.timer_trigger(arg_name="timer", schedule="0 0 3 * * *", run_on_startup=True)
    def nightly(timer: func.TimerRequest) -> None:
        started.append(timer.past_due)

    def no_queues(name: str) -> SqliteQueue:
        raise AssertionError("no queue trigger declared")

    host = LocalHost(app, queue_for=no_queues, host_json=host_json, http_port=0)
    with caplog.at_level(logging.INFO, logger="devhost"):
        host.start_in_thread()
        base_url = host.base_url
        try:
            assert httpx.get(f"{base_url}/ping", timeout=10).text == "pong"
            wait_for(lambda: started == [False])  # runOnStartup, long before 03:00
        finally:
            host.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "devhost"]
    assert f"ping: [GET] {base_url}/ping" in lines
    assert "nightly: timerTrigger schedule='0 0 3 * * *', runOnStartup" in lines


def test_bindings_the_host_cannot_provide_are_refused() -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="send", methods=["POST"])
    @app.service_bus_queue_output(arg_name="out", queue_name="jobs", connection="ServiceBus")
    def send(req: func.HttpRequest, out: func.Out[str]) -> str:
        out.set("x")
        return "sent"

    with pytest.raises(UnsupportedBindingError, match="out"):
        LocalHost(app, queue_for=lambda name: SqliteQueue(":memory:", name), http_port=0)


def test_stop_lets_an_in_flight_message_finish(tmp_path: Path) -> None:
    began, finished = threading.Event(), threading.Event()
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.service_bus_queue_trigger(arg_name="message", queue_name="jobs", connection="SB")
    def work(message: func.ServiceBusMessage) -> None:
        began.set()
        time.sleep(1.0)
        finished.set()

    queue = SqliteQueue(tmp_path / "queue.db", "jobs")
    host = LocalHost(app, queue_for=lambda name: queue, http_port=0, log_level="warning")
    host.start_in_thread()
    try:
        queue.send(OutgoingMessage("m-1", b"{}"))
        assert began.wait(10)
    finally:
        host.stop()
    assert finished.is_set()
    assert queue.active_count() == 0  # completed, not left locked for redelivery
    queue.close()


SERVE_SCRIPT = """
import logging, sys
import azure.functions as func
from devhost.host import LocalHost

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="ping", methods=["GET"])
def ping(req):
    return "pong"

class Service:
    def start(self):
        print("service started", flush=True)
    def stop(self):
        print("service stopped", flush=True)

def no_queue(name):
    raise AssertionError(name)

LocalHost(app, queue_for=no_queue, http_port=0, background=[Service()]).serve()
print("serve returned", flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_signals(signum: signal.Signals) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert child.stdout is not None
        output: list[str] = []
        for line in child.stdout:
            output.append(line)
            if line.startswith("devhost ping: [GET] "):
                break
        url = output[-1].split()[-1]
        assert httpx.get(url, timeout=10).text == "pong"
        child.send_signal(signum)
        child.wait(timeout=20)  # the output is small enough for the pipe's buffer
        rest = child.stdout.read()  # not communicate(): it would skip what is buffered here
    finally:
        if child.poll() is None:
            child.kill()
    output.append(rest)
    text = "".join(output)
    assert child.returncode == 0, text
    assert "service started" in text
    assert "service stopped" in text
    assert "host stopped" in text
    assert text.rstrip().endswith("serve returned")
