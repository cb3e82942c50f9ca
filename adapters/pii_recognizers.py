"""Recognizers for numbers with check digits, scored by the words around them.

Presidio's stock recognizers for Australian identifiers and credit cards score a
checksum-valid number 1.0 whatever surrounds it and drop the rest, which made them
wrong in three ways on image prompts:
- they miss common ways of writing the numbers (`123-456-782`, `2950-37026-1`, and
  Mastercard's 2-series, 2221-2720);
- `\\b` lets them match inside a longer number: the tail of the ABN `39 331 363 596`
  is a nine-digit group that passes the TFN check one time in eleven;
- nothing tells an order number from a TFN. Any nine-digit reference passes the TFN
  check one time in eleven (and the ACN check one time in ten), so about one prompt
  in eleven with an order number would be blocked as a tax file number.

Here a checksum-valid number is scored by the nearest hint word: its own ("TFN",
"Medicare") gives full confidence; another identifier's name, a phone word or a
reference word ("order no.", "serial", "SKU") makes it almost surely not this
identifier; with no hint the number keeps a middling score chosen per identifier.
Phone numbers get the same treatment (an ABN is not a phone number); URLs and e-mail
addresses are adapters.web_recognizers'.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from presidio_analyzer import (
    AnalysisExplanation,
    LocalRecognizer,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

OWN_SCORE = 1.0
FOREIGN_SCORE = 0.1

# ---- check digits (the published algorithms; each takes the digits only) ----


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True))


def tfn_is_valid(digits: str) -> bool:
    """ATO tax file number: nine digits whose weighted sum is divisible by 11."""
    return len(digits) == 9 and _weighted(digits, (1, 4, 3, 7, 5, 8, 6, 9, 10)) % 11 == 0


def medicare_is_valid(digits: str) -> bool:
    """Medicare card number: ten digits, first 2-6, ninth a weighted check of the first eight.

    The tenth is the card's issue number, which carries no check.
    """
    if len(digits) != 10 or digits[0] not in "23456":
        return False
    return _weighted(digits[:8], (1, 3, 7, 9, 1, 3, 7, 9)) % 10 == int(digits[8])


def abn_is_valid(digits: str) -> bool:
    """Australian Business Number: subtract 1 from the first digit, weighted sum mod 89."""
    if len(digits) != 11 or digits[0] == "0":
        return False
    lowered = str(int(digits[0]) - 1) + digits[1:]
    return _weighted(lowered, (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)) % 89 == 0


def acn_is_valid(digits: str) -> bool:
    """Australian Company Number: the ninth digit completes a weighted sum to a ten."""
    if len(digits) != 9:
        return False
    return (10 - _weighted(digits[:8], (8, 7, 6, 5, 4, 3, 2, 1)) % 10) % 10 == int(digits[8])


def luhn_is_valid(digits: str) -> bool:
    """The Luhn check every payment card number carries."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = int(digit) * (2 if position % 2 else 1)
        total += doubled - 9 if doubled > 9 else doubled
    return len(digits) > 1 and total % 10 == 0


# (prefix length, lowest prefix, highest prefix, lengths) of the card networks in use.
_CARD_RANGES = (
    (1, 4, 4, (13, 16, 19)),  # Visa
    (2, 51, 55, (16,)),  # Mastercard
    (4, 2221, 2720, (16,)),  # Mastercard 2-series
    (2, 34, 34, (15,)),  # American Express
    (2, 37, 37, (15,)),  # American Express
    (4, 6011, 6011, (16, 19)),  # Discover
    (3, 644, 649, (16, 19)),  # Discover
    (2, 65, 65, (16, 19)),  # Discover
    (4, 3528, 3589, (16, 19)),  # JCB
    (3, 300, 305, (14, 16)),  # Diners Club
    (2, 36, 36, (14, 16)),  # Diners Club
    (2, 38, 39, (14, 16)),  # Diners Club
    (2, 62, 62, (16, 17, 18, 19)),  # UnionPay
)


def card_is_valid(digits: str) -> bool:
    """A number a card network issues (prefix and length) that passes the Luhn check."""
    network = any(
        low <= int(digits[:size]) <= high and len(digits) in lengths
        for size, low, high, lengths in _CARD_RANGES
    )
    return network and luhn_is_valid(digits)


# ---- hint words ----

Hint = Literal["own", "foreign"]

# Nouns naming a number as a reference. "Order" alone is not one: "order on 0491 570 156".
_NUMBERED = r"(?:\s*(?:no\b\.?|number|id|#))"
_REFERENCE_WORDS = (
    rf"(?:order|invoice|receipt|ticket|member|booking){_NUMBERED}|ref|reference|tracking|"
    r"serial|sku|barcode|voucher|code|isbn|lot|batch|item|part|model|trip|account|customer"
)
_PHONE_WORDS = r"phone|ph|tel|telephone|mobile|mob|call|ring|text|sms|fax|hotline|whatsapp"
_NAMES = {
    "AU_TFN": r"tfn|t\.f\.n|tax file",
    "AU_MEDICARE": r"medicare",
    "AU_ABN": r"abn|a\.b\.n|business number",
    "AU_ACN": r"acn|a\.c\.n|company number",
    "CREDIT_CARD": (
        r"card|credit|debit|visa|mastercard|amex|american express|discover|jcb|diners|"
        r"unionpay|cc"
    ),
    "PHONE_NUMBER": _PHONE_WORDS,
    "US_SSN": r"ssn|social security",
    "IBAN_CODE": r"iban",
}
# Names that say a number is one of these and nothing else. A payment card's words
# ("card") are too common to count against anything.
_IDENTIFIER_TYPES = ("AU_TFN", "AU_MEDICARE", "AU_ABN", "AU_ACN", "US_SSN", "IBAN_CODE")
_BEFORE = 48  # characters searched for a hint before the number, about six words
_AFTER = 24  # and after it ("123 456 782 is my TFN")


def _words(alternation: str) -> re.Pattern[str]:
    # Hints are whole words; "order #" may run straight into its digits.
    return re.compile(rf"(?<![\w.])(?:{alternation})(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Hints:
    """The words that say a number is, or is not, of one entity type."""

    own: re.Pattern[str]
    foreign: re.Pattern[str]

    @classmethod
    def for_type(cls, entity_type: str) -> Hints:
        others = [_NAMES[t] for t in _IDENTIFIER_TYPES if t != entity_type]
        if entity_type != "PHONE_NUMBER":
            others.append(_PHONE_WORDS)
        return cls(_words(_NAMES[entity_type]), _words("|".join([*others, _REFERENCE_WORDS])))

    def nearest(self, text: str, start: int, end: int) -> Hint | None:
        """The kind of the hint word closest to text[start:end]; before wins a tie."""
        before = text[max(0, start - _BEFORE) : start]
        after = text[end : end + _AFTER]
        found: list[tuple[int, int, Hint]] = []
        kinds: tuple[tuple[Hint, re.Pattern[str]], ...] = (
            ("own", self.own),
            ("foreign", self.foreign),
        )
        for kind, pattern in kinds:
            found += [(len(before) - m.end(), 0, kind) for m in pattern.finditer(before)]
            found += [(m.start(), 1, kind) for m in pattern.finditer(after)]
        return min(found)[2] if found else None

    def score(self, text: str, start: int, end: int, bare_score: float) -> float:
        hint = self.nearest(text, start, end)
        if hint is None:
            return bare_score
        return OWN_SCORE if hint == "own" else FOREIGN_SCORE


# ---- recognizers ----

# Not part of a longer run of digits, words or separated digit groups.
_START = r"(?<![\w.])(?<!\d[ -])"
_END = r"(?![\w])(?![ -]\d)"


@dataclass(frozen=True, slots=True)
class Identifier:
    entity_type: str
    shapes: tuple[str, ...]
    is_valid: Callable[[str], bool]
    bare_score: float

    def patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(f"{_START}(?:{shape}){_END}") for shape in self.shapes)


# Groups are separated consistently: by spaces, by hyphens, or not at all.
TFN = Identifier("AU_TFN", (r"\d{3}([ -]?)\d{3}\1\d{3}",), tfn_is_valid, 0.6)
MEDICARE = Identifier("AU_MEDICARE", (r"[2-6]\d{3}([ -]?)\d{5}\1\d",), medicare_is_valid, 0.6)
ABN = Identifier("AU_ABN", (r"\d{2}([ -]?)\d{3}\1\d{3}\1\d{3}",), abn_is_valid, 0.6)
# ACNs are conventionally printed after "ACN", so a bare nine-digit number that passes
# the weak mod-10 check is far likelier a TFN or a reference: below the threshold.
ACN = Identifier("AU_ACN", (r"\d{3}([ -]?)\d{3}\1\d{3}",), acn_is_valid, 0.4)
CREDIT_CARD = Identifier(
    "CREDIT_CARD",
    (
        r"\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,7}",  # 13-19 digits in fours
        r"3\d{3}([ -]?)\d{6}\1\d{4,5}",  # American Express and Diners Club: 4-6-5, 4-6-4
    ),
    card_is_valid,
    0.75,
)


class ChecksummedIdentifierRecognizer(LocalRecognizer):
    """Finds numbers of one identifier's shape that pass its check, scored by hint words."""

    def __init__(self, identifier: Identifier) -> None:
        self._identifier = identifier
        self._patterns = identifier.patterns()
        self._hints = Hints.for_type(identifier.entity_type)
        self._name = f"Checksummed{identifier.entity_type.title().replace('_', '')}Recognizer"
        super().__init__(supported_entities=[identifier.entity_type], name=self._name)

    def load(self) -> None:
        """Nothing to load: the patterns are compiled in the constructor."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        spans = {m.span() for p in self._patterns for m in p.finditer(text)}
        for start, end in sorted(spans):
            if not self._identifier.is_valid(re.sub(r"\D", "", text[start:end])):
                continue
            score = self._hints.score(text, start, end, self._identifier.bare_score)
            results.append(
                RecognizerResult(
                    entity_type=self._identifier.entity_type,
                    start=start,
                    end=end,
                    score=score,
                    analysis_explanation=AnalysisExplanation(
                        recognizer=self._name,
                        original_score=score,
                        validation_result=True,
                        textual_explanation="check digits valid; scored by nearby words",
                    ),
                    recognition_metadata=recognizer_metadata(self._name, self.id),
                )
            )
        return results


def recognizer_metadata(name: str, recognizer_id: str) -> dict[str, Any]:
    # Marked as already context-scored, so the engine's enhancer does not raise a
    # number we lowered because of a foreign hint ("medicare number" says "number").
    return {
        RecognizerResult.RECOGNIZER_NAME_KEY: name,
        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer_id,
        RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
    }


class HintedPhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer (libphonenumber), rescored by hint words.

    A valid-looking number after "ABN", "Medicare" or "order no." is that, not a phone.
    """

    SCORE_WITH_HINT = 0.75

    def __init__(self, supported_regions: tuple[str, ...]) -> None:
        super().__init__(supported_regions=supported_regions)
        self._hints = Hints.for_type("PHONE_NUMBER")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        # Presidio defaults nlp_artifacts to None but leaves Optional out of the annotation.
        artifacts = cast(NlpArtifacts, nlp_artifacts)
        results: list[RecognizerResult] = super().analyze(text, entities, artifacts)
        for result in results:
            hint = self._hints.nearest(text, result.start, result.end)
            if hint is not None:
                result.score = self.SCORE_WITH_HINT if hint == "own" else FOREIGN_SCORE
            result.recognition_metadata = recognizer_metadata(type(self).__name__, self.id)
        return results


def checksummed_recognizers() -> list[ChecksummedIdentifierRecognizer]:
    return [ChecksummedIdentifierRecognizer(i) for i in (TFN, MEDICARE, ABN, ACN, CREDIT_CARD)]
