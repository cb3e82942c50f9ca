"""Precision and recall of the real analyzer and policy over the labelled prompt corpus.

A finding counts when its score reaches the policy's `min_score` for its type; it is a
true positive when a labelled entity of the same type overlaps its span. A prompt is
falsely blocked when it holds no personal data (clean or near-miss) and `screen()`
rejects it: the corpus holds no blocked content terms, so any rejection of such a
prompt is a false block. The table is printed so it shows in the CI log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from adapters.pii_recognizers import (
    abn_is_valid,
    acn_is_valid,
    card_is_valid,
    medicare_is_valid,
    tfn_is_valid,
)
from adapters.presidio_analyzer import shared_analyzer
from domain.screening import DEFAULT_POLICY, screen
from services.ports import PiiAnalyzer

CORPUS = Path(__file__).parents[1] / "data" / "screening_corpus.jsonl"

# Every type the analyzer reports that the policy may act on. DATE_TIME, NRP and
# LOCATION (places: "Uluru", "Bondi Beach at sunrise") are reported too but are not
# personal data to this platform, so they are not scored; street addresses are.
SCORED_TYPES = (
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "PHONE_NUMBER",
    "AU_TFN",
    "AU_MEDICARE",
    "AU_ABN",
    "AU_ACN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "URL",
    "US_SSN",
    "PERSON",
    "AU_STREET_ADDRESS",
)
RECALL_FLOORS = {
    "EMAIL_ADDRESS": 0.95,
    "CREDIT_CARD": 0.95,
    "PHONE_NUMBER": 0.95,
    "AU_TFN": 0.95,
    "AU_MEDICARE": 0.95,
    "AU_ABN": 0.95,
    "PERSON": 0.90,
    "AU_STREET_ADDRESS": 0.95,
}
FALSE_BLOCK_CEILING = 0.02


@dataclass(frozen=True)
class Label:
    entity_type: str
    start: int
    end: int


@dataclass(frozen=True)
class Prompt:
    id: str
    kind: str
    text: str
    labels: tuple[Label, ...]


def load_corpus() -> list[Prompt]:
    prompts = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        labels, searched_from = [], dict[str, int]()
        for entity in row["entities"]:
            # Repeated values label successive occurrences.
            start = row["text"].index(entity["text"], searched_from.get(entity["text"], 0))
            searched_from[entity["text"]] = start + 1
            labels.append(Label(entity["type"], start, start + len(entity["text"])))
        prompts.append(Prompt(row["id"], row["kind"], row["text"], tuple(labels)))
    return prompts


@dataclass
class Tally:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float | None:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else None

    @property
    def recall(self) -> float | None:
        labelled = self.true_positives + self.false_negatives
        return self.true_positives / labelled if labelled else None


@dataclass
class Evaluation:
    tallies: dict[str, Tally] = field(default_factory=lambda: {t: Tally() for t in SCORED_TYPES})
    without_personal_data: int = 0
    falsely_blocked: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    @property
    def false_block_rate(self) -> float:
        return len(self.falsely_blocked) / self.without_personal_data


class Span(Protocol):
    @property
    def entity_type(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


class Detection(Span, Protocol):
    """What the analyzer reports (domain.screening.Finding), as far as we read it."""

    @property
    def score(self) -> float: ...


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _counted(findings: Iterable[Detection]) -> list[Detection]:
    return [
        f
        for f in findings
        if f.entity_type in SCORED_TYPES
        and f.score >= DEFAULT_POLICY.rule_for(f.entity_type).min_score
    ]


def evaluate(prompts: list[Prompt], analyzer: PiiAnalyzer | None = None) -> Evaluation:
    """Scores `analyzer` (the shared one unless given) on `prompts`: for benchmarks too."""
    analyzer = analyzer or shared_analyzer()
    evaluation = Evaluation()
    for prompt in prompts:
        findings = analyzer.analyze(prompt.text)
        counted = _counted(findings)
        for label in prompt.labels:
            tally = evaluation.tallies[label.entity_type]
            if any(f.entity_type == label.entity_type and _overlaps(f, label) for f in counted):
                tally.true_positives += 1
            else:
                tally.false_negatives += 1
                value = prompt.text[label.start : label.end]
                evaluation.misses.append(f"{prompt.id} {label.entity_type} {value!r}")
        for f in counted:
            if not any(f.entity_type == g.entity_type and _overlaps(f, g) for g in prompt.labels):
                evaluation.tallies[f.entity_type].false_positives += 1
                value = prompt.text[f.start : f.end]
                evaluation.false_alarms.append(f"{prompt.id} {f.entity_type} {value!r}")
        if prompt.kind != "entity":
            evaluation.without_personal_data += 1
            outcome = screen(prompt.text, findings, DEFAULT_POLICY)
            if outcome.rejected:
                evaluation.falsely_blocked.append(f"{prompt.id} ({outcome.reason})")
    return evaluation


def _ratio(value: float | None) -> str:
    return "   -" if value is None else f"{value:.3f}"


def corpus_table(evaluation: Evaluation, prompts: list[Prompt]) -> str:
    lines = [
        f"Screening corpus: {len(prompts)} prompts, policy {DEFAULT_POLICY.version}",
        f"{'entity type':<17} {'min':>4} {'TP':>4} {'FP':>4} {'FN':>4} {'prec':>6} "
        f"{'recall':>6} {'floor':>6}",
    ]
    for entity_type, t in evaluation.tallies.items():
        floor = RECALL_FLOORS.get(entity_type)
        lines.append(
            f"{entity_type:<17} {DEFAULT_POLICY.rule_for(entity_type).min_score:>4.2f} "
            f"{t.true_positives:>4} {t.false_positives:>4} {t.false_negatives:>4} "
            f"{_ratio(t.precision):>6} {_ratio(t.recall):>6} "
            f"{'' if floor is None else f'{floor:.2f}':>6}"
        )
    lines.append(
        f"false-block rate (clean + near-miss): {len(evaluation.falsely_blocked)}"
        f"/{evaluation.without_personal_data} = {evaluation.false_block_rate:.3%}"
        f" (ceiling {FALSE_BLOCK_CEILING:.0%})"
    )
    for heading, items in (
        ("falsely blocked", evaluation.falsely_blocked),
        ("missed", evaluation.misses),
        ("false alarms", evaluation.false_alarms),
    ):
        lines += [f"{heading}:"] + [f"  {item}" for item in items]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def prompts() -> list[Prompt]:
    return load_corpus()


def test_the_corpus_is_large_varied_and_labelled_by_exact_substring() -> None:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300
    assert len({r["id"] for r in rows}) == len(rows)
    kinds = [r["kind"] for r in rows]
    assert kinds.count("clean") >= 100
    assert kinds.count("near_miss") >= 50
    for row in rows:
        assert row["kind"] in {"clean", "entity", "near_miss"}, row["id"]
        assert bool(row["entities"]) == (row["kind"] == "entity"), row["id"]
        for entity in row["entities"]:
            assert entity["type"] in SCORED_TYPES, row["id"]
            assert entity["text"], row["id"]
            assert entity["text"] in row["text"], row["id"]
    labelled = {e["type"] for r in rows for e in r["entities"]}
    assert labelled == set(SCORED_TYPES)


def test_every_labelled_number_with_check_digits_passes_them() -> None:
    """So a miss in the table is the recognizer's, never a mistyped label."""
    checks = {
        "AU_TFN": tfn_is_valid,
        "AU_MEDICARE": medicare_is_valid,
        "AU_ABN": abn_is_valid,
        "AU_ACN": acn_is_valid,
        "CREDIT_CARD": card_is_valid,
    }
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    checked = [
        (row["id"], entity["text"], checks[entity["type"]])
        for row in rows
        for entity in row["entities"]
        if entity["type"] in checks
    ]
    assert len(checked) >= 90
    failing = [(i, text) for i, text, check in checked if not check(re.sub(r"\D", "", text))]
    assert failing == []


def test_precision_and_recall_meet_the_floors(
    prompts: list[Prompt], capsys: pytest.CaptureFixture[str]
) -> None:
    evaluation = evaluate(prompts)
    with capsys.disabled():
        print("\n" + corpus_table(evaluation, prompts))

    below = {
        entity_type: evaluation.tallies[entity_type].recall
        for entity_type, floor in RECALL_FLOORS.items()
        if (evaluation.tallies[entity_type].recall or 0.0) < floor
    }
    assert below == {}
    assert evaluation.false_block_rate <= FALSE_BLOCK_CEILING, evaluation.falsely_blocked
