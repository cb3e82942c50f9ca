"""The real Presidio analyzer, with the installed spaCy model, offline."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, cast

import pytest
import tldextract.tldextract
from spacy.language import Language
from thinc.api import NumpyOps
from threadpoolctl import threadpool_info

from adapters.presidio_analyzer import (
    DEFAULT_MODEL,
    LANGUAGE,
    ModelNotInstalledError,
    NerOnlySpacyEngine,
    PresidioAnalyzer,
    shared_analyzer,
)
from adapters.presidio_redactor import PresidioRedactor
from domain.screening import DEFAULT_POLICY, screen


def _tfn(first_eight: str) -> str:
    """A TFN passing the ATO check: weighted sum divisible by 11."""
    weights = [1, 4, 3, 7, 5, 8, 6, 9, 10]
    partial = sum(int(d) * w for d, w in zip(first_eight, weights, strict=False))
    for last in range(10):
        if (partial + last * weights[8]) % 11 == 0:
            digits = first_eight + str(last)
            return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    raise AssertionError("no check digit; choose other leading digits")


def _medicare(first_eight: str, issue: str = "1") -> str:
    """A Medicare number whose ninth digit is the weighted checksum of the first eight."""
    weights = [1, 3, 7, 9, 1, 3, 7, 9]
    check = sum(int(d) * w for d, w in zip(first_eight, weights, strict=True)) % 10
    return f"{first_eight[:4]} {first_eight[4:]}{check} {issue}"


@pytest.fixture(scope="module")
def analyzer() -> PresidioAnalyzer:
    return shared_analyzer()


def _types(analyzer: PresidioAnalyzer, text: str) -> set[str]:
    return {f.entity_type for f in analyzer.analyze(text)}


def test_finds_an_email_address(analyzer: PresidioAnalyzer) -> None:
    text = "send the render to jane.citizen@example.com.au when done"
    [email] = [f for f in analyzer.analyze(text) if f.entity_type == "EMAIL_ADDRESS"]
    assert text[email.start : email.end] == "jane.citizen@example.com.au"
    assert email.score >= 0.5


def test_finds_a_visa_test_card(analyzer: PresidioAnalyzer) -> None:
    text = "a poster with the card 4111 1111 1111 1111 on a table"
    [card] = [f for f in analyzer.analyze(text) if f.entity_type == "CREDIT_CARD"]
    assert text[card.start : card.end] == "4111 1111 1111 1111"


def test_finds_an_australian_mobile_number(analyzer: PresidioAnalyzer) -> None:
    text = "a billboard saying call 0412 345 678 today"
    phones = [f for f in analyzer.analyze(text) if f.entity_type == "PHONE_NUMBER"]
    assert [text[f.start : f.end] for f in phones] == ["0412 345 678"]


def test_finds_a_valid_tfn_and_not_an_invalid_one(analyzer: PresidioAnalyzer) -> None:
    valid = _tfn("12345678")
    assert "AU_TFN" in _types(analyzer, f"my tax file number is {valid}")
    digits = valid.replace(" ", "")
    invalid = f"{digits[:3]} {digits[3:6]} {digits[6:8]}{(int(digits[8]) + 1) % 10}"
    assert "AU_TFN" not in _types(analyzer, f"my tax file number is {invalid}")


def test_finds_a_valid_medicare_number(analyzer: PresidioAnalyzer) -> None:
    number = _medicare("29503702")
    text = f"medicare card {number} for the patient"
    [found] = [f for f in analyzer.analyze(text) if f.entity_type == "AU_MEDICARE"]
    assert text[found.start : found.end] == number


def test_a_clean_prompt_has_nothing_to_block_or_redact(analyzer: PresidioAnalyzer) -> None:
    prompt = "a watercolour of a lighthouse at dawn"
    outcome = screen(prompt, analyzer.analyze(prompt), DEFAULT_POLICY, PresidioRedactor())
    assert not outcome.rejected
    assert outcome.redacted_prompt == prompt
    assert [s for s in outcome.findings if s.action != "allow"] == []


def test_screening_rejects_the_card_and_redacts_the_email(analyzer: PresidioAnalyzer) -> None:
    prompt = "invoice art for jane@example.com paid with 4111 1111 1111 1111"
    outcome = screen(prompt, analyzer.analyze(prompt), DEFAULT_POLICY, PresidioRedactor())
    assert outcome.rejected
    assert "CREDIT_CARD" in outcome.reason
    assert "jane@example.com" not in outcome.redacted_prompt
    assert "<EMAIL_ADDRESS>" in outcome.redacted_prompt
    assert "4111" not in outcome.redacted_prompt


def test_redacts_an_email_without_rejecting(analyzer: PresidioAnalyzer) -> None:
    prompt = "a thank-you card for bob@example.org with sunflowers"
    outcome = screen(prompt, analyzer.analyze(prompt), DEFAULT_POLICY, PresidioRedactor())
    assert not outcome.rejected
    assert outcome.redacted_prompt == "a thank-you card for <EMAIL_ADDRESS> with sunflowers"


def test_shared_analyzer_is_loaded_once(analyzer: PresidioAnalyzer) -> None:
    assert shared_analyzer() is analyzer
    assert shared_analyzer(DEFAULT_MODEL) is analyzer


def test_refuses_a_model_that_is_not_installed() -> None:
    with pytest.raises(ModelNotInstalledError):
        PresidioAnalyzer("en_core_web_not_installed")


@pytest.fixture
def network_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """Records and refuses every DNS lookup and connect made during the test."""
    calls: list[Any] = []

    def refuse_connect(_sock: socket.socket, address: Any) -> None:
        calls.append(("connect", address))
        raise OSError("network is blocked in this test")

    def refuse_lookup(*args: Any, **_kwargs: Any) -> Any:
        calls.append(("getaddrinfo", args))
        raise OSError("network is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    # A fresh, empty stock extractor: if anything used tldextract's module-level
    # extractor it would try to fetch the suffix list, and we would see it.
    monkeypatch.setattr(
        tldextract.tldextract,
        "TLD_EXTRACTOR",
        tldextract.TLDExtract(cache_dir=str(tmp_path / "tld-cache")),
    )
    return calls


def test_loads_and_analyzes_with_the_network_blocked(network_calls: list[Any]) -> None:
    fresh = PresidioAnalyzer()
    text = "mail ops@example.com.au or visit https://www.example.com/gallery"
    assert {"EMAIL_ADDRESS", "URL"} <= _types(fresh, text)
    assert network_calls == []


def test_context_words_still_raise_a_findings_score(analyzer: PresidioAnalyzer) -> None:
    """The spaCy pipeline runs NER alone; Presidio's context words must still count."""

    def ip_score(text: str) -> float:
        [address] = [f for f in analyzer.analyze(text) if f.entity_type == "IP_ADDRESS"]
        return address.score

    assert ip_score("a network diagram with the server ip 10.20.30.40") > ip_score(
        "a network diagram with 10.20.30.40 in the corner"
    )


def test_the_ner_multiplies_through_single_threaded_openblas() -> None:
    """BLIS took a third longer on a prompt's small matrices (see `NerOnlySpacyEngine`)."""
    engine = NerOnlySpacyEngine(models=[{"lang_code": LANGUAGE, "model_name": DEFAULT_MODEL}])
    engine.load()
    nlp = cast(dict[str, Language], engine.nlp)[LANGUAGE]
    models = [pipe.model for _, pipe in nlp.pipeline if hasattr(pipe, "model")]
    assert models
    for model in models:
        for layer in model.walk():
            assert isinstance(layer.ops, NumpyOps)
            assert not layer.ops.use_blis, layer.name
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas
    assert all(pool["num_threads"] == 1 for pool in blas)
