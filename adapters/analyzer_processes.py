"""The PII analyzer port, run in child processes, each analysis under a deadline.

In one process, analyses are serialised: the pipeline shares one spaCy model behind a
lock, and the regular expressions hold the GIL (the standard `re` never lets go of it,
and no thread can stop one). One prompt that takes seconds to analyse held every other
generation of the process for as long. Here each analysis runs in one of a few child
processes that each hold their own model: prompts screened at the same time run side
by side, and one that is still running at its deadline is abandoned with
`ScreeningTimedOut` (the caller fails it closed) and its process killed, so nothing
keeps spending CPU on it. A new process takes the killed one's place; until it has
loaded its model (under a second when its modules are already imported), the pool has
one fewer.

The children are forked from multiprocessing's fork server, which imports the analyzer's
modules once (`set_forkserver_preload`), never from this process: a fork of a process
with threads may inherit a lock that some other thread held.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from domain.screening import Finding
from services.ports import PiiAnalyzer, ScreeningTimedOut

log = logging.getLogger(__name__)

# Loading a model is not part of any prompt's deadline, but a child that never gets
# ready must not hang its callers for ever either.
_READY_SECONDS = 300.0
_PRELOAD = ["adapters.presidio_analyzer"]

AnalyzerFactory = Callable[[], PiiAnalyzer]


def _serve(build: AnalyzerFactory, connection: Connection) -> None:
    """A child's loop: build the analyzer, say so, then analyse each text it is sent."""
    analyzer = build()
    connection.send(None)
    while True:
        try:
            text = connection.recv()
        except EOFError:  # the parent is gone
            return
        try:
            connection.send((True, analyzer.analyze(text)))
        except Exception as error:  # handed to the caller, who raises it
            connection.send((False, repr(error)))


class _Child:
    def __init__(self, context: Any, build: AnalyzerFactory) -> None:
        self.connection, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(build, theirs), name="pii-analyzer", daemon=True
        )
        self.process.start()
        theirs.close()  # so the child reads EOF when this process goes
        self.ready = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not self.connection.poll(_READY_SECONDS):
            raise RuntimeError(f"the PII analyzer did not load in {_READY_SECONDS:.0f} s")
        self.connection.recv()
        self.ready = True

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.connection.close()


class ProcessAnalyzer:
    """Implements PiiAnalyzer: each `analyze` in a child process, within `timeout` seconds.

    `processes` is how many prompts are analysed at once; more callers than that wait
    for a free process (each is free again within the deadline). The processes start
    on the first analysis, so a platform that never screens never starts them.
    """

    def __init__(self, build: AnalyzerFactory, *, processes: int, timeout: float) -> None:
        if processes < 1 or timeout <= 0:
            raise ValueError("a process analyzer needs at least one process and a deadline")
        self._build = build
        self._processes = processes
        self.timeout = timeout
        self._idle: queue.SimpleQueue[_Child] = queue.SimpleQueue()
        self._started = False
        self._start_lock = threading.Lock()
        self._context: Any = multiprocessing.get_context("forkserver")

    def analyze(self, text: str) -> list[Finding]:
        self._start()
        child = self._idle.get()
        try:
            child.wait_ready()
            child.connection.send(text)
            began = time.monotonic()
            if not child.connection.poll(self.timeout):
                log.warning("PII analysis passed its %.2f s deadline; abandoned", self.timeout)
                raise ScreeningTimedOut(time.monotonic() - began)
            ok, answer = child.connection.recv()
        except BaseException:
            child.kill()
            self._idle.put(_Child(self._context, self._build))
            raise
        self._idle.put(child)
        if not ok:
            raise RuntimeError(f"the PII analyzer failed: {answer}")
        findings: list[Finding] = answer
        return findings

    def close(self) -> None:
        """Stop the processes; for tests and benchmarks that make their own pool."""
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            # The first caller of the fork server sets what it imports; a later one
            # changes nothing (projections.partitioned sets its own the same way).
            self._context.set_forkserver_preload(_PRELOAD)
            for _ in range(self._processes):
                self._idle.put(_Child(self._context, self._build))
            self._started = True
