"""The street-address and name-list recognizers, alone and in the real analyzer and policy."""

from __future__ import annotations

import pytest
from presidio_analyzer import RecognizerResult

from adapters.address_recognizer import (
    IN_TITLE_SCORE,
    STREET_ONLY_SCORE,
    WITH_LOCALITY_SCORE,
    AuStreetAddressRecognizer,
    outside_addresses,
)
from adapters.name_recognizer import (
    GIVEN_AND_SURNAME_SCORE,
    ONE_LISTED_SCORE,
    NameListRecognizer,
    given_names,
    surnames,
)
from adapters.presidio_analyzer import PresidioAnalyzer, shared_analyzer
from adapters.presidio_redactor import PresidioRedactor
from domain.screening import DEFAULT_POLICY
from services.screening import screen_text


def _found(recognizer: AuStreetAddressRecognizer | NameListRecognizer, text: str) -> list[str]:
    return [text[r.start : r.end] for r in recognizer.analyze(text, [])]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("my house at 12 Smith St, Newtown NSW 2042!", "12 Smith St, Newtown NSW 2042"),
        ("moved to Unit 3/22 Beach Road, Bondi NSW 2026", "Unit 3/22 Beach Road, Bondi NSW 2026"),
        ("at 3/12 Ocean Street, Narrabeen NSW 2101", "3/12 Ocean Street, Narrabeen NSW 2101"),
        ("Unit 3, 12 Ocean St, Narrabeen 2101", "Unit 3, 12 Ocean St, Narrabeen 2101"),
        ("Level 2, 100 George St, Sydney NSW 2000", "Level 2, 100 George St, Sydney NSW 2000"),
        ("1 The Esplanade, St Kilda VIC 3182", "1 The Esplanade, St Kilda VIC 3182"),
        ("12-14 King St, Perth WA 6000", "12-14 King St, Perth WA 6000"),
        ("11A Hume Hwy, Casula NSW 2170", "11A Hume Hwy, Casula NSW 2170"),
        (
            "31 Harbour View Terrace, Battery Point TAS",
            "31 Harbour View Terrace, Battery Point TAS",
        ),
        ("write to 18 waratah ave, randwick nsw 2031", "18 waratah ave, randwick nsw 2031"),
        ("PO Box 412, Toowoomba QLD 4350", "PO Box 412, Toowoomba QLD 4350"),
        ("GPO Box 1234, Adelaide SA 5001", "GPO Box 1234, Adelaide SA 5001"),
    ],
)
def test_finds_an_address_with_its_locality(text: str, address: str) -> None:
    [result] = [
        r for r in AuStreetAddressRecognizer().analyze(text, []) if text[r.start : r.end] == address
    ]
    assert result.score == WITH_LOCALITY_SCORE
    assert result.entity_type == "AU_STREET_ADDRESS"


def test_a_street_without_its_locality_is_an_address_less_surely() -> None:
    text = "a lost cat near 92 Brunswick Street, last seen Tuesday"
    [result] = AuStreetAddressRecognizer().analyze(text, [])
    assert (text[result.start : result.end], result.score) == (
        "92 Brunswick Street",
        STREET_ONLY_SCORE,
    )
    assert DEFAULT_POLICY.rule_for("AU_STREET_ADDRESS").min_score <= STREET_ONLY_SCORE


@pytest.mark.parametrize(
    "text",
    [
        "the Sydney Opera House at dusk",
        "Uluru at sunset",
        "Bondi Beach at sunrise",
        "a street in Newtown",
        "a tram on Bourke Street in the 1950s",
        "a 1950s Main Street diner",
        "2 cats on a road",
        "the 1300 block of Elm Street",
        "a Porsche 911 on a wet mountain road",
        "12 smith st, newtown",  # lower case: only with its state and postcode
    ],
)
def test_places_and_numbers_near_streets_are_not_addresses(text: str) -> None:
    assert _found(AuStreetAddressRecognizer(), text) == []


@pytest.mark.parametrize("text", ["Top 10 Best Road Trips", "the 2026 Sydney Street Festival"])
def test_a_street_inside_a_title_scores_below_the_threshold(text: str) -> None:
    [result] = AuStreetAddressRecognizer().analyze(text, [])
    assert result.score == IN_TITLE_SCORE < DEFAULT_POLICY.rule_for("AU_STREET_ADDRESS").min_score


def test_names_and_places_inside_an_address_are_the_address() -> None:
    address = RecognizerResult("AU_STREET_ADDRESS", 10, 40, WITH_LOCALITY_SCORE)
    inside = RecognizerResult("PERSON", 25, 36, 0.85)
    beside = RecognizerResult("PERSON", 0, 9, 0.85)
    weak = RecognizerResult("AU_STREET_ADDRESS", 50, 70, IN_TITLE_SCORE)
    in_weak = RecognizerResult("LOCATION", 60, 65, 0.85)
    kept = outside_addresses([address, inside, beside, weak, in_weak])
    assert kept == [address, beside, weak, in_weak]


@pytest.mark.parametrize(
    ("text", "name", "score"),
    [
        ("a birthday banner for Priya Raman", "Priya Raman", GIVEN_AND_SURNAME_SCORE),
        ("a memorial card for Aroha Parata", "Aroha Parata", GIVEN_AND_SURNAME_SCORE),
        ("a portrait of Jarrah Mundine", "Jarrah Mundine", GIVEN_AND_SURNAME_SCORE),
        ("a trading card of Deng Majok", "Deng Majok", GIVEN_AND_SURNAME_SCORE),
        ("a card for Seo-yeon Kim, champion", "Seo-yeon Kim", ONE_LISTED_SCORE),
        ("a name badge for Sophie Zylberstein", "Sophie Zylberstein", ONE_LISTED_SCORE),
        ("Jack Thompson's cat Biscuit", "Jack Thompson", GIVEN_AND_SURNAME_SCORE),
        ("'Lachlan McDonald and the Wombat'", "Lachlan McDonald", GIVEN_AND_SURNAME_SCORE),
        ("a wedding of Mei Lin Chen", "Mei Lin Chen", GIVEN_AND_SURNAME_SCORE),
    ],
)
def test_finds_a_name_by_its_listed_parts(text: str, name: str, score: float) -> None:
    [result] = NameListRecognizer().analyze(text, [])
    assert (text[result.start : result.end], result.score) == (name, score)


@pytest.mark.parametrize(
    "text",
    [
        "Alice Springs at dawn",
        "Byron Bay lighthouse",
        "Martin Place at Christmas",
        "Art Deco poster",
        "Rose Garden in spring",
        "a Priya",  # one word is not a full name
        "A Night At The Opera House",
        "NSW QLD",
        "Wonder Priya Raman Jack Thompson Tales",  # six name-like words: a title
    ],
)
def test_places_words_and_titles_are_not_names(text: str) -> None:
    assert _found(NameListRecognizer(), text) == []


def test_the_lists_hold_names_from_every_community_and_no_everyday_words() -> None:
    given, family = given_names(), surnames()
    assert {"jarrah", "kirra", "yindi", "priya", "wei", "minh", "aroha", "giovanni"} <= given
    assert {"mabo", "yunupingu", "nguyen", "singh", "kowalski", "papadopoulos"} <= family
    assert not {"rose", "sydney", "alice", "grace", "may"} & given
    assert not {"brown", "white", "green", "park", "street"} & family


@pytest.fixture(scope="module")
def analyzer() -> PresidioAnalyzer:
    return shared_analyzer()


@pytest.mark.parametrize(
    ("prompt", "redacted"),
    [
        (
            "a watercolour of my house at 12 Smith St, Newtown NSW 2042 in spring",
            "a watercolour of my house at <AU_STREET_ADDRESS> in spring",
        ),
        (
            "a parcel label for Ethan Walker, 7 Jacaranda Avenue, Toowong QLD 4066",
            "a parcel label for <PERSON>, <AU_STREET_ADDRESS>",
        ),
        ("a birthday banner for Priya Raman", "a birthday banner for <PERSON>"),
        ("the Sydney Opera House at dusk", "the Sydney Opera House at dusk"),
        ("Uluru at sunset, red earth", "Uluru at sunset, red earth"),
        ("Bondi Beach at sunrise with surfers", "Bondi Beach at sunrise with surfers"),
        ("a street in Newtown with terrace houses", "a street in Newtown with terrace houses"),
        ("Martin Place at Christmas with the tree", "Martin Place at Christmas with the tree"),
    ],
)
def test_the_policy_redacts_addresses_and_names_and_leaves_places(
    analyzer: PresidioAnalyzer, prompt: str, redacted: str
) -> None:
    outcome = screen_text(prompt, DEFAULT_POLICY, analyzer=analyzer, redactor=PresidioRedactor())
    assert not outcome.rejected
    assert outcome.redacted_prompt == redacted
