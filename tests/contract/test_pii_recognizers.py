"""The checksummed-identifier, phone and URL recognizers, on Presidio's real base classes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.pii_recognizers import (
    ABN,
    ACN,
    CREDIT_CARD,
    FOREIGN_SCORE,
    MEDICARE,
    OWN_SCORE,
    TFN,
    ChecksummedIdentifierRecognizer,
    HintedPhoneRecognizer,
    Identifier,
    abn_is_valid,
    acn_is_valid,
    card_is_valid,
    luhn_is_valid,
    medicare_is_valid,
    tfn_is_valid,
)


# Published examples: the ATO's ABN format page, ASIC's list of valid ACNs (including
# one whose check digit is 0), the widely cited TFN and Medicare examples, and the card
# networks' test numbers.
@pytest.mark.parametrize(
    ("is_valid", "digits"),
    [
        (abn_is_valid, "51824753556"),
        (acn_is_valid, "000000019"),
        (acn_is_valid, "001749999"),
        (acn_is_valid, "003249992"),
        (acn_is_valid, "000000180"),
        (tfn_is_valid, "123456782"),
        (medicare_is_valid, "2123456701"),
        (card_is_valid, "4111111111111111"),  # Visa
        (card_is_valid, "5555555555554444"),  # Mastercard
        (card_is_valid, "2223003122003222"),  # Mastercard 2-series
        (card_is_valid, "378282246310005"),  # American Express
        (card_is_valid, "6011111111111117"),  # Discover
        (card_is_valid, "3530111333300000"),  # JCB
        (card_is_valid, "30569309025904"),  # Diners Club
    ],
)
def test_accepts_published_valid_numbers(is_valid: Callable[[str], bool], digits: str) -> None:
    assert is_valid(digits)


@pytest.mark.parametrize(
    ("is_valid", "digits"),
    [
        (abn_is_valid, "51824753557"),  # last digit changed
        (abn_is_valid, "01824753556"),  # no ABN starts with 0
        (abn_is_valid, "5182475355"),  # too short
        (acn_is_valid, "000000018"),
        (acn_is_valid, "00000019"),
        (tfn_is_valid, "123456781"),
        (tfn_is_valid, "123456789"),
        (tfn_is_valid, "12345678"),  # eight-digit TFNs are not recognised
        (medicare_is_valid, "2123456711"),  # check digit changed
        (medicare_is_valid, "1123456701"),  # cards start with 2 to 6
        (medicare_is_valid, "212345670"),
        (card_is_valid, "4111111111111112"),  # Luhn fails
        (card_is_valid, "3525428552494257"),  # Luhn passes, but 3525 is no network's
        (card_is_valid, "411111111111111"),  # a Visa is not 15 digits
    ],
)
def test_rejects_numbers_failing_the_check(is_valid: Callable[[str], bool], digits: str) -> None:
    assert not is_valid(digits)


def test_luhn_agrees_with_a_hand_computed_example() -> None:
    # 7992739871 + check digit 3 is the textbook Luhn example.
    assert luhn_is_valid("79927398713")
    assert not luhn_is_valid("79927398710")


def _scores(identifier: Identifier, text: str) -> dict[str, float]:
    recognizer = ChecksummedIdentifierRecognizer(identifier)
    results = recognizer.analyze(text, [identifier.entity_type])
    return {text[r.start : r.end]: r.score for r in results}


@pytest.mark.parametrize(
    "text",
    [
        "my TFN is 123 456 782",
        "tax file number: 123-456-782",
        "123456782 is my tax file number",
    ],
)
def test_a_valid_tfn_named_as_one_scores_full(text: str) -> None:
    assert list(_scores(TFN, text).values()) == [OWN_SCORE]


def test_a_bare_valid_tfn_keeps_the_bare_score() -> None:
    assert _scores(TFN, "a sticky note reading 123 456 782") == {"123 456 782": TFN.bare_score}


@pytest.mark.parametrize(
    "text",
    [
        "a parcel with order number 123456782",
        "ACN 123 456 782 on a letterhead",
        "ferry ticket, reference 123456782",
        "call 123 456 782",
    ],
)
def test_a_valid_tfn_named_as_something_else_scores_low(text: str) -> None:
    assert list(_scores(TFN, text).values()) == [FOREIGN_SCORE]


def test_the_nearest_hint_decides() -> None:
    text = "new starter: TFN 123 456 782, Medicare 2123 45670 1"
    assert _scores(TFN, text) == {"123 456 782": OWN_SCORE}
    assert _scores(MEDICARE, text) == {"2123 45670 1": OWN_SCORE}


def test_ignores_invalid_numbers_and_digits_inside_longer_numbers() -> None:
    assert _scores(TFN, "TFN 123 456 781") == {}
    # The last nine digits of this ABN pass the TFN check, and are no TFN.
    assert _scores(TFN, "ABN 39 331 363 596") == {}
    assert _scores(ABN, "ABN 39 331 363 596") == {"39 331 363 596": OWN_SCORE}
    assert _scores(TFN, "serial X123456782") == {}
    assert _scores(TFN, "mixed 123 456-782") == {}


def test_finds_medicare_abn_and_acn_in_their_usual_writings() -> None:
    assert _scores(MEDICARE, "Medicare 2123-45670-1") == {"2123-45670-1": OWN_SCORE}
    assert _scores(MEDICARE, "medicare no. 2123456701") == {"2123456701": OWN_SCORE}
    assert _scores(ABN, "A.B.N. 51824753556") == {"51824753556": OWN_SCORE}
    assert _scores(ACN, "Harbour Pty Ltd ACN 000 000 019") == {"000 000 019": OWN_SCORE}
    assert _scores(ACN, "a note reading 000 000 019") == {"000 000 019": ACN.bare_score}


@pytest.mark.parametrize(
    "card",
    ["2223 0031 2200 3222", "3782 822463 10005", "3056-930902-5904", "4111111111111111"],
)
def test_finds_cards_of_every_network_and_grouping(card: str) -> None:
    assert _scores(CREDIT_CARD, f"my card {card} exp 09/28") == {card: OWN_SCORE}


def test_a_luhn_valid_voucher_code_is_not_a_card() -> None:
    assert _scores(CREDIT_CARD, "gift voucher code 4111 1111 1111 1111") == {
        "4111 1111 1111 1111": FOREIGN_SCORE
    }


def test_phone_numbers_are_rescored_by_hint_words() -> None:
    phone = HintedPhoneRecognizer(supported_regions=("AU",))

    def scores(text: str) -> dict[str, float]:
        return {text[r.start : r.end]: r.score for r in phone.analyze(text, ["PHONE_NUMBER"])}

    assert scores("call 0491 570 156 today") == {"0491 570 156": phone.SCORE_WITH_HINT}
    assert scores("order on 0491 570 156") == {"0491 570 156": phone.SCORE}
    assert all(s == FOREIGN_SCORE for s in scores("Medicare 2123456701").values())
