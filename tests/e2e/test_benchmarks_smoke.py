"""The benchmark commands run end to end on tiny sizes, so they cannot rot unnoticed.

Figures come from the full runs (see benchmarks/README.md); nothing here times anything.
"""

from __future__ import annotations

import pytest

from benchmarks import event_store, replay


def test_event_store_benchmark_prints_both_stores(capsys: pytest.CaptureFixture[str]) -> None:
    event_store.main(["--events", "20", "--streams", "10", "--repeats", "1"])
    printed = capsys.readouterr().out
    assert "eventsourcing" in printed
    assert "FULL" in printed
    assert "NORMAL" in printed


def test_replay_benchmark_prints_ours_and_the_peer(capsys: pytest.CaptureFixture[str]) -> None:
    replay.main(["--events", "300", "--repeats", "1", "--workers", "2"])
    printed = capsys.readouterr().out
    assert "replay_all" in printed
    assert "1 process" in printed
    assert "2 worker processes" in printed
    assert "select_notifications" in printed
