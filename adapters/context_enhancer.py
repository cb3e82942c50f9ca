"""Presidio's context enhancer, with the words around each finding found by bisection.

Presidio raises a finding's score when a context word ("phone", "email") is among the
few keywords before or after it. To find them, its LemmaContextAwareEnhancer walks the
prompt's tokens from the first one for every finding, then walks on from the finding
until it has met enough keywords, testing each lemma against a list: a prompt with
hundreds of findings among thousands of tokens took seconds (266 IP addresses, 2.8 s).
This one indexes the token ends and the keyword positions once per prompt, then finds
each finding's token and its neighbouring keywords by bisection. The words it collects
are the same.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts


@dataclass(frozen=True, slots=True)
class _TokenIndex:
    ends: list[int]  # where each token ends in the text
    keyword_at: list[int]  # the tokens whose lemma is a keyword, in order
    lemmas: list[str]  # lowercased

    @classmethod
    def of(cls, artifacts: NlpArtifacts) -> _TokenIndex:
        keywords = set(artifacts.keywords)
        lemmas = [lemma.lower() for lemma in artifacts.lemmas]
        ends = [
            start + len(token)
            for start, token in zip(artifacts.tokens_indices, artifacts.tokens, strict=True)
        ]
        return cls(ends, [i for i, lemma in enumerate(lemmas) if lemma in keywords], lemmas)

    def around(self, start: int, before: int, after: int) -> list[str]:
        # The finding's token is the first one ending past its start.
        token = bisect.bisect_right(self.ends, start)
        if token == len(self.ends):
            raise ValueError(f"no token at position {start}")
        # Each side may count the finding's own token, as Presidio's does (a context
        # word run into the entity): up to n + 1 keywords from it outwards.
        first_after = bisect.bisect_left(self.keyword_at, token)
        last_before = bisect.bisect_right(self.keyword_at, token)
        backward = self.keyword_at[max(0, last_before - before - 1) : last_before]
        forward = self.keyword_at[first_after : first_after + after + 1]
        return [self.lemmas[i] for i in (*backward, *forward)]


class IndexedContextEnhancer(LemmaContextAwareEnhancer):
    """LemmaContextAwareEnhancer in time linear in the tokens plus the findings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._index: _TokenIndex | None = None

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        # The index lives for one call; the analyzer is not shared between threads.
        if nlp_artifacts is not None and nlp_artifacts.tokens:
            self._index = _TokenIndex.of(nlp_artifacts)
        try:
            results: list[RecognizerResult] = super().enhance_using_context(
                text, raw_results, nlp_artifacts, recognizers, context
            )
        finally:
            self._index = None
        return results

    def _extract_surrounding_words(
        self, nlp_artifacts: NlpArtifacts, word: str, start: int
    ) -> list[str]:
        if self._index is None:
            return [""]
        words = self._index.around(start, self.context_prefix_count, self.context_suffix_count)
        return list(set(words))
