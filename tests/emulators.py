"""Start the npm emulators (`package.json`) on loopback for the adapter tests.

Each server runs as a child process on a free port and is stopped when its context
exits. Its output goes to a log file that the failure message quotes, so a server that
will not start says why. `scripts/test` installs the emulators with `npm ci`.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.platform_process import ROOT, free_port

NODE_BIN = ROOT / "node_modules" / ".bin"
COSMOS_LAUNCHER = ROOT / "tests" / "cosmos_emulator.js"


class EmulatorUnavailable(RuntimeError):
    """An emulator is not installed or did not start."""


@dataclass(frozen=True)
class RunningEmulator:
    host: str
    port: int
    workdir: Path


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def run_emulator(
    command: str, args: Sequence[str], workdir: Path, *, port: int | None = None
) -> Iterator[RunningEmulator]:
    """Run `node_modules/.bin/{command} {args}` with `{port}` and `{workdir}` filled in."""
    executable = NODE_BIN / command
    if not executable.exists():
        raise EmulatorUnavailable(f"{executable} is missing: run `npm ci` (scripts/test does)")
    with _running([str(executable), *args], command, workdir, port) as emulator:
        yield emulator


@contextmanager
def run_cosmos_emulator(workdir: Path) -> Iterator[RunningEmulator]:
    """`@vercel/cosmosdb-server` over TLS through `tests/cosmos_emulator.js`, which adds the
    incremental change feed the emulator lacks (see that file)."""
    if not (NODE_BIN / "cosmosdb-server").exists():
        raise EmulatorUnavailable("@vercel/cosmosdb-server is missing: run `npm ci`")
    argv = ["node", str(COSMOS_LAUNCHER), "{port}", "127.0.0.1"]
    with _running(argv, "cosmosdb-server", workdir, None) as emulator:
        yield emulator


@contextmanager
def _running(
    argv: Sequence[str], name: str, workdir: Path, port: int | None
) -> Iterator[RunningEmulator]:
    host, port = "127.0.0.1", port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    argv = [a.format(port=port, workdir=workdir) for a in argv]
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _accepts_connections(host, port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise EmulatorUnavailable(
                    f"{name} did not start on {host}:{port}:\n"
                    + log_path.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.1)
        yield RunningEmulator(host=host, port=port, workdir=workdir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
