"""One side of `benchmarks.pipeline --before`: what `submit_generation` (the work behind
`POST /generations`) costs in the code tree this process imports.

Run by benchmarks.pipeline with the tree to measure first on `PYTHONPATH` (this
checkout's, or an older commit's extracted beside it), texts as JSON on stdin; prints
JSON on stdout: each call's wall time, and the CPU of this process and of its children
(the screening processes) over the timed calls. Only the calls the tree exposes in both
shapes are used, so one script measures either.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.pipeline import WARM_UP, host_cpu_seconds
from bootstrap import build_platform
from domain.access import Principal, Role
from services.generations import GenerationRequest, submit_generation
from services.settings import Settings


def main() -> None:
    texts: list[str] = json.load(sys.stdin)
    # Unlimited quota: the quota is not what is measured.
    requester = Principal("bench-user", frozenset({Role.GENERATOR_POWER}), "marketing", None)
    with tempfile.TemporaryDirectory(prefix="bench-door-") as workdir:
        platform = build_platform(Settings(data_dir=Path(workdir)))
        for text in texts[:WARM_UP]:  # the screening processes started and warm
            submit_generation(platform, requester, GenerationRequest(prompt=text), None)
        samples = []
        cpu_before = host_cpu_seconds(os.getpid())
        for text in texts[WARM_UP:]:
            start = time.perf_counter()
            submit_generation(platform, requester, GenerationRequest(prompt=text), None)
            samples.append((time.perf_counter() - start) * 1000)
        cpu_after = host_cpu_seconds(os.getpid())
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    json.dump({"samples_ms": samples, "cpu_s": cpu}, sys.stdout)


if __name__ == "__main__":
    main()
