"""`donatello serve` uses every core unless told otherwise."""

from __future__ import annotations

import os

from devhost.cli import serving_processes


def test_serve_runs_one_process_per_cpu_by_default() -> None:
    assert serving_processes(None) == (os.cpu_count() or 1)


def test_an_explicit_process_count_is_kept() -> None:
    assert serving_processes(1) == 1
    assert serving_processes(3) == 3
