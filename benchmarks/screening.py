"""How long the worst prompts take to screen, with Presidio's stock patterns and ours.

    python -m benchmarks.screening               # stock as the peer, then ours, 3 rounds
    python -m benchmarks.screening --skip-stock  # ours only (the stock run takes minutes)

Each prompt of tests/data/screening_adversarial.jsonl (4,000 characters each, built to
be each recognizer's worst case) is screened in this process with `screen_text`, as the
pipeline screens it but without the process pool and its deadline: what is measured is
the work itself. One sample is the CPU time of one call on this thread (wall time
follows the machine's load; it is printed too). The stock analyzer is the platform's
as it was: Presidio's own URL and e-mail patterns, its context enhancer, and spaCy
reading the whole text; it runs each prompt once.

Below the timings, the labelled corpus's precision and recall table, for the stock
analyzer and ours: the fix must find what the stock patterns found.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from presidio_analyzer import EntityRecognizer
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import EmailRecognizer, UrlRecognizer

from adapters.presidio_analyzer import PresidioAnalyzer, default_recognizers
from adapters.presidio_redactor import PresidioRedactor
from adapters.web_recognizers import OfflineEmailRecognizer, UrlOutsideEmailRecognizer
from domain.screening import DEFAULT_POLICY
from services.screening import screen_text
from tests.contract.test_screening_corpus import corpus_table, evaluate, load_corpus

ADVERSARIAL = Path(__file__).parents[1] / "tests" / "data" / "screening_adversarial.jsonl"
BOUND_MS = 250.0


@dataclass(frozen=True)
class Sample:
    prompt_id: str
    cpu_ms: float
    wall_ms: float


def adversarial_prompts() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in ADVERSARIAL.read_text("utf-8").splitlines()]
    return [(row["id"], row["text"]) for row in rows]


def stock_recognizers() -> list[EntityRecognizer]:
    """The platform's recognizers with Presidio's own URL and e-mail patterns."""
    ours = (OfflineEmailRecognizer, UrlOutsideEmailRecognizer)
    kept = [r for r in default_recognizers() if not isinstance(r, ours)]
    return [
        *kept,
        OfflineEmailRecognizer(patterns=EmailRecognizer.PATTERNS),
        UrlOutsideEmailRecognizer(patterns=UrlRecognizer.PATTERNS),
    ]


def stock_analyzer() -> PresidioAnalyzer:
    """The analyzer as it was: stock patterns, Presidio's enhancer, spaCy reading all."""
    analyzer = PresidioAnalyzer(recognizers=stock_recognizers())
    engine = analyzer._engine  # the benchmark's peer only: the platform has no switch
    engine.context_aware_enhancer = LemmaContextAwareEnhancer()
    nlp_engine = engine.nlp_engine
    assert isinstance(nlp_engine, SpacyNlpEngine)
    nlp_engine.process_text = functools.partial(SpacyNlpEngine.process_text, nlp_engine)  # type: ignore[method-assign]
    return analyzer


def measure(analyzer: PresidioAnalyzer, prompts: Sequence[tuple[str, str]]) -> list[Sample]:
    redactor = PresidioRedactor()
    samples = []
    for prompt_id, text in prompts:
        cpu, wall = time.thread_time(), time.perf_counter()
        screen_text(text, DEFAULT_POLICY, analyzer=analyzer, redactor=redactor)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        samples.append(Sample(prompt_id, cpu * 1000, wall * 1000))
    return samples


def _fresh(prompts: Sequence[tuple[str, str]], round_: int) -> list[tuple[str, str]]:
    """`prompts` as no earlier round saw them: the tokenizer's cache would help."""
    if round_ == 0:
        return list(prompts)
    mark = chr(0x2460 + round_)  # a circled digit, a symbol of its own at each end
    return [(pid, mark + text[1:-1] + mark) for pid, text in prompts]


def _p99(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def report(name: str, samples: Sequence[Sample]) -> str:
    cpu = [s.cpu_ms for s in samples]
    worst = max(samples, key=lambda s: s.cpu_ms)
    slowest = sorted(samples, key=lambda s: -s.cpu_ms)[:5]
    over = sum(1 for s in samples if s.cpu_ms > BOUND_MS)
    return "\n".join(
        [
            f"{name}: {len(samples)} samples, CPU ms: p50 {statistics.median(cpu):.1f}  "
            f"p99 {_p99(cpu):.1f}  worst {worst.cpu_ms:.1f} ({worst.prompt_id}, wall "
            f"{worst.wall_ms:.1f});  over {BOUND_MS:.0f} ms: {over}",
            "  slowest: "
            + ", ".join(f"{s.prompt_id} {s.cpu_ms:.0f} (wall {s.wall_ms:.0f})" for s in slowest),
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of our analyzer")
    parser.add_argument("--skip-stock", action="store_true", help="measure ours only")
    args = parser.parse_args(argv)
    prompts = adversarial_prompts()
    corpus = load_corpus()
    ours = PresidioAnalyzer()
    # Warm, on text of its own: spaCy's tokenizer caches each word it has split, so a
    # prompt seen before would be cheaper than an attacker's fresh one.
    measure(ours, [("warm-up", "a watercolour of Jane Citizen at jane@example.com")])
    tables = []
    if not args.skip_stock:
        stock = stock_analyzer()
        print(report("BEFORE (stock patterns, enhancer and tokenizing)", measure(stock, prompts)))
        tables.append(("BEFORE", corpus_table(evaluate(corpus, stock), corpus)))
    samples = [s for r in range(args.rounds) for s in measure(ours, _fresh(prompts, r))]
    print(report("AFTER", samples))
    tables.append(("AFTER", corpus_table(evaluate(corpus, ours), corpus)))
    for name, table in tables:
        print(f"\n{name}, labelled corpus (the table of tests/contract/test_screening_corpus.py)")
        print(table.split("\nmissed:")[0])


if __name__ == "__main__":
    main()
