"""Pipeline benchmark: screening latency per prompt, the POST's cost, and the end-to-end
generation rate.

Run: `python -m benchmarks.pipeline [--rounds N] [--generations N] [--processes N] ...`.
With `--before REF` (a commit, e.g. the one before prompts were screened at the door),
the POST's cost and the end-to-end run are measured for that commit's code too, in the
same run, beside this checkout's: the commit is extracted with `git archive` into a
temporary folder (no worktree is made) and run from there.

The POST's cost: `submit_generation` (everything `POST /generations` does beyond HTTP)
called in a child process of the code measured (benchmarks/door_cost.py), warm, over
prompts that pass screening; wall time per call, and the CPU of that process and its
screening processes per call.

Screening: the platform's analyzer (Presidio in its pool of child processes, as the
pipeline uses it) and the platform's screening policy, over a varied prompt set
(`benchmarks/prompts.py`), warm: every prompt is screened once before the timed rounds.
Each call to `analyze` plus `screen` is one sample.

End to end: the embedded default as users run it, `donatello serve` in a subprocess on
a fresh data folder (SQLite event store with FULL durability, the local queue, the
`local` provider). Poster threads here send `POST /api/v1/generations` with a dev token
as fast as the host accepts them (or at `--rate` per second); the benchmark follows the
event log and counts a generation done at its terminal event. The rate is generations
over the time from the first request to the last terminal event; the request-to-charged
latency uses the request's send time and the event's recorded time (one machine, one
clock). A short warm-up batch runs first and is not counted. The posters and the log
reader share the machine's cores with the host, as a real client on the same box would.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from adapters.sqlite_event_store import SqliteEventStore
from benchmarks.prompts import Prompt, prompt_set
from benchmarks.provider_stub import MODEL as STUB_MODEL
from benchmarks.provider_stub import running_stub
from bootstrap import build_platform
from domain.access import Principal, Role
from services.generations import GenerationRequest, submit_generation
from services.pipeline import advance_generation
from services.screening import screen_text
from services.settings import Settings
from tests.metrics_scrape import Samples, histogram_quantile, scrape
from tests.otlp_collector import running_collector
from tests.platform_process import ROOT, RunningPlatform, running_platform

TERMINAL_EVENTS = {
    "GenerationCharged": "charged",
    "PromptRejected": "rejected",
    "GenerationRejected": "rejected",
    "GenerationFailed": "failed",
}
WARM_UP = 20
QUOTA_PER_REQUESTER = 40  # under the default daily quota of 50 images a user
DEPARTMENT = "marketing"


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --- screening --------------------------------------------------------------------------


def screening_latency(prompts: Sequence[Prompt], rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-screening-") as workdir:
        platform = build_platform(Settings(data_dir=Path(workdir)))
        policy = platform.screening_policies.for_department(DEPARTMENT)

        def screen(text: str) -> None:  # what the pipeline's screening step runs
            screen_text(
                text,
                policy,
                analyzer=platform.analyzer,
                redactor=platform.redactor,
                moderators=platform.moderators,
            )

        for prompt in prompts:  # warm: the model is loaded and every path has run once
            screen(prompt.text)
        samples: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(rounds):
            for prompt in prompts:
                start = time.perf_counter()
                screen(prompt.text)
                samples[prompt.has_personal_data].append((time.perf_counter() - start) * 1000)
    print(f"\n## Screening latency per prompt, warm (policy {policy.version})")
    print(f"\n{len(prompts)} prompts x {rounds} rounds; ms per `screen_text` call\n")
    print("| prompts | samples | p50 ms | p95 ms | mean ms |")
    print("|---|---|---|---|---|")
    everything = samples[False] + samples[True]
    for label, values in (
        ("all", everything),
        ("without personal data", samples[False]),
        ("with personal data", samples[True]),
    ):
        print(
            f"| {label} | {len(values)} | {percentile(values, 50):.2f} | "
            f"{percentile(values, 95):.2f} | {statistics.fmean(values):.2f} |"
        )


# --- the POST's cost, before and after --------------------------------------------------


def code_tree(ref: str, into: Path) -> Path:
    """The code of commit `ref` of this repository, extracted into `into`."""
    archive = subprocess.run(
        ["git", "archive", ref], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def door_cost(texts: Sequence[str], code_root: Path) -> tuple[list[float], float | None]:
    """benchmarks/door_cost.py run on the code of `code_root`: ms per call, CPU seconds."""
    script = str(Path(__file__).with_name("door_cost.py"))
    run_script = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"
    answer = subprocess.run(
        [sys.executable, "-c", run_script, script],
        cwd=code_root,  # `-c` puts the working folder first on the path: its code is used
        input=json.dumps(list(texts)),
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(answer.stdout)
    return figures["samples_ms"], figures["cpu_s"]


def post_cost(prompts: Sequence[Prompt], calls: int, trees: Sequence[tuple[str, Path]]) -> None:
    allowed = [p.text for p in prompts if not p.blocked]
    texts = [f"{allowed[i % len(allowed)]} #{i}" for i in range(WARM_UP + calls)]
    print("\n## The POST's cost: `submit_generation`, warm, prompts that pass screening\n")
    print("| code | calls | p50 ms | p95 ms | mean ms | CPU ms per call (with screening) |")
    print("|---|---|---|---|---|---|")
    for label, root in trees:
        samples, cpu = door_cost(texts, root)
        per_call = "n/a" if cpu is None else f"{cpu / len(samples) * 1000:.1f}"
        print(
            f"| {label} | {len(samples)} | {percentile(samples, 50):.1f} | "
            f"{percentile(samples, 95):.1f} | {statistics.fmean(samples):.1f} | {per_call} |"
        )


# --- in process -------------------------------------------------------------------------


def in_process(prompts: Sequence[Prompt], generations: int) -> None:
    """The services alone: `submit_generation` and `advance_generation` in this process,
    no host, queue or projection running (so every view lags, as when the projector
    falls behind). CPU and fsyncs of the pipeline's own steps, one generation at a time."""
    requesters = [
        Principal(f"user-{n}", frozenset({Role.GENERATOR_STANDARD}), DEPARTMENT, None)
        for n in range((WARM_UP + generations) // QUOTA_PER_REQUESTER + 1)
    ]
    allowed = [p.text for p in prompts if not p.blocked]  # the rest is refused at the door
    with tempfile.TemporaryDirectory(prefix="bench-in-process-") as workdir:
        platform = build_platform(Settings(data_dir=Path(workdir)))

        def run(first: int, count: int) -> None:
            for n in range(first, first + count):
                requester = requesters[n // QUOTA_PER_REQUESTER]
                request = GenerationRequest(prompt=allowed[n % len(allowed)])
                submitted = submit_generation(platform, requester, request, None)
                advance_generation(platform, submitted.generation_id)

        run(0, WARM_UP)
        started, cpu_started = time.perf_counter(), time.process_time()
        run(WARM_UP, generations)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    cores = os.cpu_count() or 1
    print("\n## In process, no host and no projection running\n")
    print(
        f"{generations} generations after {WARM_UP}: {seconds / generations * 1000:.1f} ms each,"
        f" {cpu / generations * 1000:.1f} ms of CPU each; {cores} cores busy with nothing else"
        f" could run {cores * generations / cpu:.0f} generations/s of these services alone"
    )


# --- end to end -------------------------------------------------------------------------


@dataclass
class Run:
    """What one batch of requests did: send times and terminal (status, time) per id."""

    sent: dict[str, float]
    ended: dict[str, tuple[str, float]]
    host_cpu: float | None  # seconds the host's processes spent on the CPU meanwhile


class LogFollower:
    """Reads the host's event log from this process and notes each terminal event."""

    def __init__(self, events_db: Path) -> None:
        self._store = SqliteEventStore(events_db)
        self._position = 0
        self.ended: dict[str, tuple[str, float]] = {}

    def poll(self) -> None:
        while batch := self._store.read_all(self._position, limit=5000):
            for positioned in batch:
                event = positioned.event
                status = TERMINAL_EVENTS.get(event.type)
                if status is not None:
                    generation_id = event.stream_id.removeprefix("generation-")
                    self.ended[generation_id] = (status, event.recorded_at.timestamp())
            self._position = batch[-1].position

    def close(self) -> None:
        self._store.close()


def host_cpu_seconds(pid: int) -> float | None:
    """CPU time of the host process and all its descendants so far (Linux /proc only):
    its worker processes, and the screening processes forked for each of them."""
    try:
        total, pending = 0, [str(pid)]
        while pending:
            process = pending.pop()
            try:
                stat = Path(f"/proc/{process}/stat").read_text()
                pending += Path(f"/proc/{process}/task/{process}/children").read_text().split()
            except FileNotFoundError:  # ended since its parent was read
                continue
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    except (OSError, ValueError, IndexError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def run_batch(
    host: RunningPlatform,
    follower: LogFollower,
    texts: Sequence[str],
    *,
    posters: int,
    rate: float,
    timeout: float,
) -> Run:
    token = host.token("bench-user", ["Generator.Power"], DEPARTMENT)
    assert host.process is not None
    cpu_before = host_cpu_seconds(host.process.pid)
    sent: dict[str, float] = {}
    start = time.time()
    limits = httpx.Limits(max_connections=posters, max_keepalive_connections=posters)
    with httpx.Client(
        base_url=host.url, headers={"Authorization": f"Bearer {token}"}, timeout=60, limits=limits
    ) as client:

        def post(index: int) -> None:
            if rate > 0:  # paced: request `index` leaves at start + index / rate
                time.sleep(max(0.0, start + index / rate - time.time()))
            at = time.time()
            response = client.post("/api/v1/generations", json={"prompt": texts[index]})
            if response.status_code != 202:
                raise RuntimeError(f"POST /generations: {response.status_code} {response.text}")
            sent[str(response.json()["id"])] = at

        with ThreadPoolExecutor(max_workers=posters) as pool:
            list(pool.map(post, range(len(texts))))
    deadline = time.monotonic() + timeout
    while True:
        follower.poll()
        if all(gid in follower.ended for gid in sent) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    cpu_after = host_cpu_seconds(host.process.pid)
    host_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    ended = {gid: follower.ended[gid] for gid in sent if gid in follower.ended}
    return Run(sent, ended, host_cpu)


def report(run: Run, args: argparse.Namespace, label: str, telemetry: str) -> None:
    first_sent = min(run.sent.values())
    last_sent = max(run.sent.values())
    ends = sorted(at for _, at in run.ended.values())
    statuses = Counter(status for status, _ in run.ended.values())
    statuses["unfinished"] = len(run.sent) - len(run.ended)
    latencies = [
        (run.ended[gid][1] - at) * 1000
        for gid, at in run.sent.items()
        if gid in run.ended and run.ended[gid][0] == "charged"
    ]
    elapsed = ends[-1] - first_sent if ends else float("nan")
    # The middle 80 % of completions: the rate once the pipeline is full, without the
    # ramp at the start and the tail at the end.
    first, last = len(ends) // 10, len(ends) * 9 // 10 - 1
    middle = (last - first) / (ends[last] - ends[first]) if last > first else float("nan")
    print(
        f"\n## End to end through `donatello serve`, {label} ({args.processes} process(es) x "
        f"{args.workers} queue workers, synchronous={args.synchronous}, {args.posters} posters, "
        f"{'as fast as accepted' if args.rate <= 0 else f'{args.rate:g}/s offered'}, "
        f"{args.provider} provider, telemetry {telemetry})\n"
    )
    print("| what | value |")
    print("|---|---|")
    print(f"| generations | {len(run.sent)} |")
    print(f"| outcomes | {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))} |")
    print(f"| requests accepted per s | {len(run.sent) / max(last_sent - first_sent, 1e-9):.0f} |")
    print(f"| first request to last terminal event, s | {elapsed:.1f} |")
    print(f"| **generations per s, end to end** | **{len(run.ended) / elapsed:.1f}** |")
    print(f"| generations per s, middle 80 % of completions | {middle:.1f} |")
    if run.host_cpu is not None:
        per_generation = run.host_cpu / len(run.sent) * 1000
        print(f"| host CPU per generation ms (all its processes) | {per_generation:.1f} |")
    if latencies:
        print(f"| request to charged p50 ms | {percentile(latencies, 50):.0f} |")
        print(f"| request to charged p95 ms | {percentile(latencies, 95):.0f} |")


def end_to_end(
    prompts: Sequence[Prompt],
    args: argparse.Namespace,
    label: str,
    code_root: Path,
    telemetry: bool,
) -> None:
    """One host of the tree at `code_root`, with its telemetry on (metrics, and traces
    exported over OTLP to a collector in this process) or off (`DONATELLO_METRICS=false`,
    `OTEL_SDK_DISABLED`)."""
    allowed = [p.text for p in prompts if not p.blocked]
    texts = [f"{allowed[i % len(allowed)]} #{i}" for i in range(args.generations)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-pipeline-") as workdir,
        running_collector() as spans,
        running_stub(args.provider_delay) as stub,
    ):
        data_dir = Path(workdir)
        serve = ["--workers", str(args.workers), "--processes", str(args.processes)]
        switches = (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": spans.url}
            if telemetry
            else {"DONATELLO_METRICS": "false", "OTEL_SDK_DISABLED": "true"}
        )
        if args.provider == "remote":
            switches |= {
                "DONATELLO_ENABLED_PROVIDERS": "openai_compatible",
                "DONATELLO_OPENAI_COMPATIBLE_BASE_URL": stub.url,
                "DONATELLO_OPENAI_COMPATIBLE_MODEL": STUB_MODEL,
            }
        with running_platform(
            data_dir,
            serve_args=serve,
            code_root=code_root,
            DONATELLO_DEFAULT_MONTHLY_LIMIT_AUD="10000000",
            DONATELLO_SQLITE_SYNCHRONOUS=args.synchronous,
            **switches,
        ) as host:
            if args.provider == "remote":
                allow_stub_model(host)
            follower = LogFollower(data_dir / "events.db")
            try:
                options = {"posters": args.posters, "timeout": args.timeout}
                run_batch(host, follower, texts[:WARM_UP], rate=0, **options)
                before = scrape(host.url) if telemetry else {}
                run = run_batch(host, follower, texts, rate=args.rate, **options)
                after = scrape(host.url) if telemetry else {}
            finally:
                follower.close()
        report(run, args, label, "on" if telemetry else "off")
        if args.provider == "remote":
            size = stub.image_bytes / 1e6
            answers = f"{stub.answered} answers of {size:.1f} MB"
            print(f"\nRemote-like provider: {answers}, each after {stub.delay:g} s.")
        if telemetry:
            conflicts = Counter(
                str(span.attributes.get("donatello.stream", "")).split("-", 1)[0]
                for span in spans.spans
                if span.attributes.get("donatello.conflict")
            )
            report_split(before, after, len(spans.spans), conflicts)


def allow_stub_model(host: RunningPlatform) -> None:
    """The stub serves the catalogue's self-hosted model, which has no commercial-use
    licence: the department must waive that requirement for it to be routed to."""
    admin = host.client(host.token("bench-admin", ["Platform.Admin"], None))
    policy = {"monthly_limit_aud": "10000000", "requirements": {"commercial_use": False}}
    response = admin.put(f"/api/v1/budgets/{DEPARTMENT}", json=policy)
    if response.status_code != 200:
        raise RuntimeError(f"PUT /budgets: {response.status_code} {response.text}")


def report_split(before: Samples, after: Samples, spans: int, conflicts: Counter[str]) -> None:
    """Where a generation's time went, from the host's own histograms (the timed batch:
    the warm-up's counts are subtracted bucket by bucket)."""
    batch = {key: count - before.get(key, 0.0) for key, count in after.items()}
    print("\n| from the metrics (timed batch) | p50 ms | p95 ms |")
    print("|---|---|---|")
    for label, name in (
        ("queue wait", "donatello_generation_queue_wait_seconds"),
        ("platform time (worker, outside provider calls)", "donatello_generation_platform_seconds"),
        ("provider time", "donatello_generation_provider_seconds"),
        ("request to terminal", "donatello_generation_seconds"),
    ):
        figures = [histogram_quantile(batch, name, q) for q in (0.5, 0.95)]
        cells = " | ".join("n/a" if f is None else f"{f * 1000:.1f}" for f in figures)
        print(f"| {label} | {cells} |")
    kinds = ", ".join(f"{kind} streams {n}" for kind, n in conflicts.most_common()) or "none"
    print(
        f"\n{spans} spans exported over OTLP (warm-up included); appends that lost a race"
        f" for their stream and were retried (`donatello.conflict`): {kinds}."
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=240, help="distinct prompts")
    parser.add_argument("--rounds", type=int, default=5, help="timed screening rounds")
    parser.add_argument("--generations", type=int, default=3000, help="end-to-end requests")
    parser.add_argument("--processes", type=int, default=2, help="host processes")
    parser.add_argument("--workers", type=int, default=4, help="queue workers per process")
    parser.add_argument("--posters", type=int, default=8, help="client threads posting")
    parser.add_argument("--rate", type=float, default=0, help="requests/s offered; 0: max")
    parser.add_argument("--timeout", type=float, default=300, help="s to wait for the rest")
    parser.add_argument(
        "--synchronous", choices=("FULL", "NORMAL"), default="FULL", help="SQLite durability"
    )
    parser.add_argument(
        "--telemetry", choices=("both", "on", "off"), default="both",
        help="the end-to-end run with the host's metrics and traces off, on, or both in turn",
    )  # fmt: skip
    parser.add_argument(
        "--provider", choices=("local", "remote"), default="local",
        help="local: the in-process provider renders; remote: an HTTP stub in this process "
        "answers with a pre-rendered PNG after --provider-delay (benchmarks/provider_stub.py)",
    )  # fmt: skip
    parser.add_argument("--provider-delay", type=float, default=0.5, help="the stub's s")
    parser.add_argument("--skip-screening", action="store_true")
    parser.add_argument(
        "--in-process", type=int, default=0, help="generations through the services alone"
    )
    parser.add_argument("--posts", type=int, default=300, help="timed calls of the POST's work")
    parser.add_argument("--before", help="also measure this commit's code (e.g. main~1)")
    args = parser.parse_args(argv)
    prompts = prompt_set(args.prompts)
    if not args.skip_screening:
        screening_latency(prompts, args.rounds)
    if args.in_process > 0:
        in_process(prompts, args.in_process)
    with tempfile.TemporaryDirectory(prefix="bench-before-") as before:
        trees = [("this checkout", ROOT)]
        if args.before:
            trees.insert(0, (f"before: {args.before}", code_tree(args.before, Path(before))))
        if args.posts > 0:
            post_cost(prompts, args.posts, trees)
        if args.generations > 0:
            settings = {"both": (False, True), "on": (True,), "off": (False,)}[args.telemetry]
            for label, root in trees:
                # An earlier tree may have no telemetry to switch on: it runs as it was.
                measured = (root / "services" / "metrics.py").exists()
                for telemetry in settings if measured else (False,):
                    end_to_end(prompts, args, label, root, telemetry)


if __name__ == "__main__":
    main()
