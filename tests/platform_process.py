"""Start the real embedded platform (`donatello serve`) in a subprocess for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from adapters.dev_issuer import DevIssuer

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"charged", "rejected", "failed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningPlatform:
    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str],
        serve_args: Sequence[str] = (),
        log_path: Path | None = None,
        code_root: Path = ROOT,
    ) -> None:
        self.code_root = code_root  # the checkout whose code runs (a benchmark's "before")
        self.data_dir = data_dir
        self.env = env
        # One process unless a test asks for more: `serve`'s default (one per CPU) would
        # load the screening model once per core for every host the suite starts.
        default = [] if "--processes" in serve_args else ["--processes", "1"]
        self.serve_args = [*default, *serve_args]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = log_path or data_dir / "serve.log"

    def start(self, timeout: float = 90.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devhost.cli",
                "serve",
                "--port",
                str(self.port),
                *self.serve_args,
            ],
            cwd=self.code_root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"platform exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"platform did not become ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`donatello ARGS` run beside the server, on the same settings and data folder."""
        return run_donatello(self.env, *args)

    def token(
        self,
        user: str,
        roles: Sequence[str],
        department: str | None,
        ttl: timedelta = timedelta(hours=1),
    ) -> str:
        return DevIssuer(self.data_dir / "dev-signing-key.pem").mint(
            user, list(roles), department, ttl=ttl
        )

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def wait_terminal(self, client: httpx.Client, generation_id: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = client.get(f"/api/v1/generations/{generation_id}")
            assert response.status_code == 200, response.text  # a 403 never turns terminal
            body = response.json()
            if body["status"] in TERMINAL:
                return body
            time.sleep(0.1)
        raise AssertionError(f"generation {generation_id} not terminal: {body}")


def run_donatello(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`donatello ARGS` as a person runs it: a subprocess, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "devhost.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def platform_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DONATELLO_")}
    env["DONATELLO_DATA_DIR"] = str(data_dir)
    env["DONATELLO_PROVIDER_BACKOFF_SECONDS"] = "0"
    env.update(overrides)
    return env


@contextmanager
def running_platform(
    data_dir: Path, serve_args: Sequence[str] = (), code_root: Path = ROOT, **overrides: str
) -> Iterator[RunningPlatform]:
    """`donatello serve` (with `serve_args`) on `data_dir`, settings `overrides` as env,
    running the code of `code_root` (this checkout by default)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = platform_env(data_dir, **overrides)
    platform = RunningPlatform(data_dir, env, serve_args, code_root=code_root)
    platform.start()
    try:
        yield platform
    finally:
        platform.stop()
