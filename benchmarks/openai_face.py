"""Drop-in face benchmark: what the synchronous OpenAI face adds over the native API.

Run: `python -m benchmarks.openai_face [--requests N] [--clients 1 16] [--poll S]`.

`donatello serve` on a fresh data folder (SQLite, the local queue, the `local`
provider). For each number of concurrent clients, two paths make the same kind of
image (local-sketch, 1024x1024, standard):

- native: `POST /api/v1/generations`, then `GET /api/v1/generations/{id}` every
  `--poll` seconds until it is terminal, as a client of the async API does;
- face: `OpenAI(...).images.generate(response_format="b64_json")` through the real SDK,
  which answers once the generation is charged.

Every generation's time to `charged` is read from the event log (the send time to the
`GenerationCharged` event's recorded time; one machine, one clock). The face's added
latency is its answer's arrival at the client minus that event's time: the log tail's
wake-up, reading the stream and the image, base64, the HTTP answer and the SDK's
parsing. The native client's own lag (its poll) is printed beside it, as is the host's
CPU per generation on each path (what waiting costs the host).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

from openai import OpenAI

from adapters.sqlite_event_store import SqliteEventStore
from benchmarks.pipeline import LogFollower, host_cpu_seconds, percentile
from domain.access import Principal, Role
from domain.envelope import NewEvent
from functions.openai_shapes import GENERATION_IDS_HEADER
from tests.platform_process import TERMINAL, RunningPlatform, running_platform

MODEL = "local-sketch"
WARM_UP = 8


@dataclass
class Sample:
    generation_id: str
    sent: float
    answered: float  # when the client knew it was done (the answer, or the poll that saw it)


@dataclass
class PathRun:
    path: str
    clients: int
    samples: list[Sample]
    charged: dict[str, float]  # generation id -> its GenerationCharged event's time
    host_cpu: float | None


def native_request(host: RunningPlatform, token: str, poll: float) -> Callable[[int], Sample]:
    def one(index: int) -> Sample:
        with host.client(token) as client:
            sent = time.time()
            body = {"prompt": f"a lighthouse, view {index}", "model": MODEL}
            accepted = client.post("/api/v1/generations", json=body)
            generation_id = str(accepted.json()["id"])
            while True:
                view = client.get(f"/api/v1/generations/{generation_id}").json()
                if view["status"] in TERMINAL:
                    return Sample(generation_id, sent, time.time())
                time.sleep(poll)

    return one


def face_request(host: RunningPlatform, token: str) -> Callable[[int], Sample]:
    def one(index: int) -> Sample:
        client = OpenAI(base_url=f"{host.url}/api/openai/v1", api_key=token, max_retries=0)
        sent = time.time()
        raw = client.images.with_raw_response.generate(
            model=MODEL, prompt=f"a lighthouse, view {index}", response_format="b64_json"
        )
        raw.parse()  # the SDK's own work is part of what the app waits for
        answered = time.time()
        client.close()
        return Sample(raw.headers[GENERATION_IDS_HEADER], sent, answered)

    return one


def commit_latency(data_dir: Path, count: int = 40) -> list[float]:
    """ms from an event's recorded time to its append's return, on this disk: a step is
    recorded before its commit's fsync, and no reader can see it sooner."""
    store = SqliteEventStore(data_dir / "scratch.db")
    actor = Principal("bench", frozenset({Role.GENERATOR_POWER}), "marketing", None)
    samples = []
    try:
        for n in range(count):
            event = NewEvent(
                type="Scratch", data={}, actor=actor.to_actor(), correlation_id=uuid4()
            )
            (recorded,) = store.append(f"scratch-{n}", 0, [event])
            samples.append((time.time() - recorded.recorded_at.timestamp()) * 1000)
    finally:
        store.close()
    return samples


def run_path(
    host: RunningPlatform,
    follower: LogFollower,
    path: str,
    request: Callable[[int], Sample],
    clients: int,
    count: int,
) -> PathRun:
    assert host.process is not None
    cpu_before = host_cpu_seconds(host.process.pid)
    with ThreadPoolExecutor(max_workers=clients) as pool:
        samples = list(pool.map(request, range(count)))
    cpu_after = host_cpu_seconds(host.process.pid)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        follower.poll()
        if all(s.generation_id in follower.ended for s in samples):
            break
        time.sleep(0.05)
    charged = {
        gid: at
        for gid, (status, at) in follower.ended.items()
        if status == "charged" and any(s.generation_id == gid for s in samples)
    }
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return PathRun(path, clients, samples, charged, cpu)


def row(run: PathRun) -> tuple[str, list[float], list[float]]:
    done = [s for s in run.samples if s.generation_id in run.charged]
    to_charged = [(run.charged[s.generation_id] - s.sent) * 1000 for s in done]
    after = [(s.answered - run.charged[s.generation_id]) * 1000 for s in done]
    cpu = "n/a" if run.host_cpu is None else f"{run.host_cpu / len(run.samples) * 1000:.1f}"
    cells = [
        run.path,
        str(run.clients),
        f"{len(done)}/{len(run.samples)}",
        f"{percentile(to_charged, 50):.0f}",
        f"{percentile(to_charged, 95):.0f}",
        f"{percentile(after, 50):.1f}",
        f"{percentile(after, 95):.1f}",
        cpu,
    ]
    return "| " + " | ".join(cells) + " |", to_charged, after


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=96, help="requests per path and level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--poll", type=float, default=0.05, help="native client's poll, s")
    parser.add_argument("--workers", type=int, default=4, help="queue workers per process")
    parser.add_argument("--processes", type=int, default=1, help="host processes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-openai-face-") as workdir:
        data_dir = Path(workdir)
        commits = commit_latency(data_dir)
        with running_platform(
            data_dir,
            serve_args=["--workers", str(args.workers), "--processes", str(args.processes)],
            DONATELLO_DEFAULT_MONTHLY_LIMIT_AUD="10000000",
        ) as host:
            token = host.token("bench-user", ["Generator.Power"], "marketing")
            follower = LogFollower(data_dir / "events.db")
            paths = {
                "native POST, then poll": native_request(host, token, args.poll),
                "face (openai SDK)": face_request(host, token),
            }
            runs: list[PathRun] = []
            try:
                for request in paths.values():  # warm both paths once
                    run_path(host, follower, "warm", request, 4, WARM_UP)
                for clients in args.clients:
                    for path, request in paths.items():
                        runs.append(run_path(host, follower, path, request, clients, args.requests))
            finally:
                follower.close()
    print(
        f"\n## Drop-in face vs native, {args.requests} requests a row, {args.processes}"
        f" process(es) x {args.workers} queue workers (ms)\n"
    )
    print(
        "| path | clients | charged | send to charged p50 | p95 |"
        " client knows after charged p50 | p95 | host CPU ms/generation |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(row(run)[0])
    print(
        f"\nA step's commit on this disk (recorded time to append's return, idle host):"
        f" p50 {percentile(commits, 50):.1f} ms, p95 {percentile(commits, 95):.1f} ms;"
        " part of every row's 'after charged', native or face.\n"
    )
    for clients in args.clients:
        native = next(r for r in runs if r.clients == clients and r.path.startswith("native"))
        face = next(r for r in runs if r.clients == clients and r.path.startswith("face"))
        _, native_charged, _ = row(native)
        _, face_charged, face_after = row(face)
        answer = [c + a for c, a in zip(face_charged, face_after, strict=True)]
        print(
            f"- {clients} client(s): the face adds p50 {percentile(face_after, 50):.1f} ms,"
            f" p95 {percentile(face_after, 95):.1f} ms after `charged` (target: p95 <= 20);"
            f" face answer p95 {percentile(answer, 95):.0f} ms vs native time to charged"
            f" p95 {percentile(native_charged, 95):.0f} ms"
        )


if __name__ == "__main__":
    main()
