"""A real recognizer that is slow on purpose, for tests of screening's time bound.

Its pattern nests one quantifier in another, the classic shape of catastrophic
backtracking: on a run of x's that is not followed by a y, the standard `re` tries
every way of splitting the run, about 2**n of them, holding the GIL all the while.
Any other prompt it reads at once.
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from adapters.presidio_analyzer import PresidioAnalyzer, default_recognizers

# About 2**34 steps: minutes, where the bound under test is a few seconds.
SLOW_PROMPT = "a poster that says " + "x" * 34


class BacktrackingRecognizer(LocalRecognizer):
    PATTERN = re.compile(r"(?:x+x+)+y")

    def __init__(self) -> None:
        super().__init__(supported_entities=["BACKTRACKING"], name="BacktrackingRecognizer")

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult("BACKTRACKING", m.start(), m.end(), 1.0)
            for m in self.PATTERN.finditer(text)
        ]


def slow_analyzer() -> PresidioAnalyzer:
    """The platform's analyzer with the slow recognizer added: built in each child."""
    return PresidioAnalyzer(recognizers=[*default_recognizers(), BacktrackingRecognizer()])
