"""`donatello serve --processes N`: extra queue worker processes share the pipeline's work
and never outlive the host."""

from __future__ import annotations

import time
from pathlib import Path

from tests.platform_process import running_platform


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_worker_processes_take_jobs_and_exit_when_the_host_is_killed(tmp_path: Path) -> None:
    with running_platform(tmp_path, serve_args=["--processes", "3", "--workers", "1"]) as host:
        assert host.process is not None
        workers = _children(host.process.pid)
        assert len(workers) == 2
        client = host.client(host.token("alice", ["Generator.Power"], "marketing"))
        ids = [
            client.post("/api/v1/generations", json={"prompt": f"a quiet harbour {n}"}).json()["id"]
            for n in range(12)
        ]
        assert {host.wait_terminal(client, gid)["status"] for gid in ids} == {"charged"}
        host.kill()  # SIGKILL: the host cannot stop its workers itself
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
