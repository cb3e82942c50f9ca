"""People's names found by lists of given names and surnames common in Australia.

The small spaCy model tags a name as PERSON when it looks like the English and European
names it was trained on, and misses many that Australians carry: "Priya Raman", "Aroha
Parata", "Sophie Tremblay", "Deng Majok". Here a run of capitalised words is a name when
it starts with a listed given name and has another name-like word after it, or when a
listed surname follows a name-like word: "Priya Raman", "Jarrah Parata", "Kwame
Okafor". The lists (adapters/names/) leave out names that are everyday words or places
(Rose, Sydney, Brown), and words that name places and things ("Street", "Beach",
"Gallery") end a name, so "Alice Springs", "Byron Bay" and "Martin Place" stay places.

The default policy redacts PERSON rather than blocking it, so a wrong guess costs a word
of the prompt, not the prompt. Each word is read once by a possessive pattern and the
runs are gathered in the same pass: linear in the prompt's length.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import cast

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import SpacyRecognizer

from adapters.pii_recognizers import recognizer_metadata

ENTITY = "PERSON"
# A listed given name and a listed surname; either one beside an unlisted name-like
# word. Both reach the policy's threshold for PERSON (0.85).
GIVEN_AND_SURNAME_SCORE = 0.95
ONE_LISTED_SCORE = 0.85
# Longer runs of capitalised words are titles ("Tales From The Outer Suburbs").
_LONGEST_NAME = 4

# A word: letters, then letters, digits, apostrophes and hyphens (O'Connell, Seo-yeon);
# an apostrophe before one is a quotation mark ("'Lachlan McDonald and the Wombat').
# Read once each, possessively; runs of capitalised words are gathered in Python.
_WORD = re.compile(r"(?<![\w\-])[^\W\d_][\w'\u2019\-]*+")
_POSSESSIVE = ("'s", "\u2019s")


@cache
def _names(filename: str) -> frozenset[str]:
    text = resources.files("adapters").joinpath("names", filename).read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#")
    )


def place_words() -> frozenset[str]:
    """Words that end a name: they name a place or a thing ("Bondi Beach", "Opera House")."""
    return _names("place_words.txt")


def _not_names() -> frozenset[str]:
    return place_words() | _names("not_names.txt")


def given_names() -> frozenset[str]:
    return _names("given_names.txt")


def surnames() -> frozenset[str]:
    return _names("surnames.txt")


def _bare(word: str) -> str:
    """The word without a possessive "'s" ("Thompson's" is Thompson)."""
    return word[:-2] if word.endswith(_POSSESSIVE) else word


def _name_like(word: str, not_names: frozenset[str]) -> bool:
    # All capitals ("NSW", "HDR") are abbreviations, not names.
    return word.casefold() not in not_names and not (len(word) > 1 and word.isupper())


class NameListRecognizer(LocalRecognizer):
    """Finds people's names by listed given names and surnames (entity PERSON)."""

    def __init__(self) -> None:
        self._given = given_names()
        self._surnames = surnames()
        self._not_names = _not_names()
        self._name = type(self).__name__
        super().__init__(supported_entities=[ENTITY], name=self._name)

    def load(self) -> None:
        """Nothing to load: the lists are read once per process."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [self._result(start, end, score) for start, end, score in self._names_in(text)]

    def _names_in(self, text: str) -> Iterator[tuple[int, int, float]]:
        """The stretches of name-like capitalised words, one space apart, scored."""
        stretch: list[tuple[int, str]] = []
        previous_end = -1
        for match in _WORD.finditer(text):
            word = match.group()
            bare = _bare(word)
            joined = match.start() == previous_end + 1 and text[previous_end] == " "
            if not (joined and stretch):
                yield from self._scored(stretch)
                stretch = []
            if word[0].isupper() and _name_like(bare, self._not_names):
                stretch.append((match.start(), bare))
            else:
                yield from self._scored(stretch)
                stretch = []
            if bare != word:  # a possessive ends the name
                yield from self._scored(stretch)
                stretch = []
            previous_end = match.end()
        yield from self._scored(stretch)

    def _scored(self, stretch: list[tuple[int, str]]) -> Iterator[tuple[int, int, float]]:
        if not 2 <= len(stretch) <= _LONGEST_NAME:
            return
        words = [word.casefold() for _, word in stretch]
        given_first = words[0] in self._given
        surname_after = any(word in self._surnames for word in words[1:])
        if given_first and surname_after:
            score = GIVEN_AND_SURNAME_SCORE
        elif given_first or surname_after:
            score = ONE_LISTED_SCORE
        else:
            return
        start, _ = stretch[0]
        last_start, last = stretch[-1]
        yield start, last_start + len(last), score

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            entity_type=ENTITY,
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self._name,
                original_score=score,
                textual_explanation="listed given name or surname among capitalised words",
            ),
            recognition_metadata=recognizer_metadata(self._name, self.id),
        )


class PlaceAwareSpacyRecognizer(SpacyRecognizer):
    """spaCy's findings, without the PERSON ones whose last word names a place.

    The small model reads "Bondi Beach", "Hosier Lane" and "Martin Place" as people.
    A finding that starts with a listed given name stays: "Jin Woo Park" is a person.
    Dropped here rather than after the analysis, so the engine's merging of overlapping
    findings still sees the name list's "Jin Woo" beside spaCy's.
    """

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = super().analyze(
            text, entities, cast(NlpArtifacts, nlp_artifacts)
        )
        given = given_names()
        return [
            r
            for r in results
            if r.entity_type != ENTITY or not _a_place(text[r.start : r.end], given)
        ]


def _a_place(finding: str, given: frozenset[str]) -> bool:
    words = [_bare(word).casefold() for word in finding.split()]
    return bool(words) and words[-1] in place_words() and words[0] not in given
