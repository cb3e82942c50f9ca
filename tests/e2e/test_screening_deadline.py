"""Screening's time bound, with a recognizer that is really slow (tests/slow_recognizer).

A prompt whose analysis runs past the bound is rejected as `screening_timeout` and the
rejection is recorded; a prompt screened at the same time is not held behind it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.analyzer_processes import ProcessAnalyzer
from adapters.presidio_redactor import PresidioRedactor
from domain.generation import Status
from domain.screening import DEFAULT_POLICY, ScreeningOutcome
from domain.streams import generation_stream
from services.pipeline import advance_generation
from services.screening import screen_text
from tests.e2e.test_screening_service import build, submit
from tests.slow_recognizer import SLOW_PROMPT, slow_analyzer

TIMEOUT = 3.0
ORDINARY = "a watercolour of a lighthouse at dawn, for Jane Citizen's birthday card"


@pytest.fixture(scope="module")
def analyzer() -> Iterator[ProcessAnalyzer]:
    pool = ProcessAnalyzer(slow_analyzer, processes=2, timeout=TIMEOUT)
    # Both processes loaded before anything is timed: two analyses at once take both.
    warm = [threading.Thread(target=pool.analyze, args=("warm-up",)) for _ in range(2)]
    for thread in warm:
        thread.start()
    for thread in warm:
        thread.join()
    yield pool
    pool.close()


def screen(analyzer: ProcessAnalyzer, prompt: str) -> ScreeningOutcome:
    return screen_text(prompt, DEFAULT_POLICY, analyzer=analyzer, redactor=PresidioRedactor())


def test_a_slow_prompt_is_rejected_at_the_bound_while_another_goes_through(
    analyzer: ProcessAnalyzer,
) -> None:
    slow: dict[str, object] = {}

    def screen_the_slow_one() -> None:
        began = time.monotonic()
        slow["outcome"] = screen(analyzer, SLOW_PROMPT)
        slow["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=screen_the_slow_one)
    began = time.monotonic()
    thread.start()
    time.sleep(0.2)  # the slow analysis is under way
    ordinary = screen(analyzer, ORDINARY)
    ordinary_done = time.monotonic() - began
    thread.join(TIMEOUT * 10)

    assert not thread.is_alive()
    outcome = slow["outcome"]
    assert isinstance(outcome, ScreeningOutcome)
    assert (outcome.rejected, outcome.reason) == (True, "screening_timeout")
    # Loose on purpose (a busy CI machine): the unbounded analysis takes minutes.
    assert TIMEOUT <= float(slow["seconds"]) < TIMEOUT * 2  # type: ignore[arg-type]
    # The ordinary prompt did not wait for the slow one to be abandoned.
    assert ordinary.redacted_prompt == (
        "a watercolour of a lighthouse at dawn, for <PERSON> birthday card"
    )
    assert ordinary_done < TIMEOUT


def test_the_pool_serves_on_after_a_process_is_abandoned(analyzer: ProcessAnalyzer) -> None:
    assert screen(analyzer, SLOW_PROMPT).reason == "screening_timeout"
    outcomes = [screen(analyzer, ORDINARY) for _ in range(3)]
    assert [o.rejected for o in outcomes] == [False, False, False]


def test_the_rejection_is_recorded_as_prompt_rejected(
    tmp_path: Path, analyzer: ProcessAnalyzer
) -> None:
    platform = dataclasses.replace(build(tmp_path), analyzer=analyzer)
    generation_id = submit(platform, "design", SLOW_PROMPT)
    state = advance_generation(platform, generation_id)
    assert (state.status, state.reason) == (Status.REJECTED, "screening_timeout")
    events = platform.store.read_stream(generation_stream(generation_id))
    rejected = [e.data for e in events if e.type == "PromptRejected"]
    assert [(r["reason"], r["findings"]) for r in rejected] == [("screening_timeout", [])]
