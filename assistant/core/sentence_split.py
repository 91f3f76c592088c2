"""The one sentence splitter: where abstracts and answers break into sentences.

Sentences are found by NLTK's Punkt, with the English model that llama-index-core ships
for its own splitter (its ``_static/nltk_cache``; NLTK's data path is the fallback), and
the abbreviations of papers added ("e.g.", "i.e.", "et al.", "Fig.", "vs.", "approx.",
"w.r.t.", …). Punkt decides by what follows a period: a sentence may start with a
lowercase name or a digit ("… modules. m2mKD combines …", "… tasks. 3D point clouds …"),
while an abbreviation ends one only before a word that usually starts sentences ("…,
etc. The survey …", not "Chen et al. shows"). Single letters are not abbreviations here
(a variable ends a sentence: "… length L. The …"); an initial is still one when the next
word is a name ("C. elegans", "J. Smith"). Citation markers after the period stay with
their sentence ("… 102 FPS. [1] It …"). Evaluated on eval/sentences_dev.jsonl
(``benchmarks/sentence_bench.py``).

It lives in the core because ingest needs it too: ingest embeds each abstract sentence
once (:mod:`assistant.core.sentence_vectors`), and the extractive answerer must cut
abstracts exactly as ingest did to find those vectors. The text toolkit
(:mod:`assistant.text.sentences`) re-exports it and adds the cutting of answers into claims.

NLTK is imported when Punkt is first needed (:func:`load_punkt`), not with this module, and
without the optional libraries its package init tries: ``import nltk`` imports
``scipy.stats`` (for a collocation measure) and scikit-learn with pandas (for a classifier
wrapper), seconds that Punkt never uses and the web app's first answer would wait for.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

MIN_SENTENCE_CHARS = 25  # shorter fragments ("Code: see below.") are not worth quoting

# Punkt's types: lower case, without the final period ("et al." is "al").
ABBREVIATIONS = frozenset(
    "e.g i.e al etc cf vs v.s viz resp approx ca incl esp w.r.t i.i.d "
    "fig figs eq eqs sec secs tab app thm ref refs".split()
)
# Capitalised after an abbreviation, these start a sentence ("…, resp. We propose …");
# the English model, trained on news, has "the", "this", "in" … but not these.
SENTENCE_STARTERS = frozenset({"we", "our"})

_PUNKT_MODEL = "tokenizers/punkt_tab/english/"
MARKER = r"\[\d+(?:\s*[,;]\s*\d+)*\]"  # a citation marker: [1], [1, 2], [3; 4]
_MARKERS = re.compile(rf"(?:{MARKER}\s*)+")
_MARKER_ENDS = re.compile(rf"[.!?]\s*(?:{MARKER}\s*)+(?=[A-Z])")


# Imported by ``nltk``'s package init only inside ``try: … except ImportError``, for parts of
# NLTK this module never calls (Fisher's exact test, the scikit-learn classifier wrapper).
NLTK_OPTIONAL = ("scipy.stats", "sklearn")
_NLTK_IMPORT = threading.Lock()


def _import_nltk() -> None:
    """Import NLTK's Punkt with :data:`NLTK_OPTIONAL` held back (each import fails as if not
    installed, for that moment only; later imports of them work as usual). Nothing else in
    the app imports them (not the engine, not Gradio), so a thread importing at the same
    moment, as the page does during a first-start ingest, is not affected."""
    if "nltk.tokenize.punkt" in sys.modules:
        return
    with _NLTK_IMPORT:
        held = [name for name in NLTK_OPTIONAL if name not in sys.modules]
        for name in held:
            sys.modules[name] = None  # type: ignore[assignment]  # "not installed"
        try:
            import nltk.tokenize.punkt  # noqa: F401
        finally:
            for name in held:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]


def _bundled_nltk_data() -> list[str]:
    """llama-index-core's own copy of the NLTK data (found without importing it)."""
    spec = importlib.util.find_spec("llama_index.core")
    locations = spec.submodule_search_locations if spec else None
    return [str(Path(location) / "_static" / "nltk_cache") for location in locations or []]


def _english_parameters() -> PunktParameters:
    import nltk.data
    from nltk.data import find
    from nltk.tokenize.punkt import load_punkt_params

    bundled = _bundled_nltk_data()
    # NLTK opens data files only under its data path: add llama-index's copy, as
    # llama-index itself does before splitting.
    nltk.data.path.extend(p for p in bundled if p not in nltk.data.path)
    for paths in (bundled, None):  # None: NLTK's whole data path
        try:
            return load_punkt_params(find(_PUNKT_MODEL, paths=paths))
        except LookupError:
            continue
    raise LookupError(
        "NLTK's English Punkt model (punkt_tab) was not found: it ships with "
        "llama-index-core; or run python -m nltk.downloader punkt_tab"
    )


@cache
def _tokenizer() -> PunktSentenceTokenizer:
    _import_nltk()
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    params = _english_parameters()
    params.abbrev_types = {a for a in params.abbrev_types if len(a) > 1} | ABBREVIATIONS
    params.sent_starters = set(params.sent_starters) | SENTENCE_STARTERS
    return PunktSentenceTokenizer(params)


def load_punkt() -> None:
    """Import NLTK and load the English model now rather than at the first split: the web
    app does it while its engine starts, so its first answer does not wait for it."""
    _tokenizer()


@lru_cache(maxsize=4096)  # the same abstracts are split for question after question
def _spans(text: str) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    for start, end in _tokenizer().span_tokenize(text):
        start += len(text[start:end]) - len(text[start:end].lstrip())
        # "… etc. [2] Neither …": a marker after the period ends the sentence too.
        cut = start
        for found in _MARKER_ENDS.finditer(text, start, end):
            spans.append((cut, found.start() + len(found.group().rstrip())))
            cut = found.end()
        # "… 102 FPS. [1] It …": markers that open a sentence close the one before.
        markers = _MARKERS.match(text, cut, end)
        if spans and markers:
            spans[-1] = (spans[-1][0], cut + len(markers.group().rstrip()))
            cut = markers.end()
        if cut < end:
            spans.append((cut, end))
    return tuple(spans)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; the whitespace around them belongs to none."""
    return list(_spans(text))


def split_sentences(text: str) -> list[str]:
    """The sentences of an abstract worth quoting (``MIN_SENTENCE_CHARS`` or longer)."""
    sentences = (text[start:end] for start, end in _spans(text))
    return [s for s in sentences if len(s) >= MIN_SENTENCE_CHARS]


def quotable_sentences(abstract: str) -> list[str]:
    """The sentences an extractive answer chooses from: ``split_sentences``, or the whole
    abstract when none is long enough. Ingest embeds exactly these, so the ranker finds a
    stored vector for each."""
    return split_sentences(abstract) or [abstract]
