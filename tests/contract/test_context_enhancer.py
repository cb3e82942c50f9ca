"""The indexed context enhancer collects the words Presidio's own collects, faster."""

from __future__ import annotations

import json
from pathlib import Path

from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

from adapters.context_enhancer import IndexedContextEnhancer, _TokenIndex
from adapters.presidio_analyzer import shared_analyzer

CORPUS = Path(__file__).parents[1] / "data" / "screening_corpus.jsonl"


def test_the_words_around_every_token_are_presidios() -> None:
    engine = shared_analyzer()._engine  # the real NLP engine, as the analyzer runs it
    stock, ours = LemmaContextAwareEnhancer(), IndexedContextEnhancer()
    rows = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines()]
    compared = 0
    for row in rows[::4]:
        artifacts = engine.nlp_engine.process_text(row["text"], "en")
        index = _TokenIndex.of(artifacts)
        for start in artifacts.tokens_indices:
            expected = stock._extract_surrounding_words(artifacts, "", start)
            found = index.around(start, ours.context_prefix_count, ours.context_suffix_count)
            assert sorted(set(found)) == sorted(expected), (row["id"], start)
            compared += 1
    assert compared > 1000


def test_the_analyzer_uses_it() -> None:
    assert isinstance(shared_analyzer()._engine.context_aware_enhancer, IndexedContextEnhancer)
