"""Premise checks: what a question takes for granted that the indexed papers do not bear out.

A retrieval engine answers "Why does DDRNet reach 85.2% mIoU?" with DDRNet's abstract, as
if the figure were right. These checks run after retrieval and before any answer is
written, and each one that fires becomes a clear reply instead of a silent answer:

- ``figures``: numbers the question states (with their units: "99%", "100x") that no
  retrieved paper reports, or, when the question names its paper by a rare word of the
  title ("FlexiBERT-Mini"), that this paper does not report (its own figures are quoted
  back);
- ``absent_paper``: a paper named by its quoted title that is not indexed, or a name
  the corpus never mentions at all (the closest papers are offered);
- ``uncovered``: a combination no single indexed paper covers — a good share of the
  question's wording (idf-weighted) is missing from the matched paper but used by other
  retrieved papers ("hyperdimensional computing" + "remote-sensing segmentation"), or the
  question names a method by the name another paper's title carries ("TimesNet") while
  the rest of it matches a different paper, or the words the matched paper does not use
  ("video frames", "streaming" asked of an audio codec), read on their own, are much
  closer in meaning to another paper than to the matched one. This signal is weaker than
  the others, so it does not replace the answer: the answer comes with a caution naming
  the papers that cover each part. It is not raised on questions that ask for several
  papers (a topic is meant to span papers), nor judged on a few words ("How far did they
  scale it?": a follow-up's "far" proves nothing).

Detection only: each check returns :class:`PremiseFinding` data (the kind, the rule that
fired, the papers and words involved); the compose step words them (``prompts/premise_*``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from assistant.answer import PremiseKind
from assistant.catalog import PaperCatalog
from assistant.core.schema import Paper
from assistant.hits import PaperHit
from assistant.text.figures import (
    RESULT_UNITS,
    as_written,
    holds_figures,
    reports,
    result_with_unit,
    stated_figures,
    unit_of,
)
from assistant.text.phrasing import (
    asks_for_papers,
    compares,
    looks_like_title,
    quoted_passages,
)
from assistant.text.sentences import split_sentences
from assistant.text.words import (
    FRAMING_WORDS,
    is_acronym,
    loose_words,
    names_in,
    side_by_side,
    words_of,
)
from assistant.tuning import PremisesTuning
from assistant.vocabulary import Vocabulary

# Which rule found the issue: the compose step words each one (prompts/premise_<rule>.txt).
PremiseRule = Literal[
    "quoted_title",
    "unknown_names",
    "mispaired_figures",
    "missing_figures",
    "named_elsewhere",
    "split_wording",
    "rest_by_words",
    "rest_by_phrase",
]


@dataclass(frozen=True)
class PremiseFinding:
    """One thing the question takes for granted that the papers do not bear out.

    ``values`` are what the wording needs: titles, names, figures as the question wrote
    them (strings, or lists of them)."""

    kind: PremiseKind
    rule: PremiseRule
    values: dict[str, str | list[str]] = field(default_factory=dict)


# (text, paper ids to include however far) → paper_id → similarity
NearestPapers = Callable[[str, Collection[str]], dict[str, float]]
# (term, next term, how many papers at most) → the papers using that phrase, or None
PhrasePapers = Callable[[str, str, int], set[str] | None]


@dataclass(frozen=True)
class Lookups:
    """What the remainder rules ask of the index, through the query state (memoised)."""

    nearest: NearestPapers
    phrase_papers: PhrasePapers


class PremiseChecker:
    """Finds false premises in a question, given the papers retrieved for it."""

    def __init__(self, vocabulary: Vocabulary, catalog: PaperCatalog, tuning: PremisesTuning):
        self.vocabulary = vocabulary
        self.catalog = catalog
        self.tuning = tuning
        self._framing = {vocabulary.stem(word) for word in FRAMING_WORDS}

    def check(
        self, question: str, hits: Sequence[PaperHit], lookups: Lookups | None = None
    ) -> list[PremiseFinding]:
        """Findings that replace the answer (absent papers, figures) or, failing those, the
        ``uncovered`` caution that comes with it. ``lookups``: how to ask the index which
        paper a part of the question is about (without them the remainder rule is off)."""
        findings = self.absent_titles(question)
        if findings or not hits:
            return findings
        return self.figures(question, hits) or self.uncovered(question, hits, lookups)

    # --- papers named that are not indexed -------------------------------------------
    def absent_titles(self, question: str) -> list[PremiseFinding]:
        return [
            PremiseFinding("absent_paper", "quoted_title", {"quoted": quoted})
            for quoted in quoted_passages(question)
            if looks_like_title(quoted) and not self._indexed_title(quoted)
        ]

    def _indexed_title(self, quoted: str) -> bool:
        return self.catalog.by_title(quoted) is not None or self.catalog.has_title_like(
            quoted, self.tuning.title_match
        )

    def unknown_names(self, question: str) -> list[PremiseFinding]:
        """Names the corpus never mentions ("YOLOv8", "InstructGPT")."""
        names, _ = self.vocabulary.unknown_terms(question)
        if not names:
            return []
        return [
            PremiseFinding("absent_paper", "unknown_names", {"names": list(dict.fromkeys(names))})
        ]

    # --- figures the matched paper does not report ------------------------------------
    def figures(self, question: str, hits: Sequence[PaperHit]) -> list[PremiseFinding]:
        figures = stated_figures(question)
        if not figures:
            return []
        named = self._named_hit(question, hits)
        top = named or hits[0]
        pairing = _mispaired(top.abstract, question, figures)
        if pairing:
            stated, other, instead = pairing
            values = {"title": top.title, "instead": instead, "stated": stated, "other": other}
            return [PremiseFinding("figures", "mispaired_figures", values)]
        # A question naming its paper is judged on that paper alone; otherwise the figures
        # may rightly belong to any retrieved paper (the best match is not always the one).
        judged = [named] if named else hits
        if any(_reports_all(hit.abstract, figures, question) for hit in judged):
            return []
        missing = [f for f in figures if not reports(top.abstract, f, unit_of(question, f))]
        values = {"title": top.title, "figures": as_written(question, missing)}
        return [PremiseFinding("figures", "missing_figures", values)]

    def subject(self, question: str, hits: Sequence[PaperHit]) -> PaperHit:
        """The retrieved paper the question is about: the one it names by a rare word of
        the paper's title ("FlexiBERT-Mini"), or else the best match."""
        return self._named_hit(question, hits) or hits[0]

    def _named_hit(self, question: str, hits: Sequence[PaperHit]) -> PaperHit | None:
        """The first retrieved paper the question names by a rare word of its title."""
        # a method named in a question by the name its own paper's title carries
        # ("TimesNet", "Poly-encoders")
        titled = {
            paper_id
            for _, stem in self._rare_names(question)
            for paper_id in self.catalog.titled(stem)
        }
        return next((hit for hit in hits if hit.paper_id in titled), None)

    def _rare_names(self, question: str) -> Iterator[tuple[str, str]]:
        """(name, the corpus term that identifies it) for each name in the question that
        few chunks use ("P2AT" → "p2at", "Poly-encoders" → "poli")."""
        for name in names_in(question):
            stem = self._rarest_term(name)
            if (
                stem is not None
                and 0 < self.vocabulary.frequencies[stem] <= self.tuning.rare_name_chunks
            ):
                yield name, stem

    # --- combinations no single paper covers ------------------------------------------
    def uncovered(
        self, question: str, hits: Sequence[PaperHit], lookups: Lookups | None = None
    ) -> list[PremiseFinding]:
        if len(hits) < 2 or asks_for_papers(question) or compares(question):
            return []  # several papers are asked for: one paper covering all is not expected
        used = [set(self.vocabulary.terms(f"{hit.title} {hit.abstract}")) for hit in hits]
        # Figures the best match reports pin the question to it: the words around them
        # ("by a factor of", "without losing") are phrasing, not a second subject, so the
        # wording rule is not asked; the rarer-evidence rules still are.
        figures = stated_figures(question)
        pinned = bool(figures) and _reports_all(hits[0].abstract, figures, question)
        return (
            self._named_elsewhere(question, hits, used)
            or ([] if pinned else self._split_wording(question, hits, used))
            or self._rest_elsewhere(question, hits[0], used[0], lookups)
        )

    def _named_elsewhere(
        self, question: str, hits: Sequence[PaperHit], used: Sequence[set[str]]
    ) -> list[PremiseFinding]:
        """The question names a rare method ("P2AT") whose paper is not the best match:
        the rest of the question is about something that paper does not cover.
        ``used[i]``: the terms of ``hits[i]``."""
        top = hits[0]
        for name, stem in self._rare_names(question):
            if stem in used[0]:
                continue
            named = next((h for h, terms in zip(hits[1:], used[1:]) if stem in terms), None)
            # not retrieved, but its own title carries the name (and no other title does)
            if named is None and len(titled := self.catalog.titled(stem, limit=2)) == 1:
                named = self.catalog.papers.get(titled[0])
            if named is not None:
                values = {"named": named.title, "method": name, "top": top.title}
                return [PremiseFinding("uncovered", "named_elsewhere", values)]
        return []

    def _rarest_term(self, name: str) -> str | None:
        """The corpus term that identifies a name: its rarest part ("Poly-encoders" →
        "poli"), or None when the corpus does not use it."""
        known = [t for t in self.vocabulary.terms(name) if t in self.vocabulary.frequencies]
        return min(known, key=self.vocabulary.frequencies.__getitem__, default=None)

    def _judged_terms(self, question: str) -> list[str]:
        """The question's topic terms (no framing words, no figures); none when there are
        too few to judge its wording by."""
        terms = [
            t
            for t in dict.fromkeys(self.vocabulary.terms(question))
            if t not in self._framing and not t[0].isdigit()
        ]
        return terms if len(terms) >= self.tuning.min_judged_terms else []

    def _split_wording(
        self, question: str, hits: Sequence[PaperHit], used: Sequence[set[str]]
    ) -> list[PremiseFinding]:
        terms = self._judged_terms(question)
        if not terms:
            return []
        top = hits[0]
        elsewhere: dict[str, PaperHit] = {}
        for hit, hit_terms in zip(hits[1:], used[1:]):
            for term in terms:
                if term not in used[0] and term in hit_terms:
                    elsewhere.setdefault(term, hit)
        if self.vocabulary.share(terms, elsewhere) < self.tuning.uncovered_share:
            return []
        words = [w for w in words_of(question) if self.vocabulary.stem(w) in elsewhere]
        values = {
            "top": top.title,
            "words": list(dict.fromkeys(words)),
            "others": list(dict.fromkeys(hit.title for hit in elsewhere.values())),
        }
        return [PremiseFinding("uncovered", "split_wording", values)]

    def _rest_elsewhere(
        self, question: str, top: PaperHit, top_terms: set[str], lookups: Lookups | None
    ) -> list[PremiseFinding]:
        """The words of the question that the matched paper does not use, read on their
        own, are about another paper: "How does SemantiCodec tokenise video frames for
        video streaming?" leaves "tokenise video frames video streaming", far closer to
        video papers than to an audio codec. A genuine question leaves framing ("how
        much", "beat", "variant"), which is close to no paper in particular.

        Either the other paper uses ``rest_min_terms`` of those words and is ``rest_gap``
        closer, or it uses a phrase of the question that holds one of them ("graph neural"
        in "… to design graph neural networks") and is ``phrase_gap`` closer."""
        if lookups is None or not (judged := set(self._judged_terms(question))):
            return []
        tuning = self.tuning
        rest = [  # (word, its terms)
            (word, terms)
            for word in loose_words(question)
            if (terms := self.vocabulary.terms(word))
            and all(t in judged and t not in top_terms for t in terms)
            and not is_acronym(word)  # "CNN": the paper may spell it out
        ]
        rest_terms = {t for _, terms in rest for t in terms}
        phrases: dict[str, set[str]] | None = None
        if len(rest_terms) < tuning.rest_min_terms:
            phrases = self._phrases_elsewhere(question, rest_terms, lookups)
            if not phrases:  # one word a paraphrase chose ("attention" for "Transformer")
                return []
        nearest = lookups.nearest(" ".join(word for word, _ in rest), (top.paper_id,))
        matched = nearest.pop(top.paper_id, -1.0)
        by_words = self._closer_by_words(nearest, matched, rest_terms)
        if by_words is not None:
            paper, shared = by_words
            words = [word.lower() for word, terms in rest if shared.intersection(terms)]
            values = {"top": top.title, "words": list(dict.fromkeys(words)), "paper": paper.title}
            return [PremiseFinding("uncovered", "rest_by_words", values)]
        if phrases is None:
            phrases = self._phrases_elsewhere(question, rest_terms, lookups)
        users = {paper_id for papers in phrases.values() for paper_id in papers}
        near = {
            paper_id: sim
            for paper_id, sim in nearest.items()
            if paper_id in users and paper_id in self.catalog.papers  # not stored since load
        }
        other = max(near, key=near.__getitem__, default=None)
        if (
            other is None
            or near[other] < tuning.rest_match
            or near[other] - matched < tuning.phrase_gap
        ):
            return []
        values = {
            "top": top.title,
            "phrases": [phrase for phrase, papers in phrases.items() if other in papers],
            "other": self.catalog.papers[other].title,
        }
        return [PremiseFinding("uncovered", "rest_by_phrase", values)]

    def _closer_by_words(
        self, nearest: dict[str, float], matched: float, rest_terms: set[str]
    ) -> tuple[Paper, set[str]] | None:
        """The paper nearest the leftover words when it is ``rest_match`` similar,
        ``rest_gap`` closer than the matched paper and uses ``rest_min_terms`` of them;
        with those terms."""
        tuning = self.tuning
        if len(rest_terms) < tuning.rest_min_terms or not nearest:
            return None
        other = max(nearest, key=nearest.__getitem__)
        paper = self.catalog.papers.get(other)
        if (
            paper is None
            or nearest[other] < tuning.rest_match
            or nearest[other] - matched < tuning.rest_gap
        ):
            return None
        # in words too: "across … take" is near "Cross-Subject fMRI" in meaning only
        shared = rest_terms.intersection(self.vocabulary.terms(f"{paper.title} {paper.abstract}"))
        return (paper, shared) if len(shared) >= tuning.rest_min_terms else None

    def _phrases_elsewhere(
        self, question: str, rest_terms: set[str], lookups: Lookups
    ) -> dict[str, set[str]]:
        """The question's two-word phrases ("graph neural"), side by side as written, that
        hold a leftover term (so the matched paper never uses them) and that between
        ``phrase_papers_min`` and ``phrase_papers_max`` other papers use: the phrase as the
        question words it → those papers."""
        low, high = self.tuning.phrase_papers_min, self.tuning.phrase_papers_max
        tokens = self.vocabulary.tokens(question)
        found: dict[str, set[str]] = {}
        for (first, a), (second, b) in zip(tokens, tokens[1:]):
            if not rest_terms.intersection((a, b)) or a[0].isdigit() or b[0].isdigit():
                continue
            if not side_by_side(question, first, second):  # not across words
                continue
            # never the matched paper: it lacks a or b
            papers = lookups.phrase_papers(a, b, high)
            if papers is not None and low <= len(papers) <= high:
                found[f"{first} {second}"] = papers
        return found

    def reported_figures(self, question: str, paper: PaperHit) -> str:
        """The paper's sentences that state figures, those closest to the question first."""
        asked = set(self.vocabulary.terms(question))
        with_figures = [s for s in split_sentences(paper.abstract) if stated_figures(s)]
        ranked = sorted(
            with_figures, key=lambda s: -len(asked.intersection(self.vocabulary.terms(s)))
        )
        chosen = set(ranked[: self.tuning.reported_sentences])
        return " ".join(s for s in with_figures if s in chosen)


def _reports_all(abstract: str, figures: Sequence[str], question: str) -> bool:
    """Every figure appears, with the unit the question gives it ("99%" is not "99 ms").

    Figures need not share a sentence: genuine questions combine figures from several
    ("fits one 80GB GPU with 256K context")."""
    return all(reports(abstract, figure, unit_of(question, figure)) for figure in figures)


def _mispaired(abstract: str, question: str, figures: Sequence[str]) -> tuple[str, str, str] | None:
    """A figure put with the wrong result: the question pairs figure A with B (a "%" or "x"
    figure), but the abstract's sentences with A state another figure of B's unit instead
    ("the 1.3M model reaches 79.4%" where the paper says 1.3M → 71.2%, 5.6M → 79.4%).
    Returns (A, B, what the paper pairs with A), as written."""
    sentences = split_sentences(abstract) or [abstract]
    for other in figures:
        unit = unit_of(question, other)
        if unit not in RESULT_UNITS:  # results are "%" or "x" figures
            continue
        for stated in figures:
            if stated == other:
                continue
            with_stated = [s for s in sentences if holds_figures(s, [stated])]
            if not with_stated or any(reports(s, other, unit) for s in with_stated):
                continue
            for sentence in with_stated:
                found = result_with_unit(sentence, unit)
                if found and found[0] != other:
                    return (
                        as_written(question, [stated])[0],
                        as_written(question, [other])[0],
                        found[1],
                    )
    return None


def replaces_answer(findings: Sequence[PremiseFinding]) -> bool:
    """Whether the findings replace the answer with a premise reply; an ``uncovered``
    caution alone comes with the answer instead."""
    return bool(findings) and findings[0].kind != "uncovered"
