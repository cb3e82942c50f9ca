"""The loops of a checkpointed log follower (projections/follower.py), which the
projection runner and the webhook dispatcher share: run to the end of the log, and
run until stopped through a rival's move and a failing batch."""

from __future__ import annotations

import logging
import threading

import pytest

from projections import follower
from projections.base import StalePosition
from projections.follower import CheckpointedFollower


class Scripted(CheckpointedFollower):
    """Answers `run_once` from a script (positions moved, or an error to raise), then 0."""

    work = "scripted batch"

    def __init__(self, *script: int | Exception) -> None:
        self._script = list(script)
        self.done = threading.Event()

    def run_once(self) -> int:
        if not self._script:
            self.done.set()
            return 0
        step = self._script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def test_running_until_caught_up_answers_the_positions_moved() -> None:
    assert Scripted(3, 2, 5).run_until_caught_up() == 10
    assert Scripted().run_until_caught_up() == 0


def test_running_until_caught_up_stops_at_a_failure() -> None:
    with pytest.raises(RuntimeError, match="disk full"):
        Scripted(3, RuntimeError("disk full"), 2).run_until_caught_up()


def test_running_forever_goes_on_past_a_rival_and_a_failure_until_stopped(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follower, "_RETRY_AFTER_FAILURE_SECONDS", 0.01)
    scripted = Scripted(2, StalePosition("budget", 2, 4), RuntimeError("disk full"), 3)
    stop = threading.Event()
    thread = threading.Thread(target=scripted.run_forever, args=(stop, 0.01))
    with caplog.at_level(logging.INFO, logger=__name__):
        thread.start()
        try:
            assert scripted.done.wait(10), "the follower did not get past the script"
        finally:
            stop.set()
            thread.join(timeout=10)
    assert not thread.is_alive()
    logged = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert logged == [
        (
            __name__,
            logging.INFO,
            "another follower moved the checkpoint on: view 'budget' is at position 4, expected 2",
        ),
        (__name__, logging.ERROR, "scripted batch failed; retrying"),
    ]
