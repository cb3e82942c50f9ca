"""Australian street addresses, read in linear time.

spaCy's NER tags places ("Uluru", "Bondi Beach") as LOCATION and found barely a third of
the street addresses in the corpus, often only their suburb. The two differ for the
policy: a place is what an image is made of, a numbered street address is where a
person lives. So addresses get their own entity type, AU_STREET_ADDRESS, which the
policy redacts, while LOCATION stays allowed.

An address here is what Australia Post prints: an optional unit or level ("Unit 3,",
"Level 2,", "Shop 4/"), a street number ("12", "12A", "3/12", "12-14"), one to four
capitalised words of street name and a street type ("Street", "St", "Cres"...), then
optionally a suburb, a state and a postcode; or a PO box. A number is required, so "a
street in Newtown" and "Bourke Street in the 1950s" are left alone, and the name's
words must be capitalised, so "2 cats on a road" is not an address. An address written
in lower case is recognised only with its state and postcode ("12 smith st, newtown
nsw 2042").

Every quantifier over the text is possessive or bounded, and a match can only start at
a number, a unit word or a box word that no word character precedes: each start reads
at most a dozen words, so a prompt is read in linear time whatever it holds
(tests/data/screening_adversarial.jsonl has the worst cases).
"""

from __future__ import annotations

import re

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from adapters.pii_recognizers import recognizer_metadata

ENTITY = "AU_STREET_ADDRESS"
# A suburb with its state or postcode leaves little doubt; a number and a street name
# alone ("42 Wallaby Way") are still an address to a reader, though less surely.
WITH_LOCALITY_SCORE = 0.95
STREET_ONLY_SCORE = 0.6
PO_BOX_SCORE = 0.85
# Below the policy's threshold: a bare street inside a run of capitalised words is a
# title ("Top 10 Best Road Trips", "the 2026 Sydney Street Festival").
IN_TITLE_SCORE = 0.3
# What an address's words are not, whatever the NER makes of "Toowong QLD" or "St Kilda".
NOT_IN_AN_ADDRESS = frozenset({"PERSON", "LOCATION"})

_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Av|Drive|Dr|Court|Ct|Crt|Crescent|Cres|Cr|Place|Pl|Lane|"
    "Ln|Parade|Pde|Terrace|Tce|Highway|Hwy|Boulevarde|Boulevard|Blvd|Bvd|Way|Close|Cl|"
    "Circuit|Cct|Grove|Gr|Esplanade|Esp|Square|Sq|Rise|Mews|Loop|Link|Parkway|Pkwy|Track|"
    "Trail|Promenade|Prom|Quay|Circle|Cir|Gardens|Gdns|Heights|Hts|Ridge|Glade|Approach|"
    "Mall|Arcade|Alley|Broadway|Crossing|Outlook|Retreat|Strand|Wynd"
)
_STATES = r"NSW|N\.S\.W\.|VIC|Vic|QLD|Qld|WA|SA|TAS|Tas|ACT|NT"
# A word of a name: capitalised, with inner capitals, apostrophes and hyphens (McDonald,
# O'Connell, Smith-Jones). Possessive: a word is never given back a letter at a time.
_WORD = r"[A-Z][A-Za-z'\u2019\-]*+"
_LOWER_WORD = r"[A-Za-z][A-Za-z'\u2019\-]*+"
_GAP = r"[ \t]++"  # within an address's line
_SEP = r",?+\s++"  # between its parts: a comma or a line break may come too
_NUMBER = r"\d{1,5}+[A-Ha-h]?+(?![\w'\u2019])"
# "3/12", "3 / 12", "12-14": a unit's number before the street's, or a range.
_STREET_NUMBER = rf"{_NUMBER}(?:[ \t]*+[/\-][ \t]*+{_NUMBER})?+"
# "Unit 3, ", "Level 2, ", "Shop 4/": a unit's word and number before the street's.
_UNIT = (
    r"(?i:unit|apartment|apt|flat|suite|shop|villa|townhouse|level|lvl|floor|lot)\.?+"
    rf"[ \t]*+{_NUMBER}[ \t]*+(?:[,/]\s*+)?+"
)
_TYPE = rf"(?i:{_STREET_TYPES})\.?+(?![\w'\u2019\-])"
_POSTCODE = r"\d{4}+(?!\w)"
_STATE = rf"(?:{_STATES})(?![\w.])"
# Where a match may start: not inside a word or a number ("3/12" starts at the 3).
_START = r"(?<![\w/\-'\u2019])"
_TITLE_BEFORE = re.compile(rf"{_WORD}[ \t]++$")
_TITLE_AFTER = re.compile(rf"[ \t]++{_WORD}")
_LOOK_BEHIND = 40  # characters: longer than any word of a title


def _street(word: str) -> str:
    return rf"{_START}(?:{_UNIT}){{0,2}}{_STREET_NUMBER}{_GAP}(?:{word}{_GAP}){{1,4}}{_TYPE}"


def _locality(word: str, states: str) -> str:
    suburb = rf"{word}(?:{_GAP}{word}){{0,2}}"
    return (
        rf"{_SEP}(?:{suburb}{_SEP}{states}(?:{_SEP}{_POSTCODE})?+"
        rf"|{suburb}{_SEP}{_POSTCODE}|{states}{_SEP}{_POSTCODE})"
    )


_PO_BOX = (
    rf"{_START}(?i:p\.?+[ \t]*+o\.?+[ \t]*+box|gpo[ \t]++box|locked[ \t]++bag|"
    rf"private[ \t]++bag)[ \t]*+\d{{1,6}}+(?!\w)"
)

# (pattern, score with the locality, score without): capitalised street names first.
_PATTERNS = (
    (re.compile(rf"{_street(_WORD)}(?P<locality>{_locality(_WORD, _STATE)})?"), STREET_ONLY_SCORE),
    (
        re.compile(rf"(?i){_street(_LOWER_WORD)}(?P<locality>{_locality(_LOWER_WORD, _STATE)})"),
        STREET_ONLY_SCORE,
    ),
    (re.compile(rf"{_PO_BOX}(?P<locality>{_locality(_WORD, _STATE)})?"), PO_BOX_SCORE),
)


class AuStreetAddressRecognizer(LocalRecognizer):
    """Finds Australian street addresses and PO boxes (entity AU_STREET_ADDRESS)."""

    def __init__(self) -> None:
        self._name = type(self).__name__
        super().__init__(supported_entities=[ENTITY], name=self._name)

    def load(self) -> None:
        """Nothing to load: the patterns are compiled with the module."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        best: dict[int, tuple[int, float]] = {}
        for pattern, bare_score in _PATTERNS:
            for match in pattern.finditer(text):
                start, end = match.span()
                score = WITH_LOCALITY_SCORE if match.group("locality") else bare_score
                # A unit's word ("Unit 5, ...") is never a title's.
                bare_number = text[start].isdigit()
                if score == STREET_ONLY_SCORE and bare_number and _in_title(text, start, end):
                    score = IN_TITLE_SCORE
                if best.get(start, (0, 0.0)) < (end, score):
                    best[start] = (end, score)
        return [self._result(start, end, score) for start, (end, score) in sorted(best.items())]

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            entity_type=ENTITY,
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self._name,
                original_score=score,
                textual_explanation="street number, name and type; scored by its locality",
            ),
            recognition_metadata=recognizer_metadata(self._name, self.id),
        )


def _in_title(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - _LOOK_BEHIND) : start]
    return bool(_TITLE_BEFORE.search(before) or _TITLE_AFTER.match(text, end))


def outside_addresses(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """`results` without the names and places found inside an address."""
    addresses = [r for r in results if r.entity_type == ENTITY and r.score >= STREET_ONLY_SCORE]
    return [
        r
        for r in results
        if r.entity_type not in NOT_IN_AN_ADDRESS
        or not any(a.start <= r.start and r.end <= a.end for a in addresses)
    ]
