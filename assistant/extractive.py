"""The no-LLM answer: the most relevant sentences of the top papers, quoted with citations.

Deterministic (same question, same corpus → same answer) and fast: sentence vectors come
from the same embedding model, embedded once at ingest (:mod:`assistant.core.sentence_vectors`),
so an answer costs one query embedding and a dot product. A store without them (ingested by
an earlier version) still answers: its sentences are embedded on demand and cached.

A sentence is chosen for what it shares with the question: meaning (cosine of sentence
vectors), the question's rarer words (idf-weighted overlap: "CamVid", "NDCG@10"), and the
kind of fact asked for (a figure for "how much / how fast", a name for "which dataset").
Each question of a compound one ("…, and which languages was it tested on?") first gets
its own best sentence. The weights were set on the fact recall of eval/dev.jsonl and
eval/answers_dev.jsonl.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from assistant.core.embeddings import Embedder
from assistant.core.sentence_vectors import SentenceVectors
from assistant.hits import PaperHit
from assistant.markup import literal
from assistant.prompts import load_prompt
from assistant.text.figures import has_number
from assistant.text.phrasing import asks_for_figure, asks_for_name, sub_questions
from assistant.text.sentences import quotable_sentences
from assistant.text.words import has_name
from assistant.tuning import AnswerTuning
from assistant.vocabulary import Vocabulary


class SentenceRanker:
    """Scores abstract sentences against a question with stored sentence embeddings.

    ``stored``: the vectors ingest persisted for the store's revision; sentences it lacks
    (none are stored, or a sub-question) are embedded and kept in a bounded cache.
    """

    def __init__(
        self,
        embedder: Embedder,
        vocabulary: Vocabulary,
        tuning: AnswerTuning | None = None,
        cache_size: int = 20000,
        stored: SentenceVectors | None = None,
    ):
        self.embedder = embedder
        self.vocabulary = vocabulary
        self.tuning = tuning or AnswerTuning()
        self.stored = stored
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _vectors(self, sentences: Sequence[str]) -> np.ndarray:
        """One row per sentence: stored vectors where ingest kept them, the rest embedded."""
        found = self.stored.rows(sentences) if self.stored is not None else [None] * len(sentences)
        missing = [s for s, vector in zip(sentences, found, strict=True) if vector is None]
        if not missing:
            return np.stack(found)
        embedded = iter(self._embedded(missing))
        return np.stack([next(embedded) if vector is None else vector for vector in found])

    def _embedded(self, sentences: Sequence[str]) -> np.ndarray:
        """Vectors of sentences no store holds, embedded once and cached."""
        with self._lock:
            missing = [s for s in dict.fromkeys(sentences) if s not in self._cache]
        if missing:
            fresh = self.embedder.model.get_text_embedding_batch(list(missing))
            with self._lock:
                for sentence, vector in zip(missing, fresh, strict=True):
                    self._cache[sentence] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            for s in sentences:
                self._cache.move_to_end(s)
            return np.stack([self._cache[s] for s in sentences])

    def best(self, question: str, question_vector: Sequence[float], text: str, n: int) -> list[str]:
        """The ``n`` sentences of ``text`` that best answer ``question``, in their own order.

        Each sub-question of a compound question first gets its own best sentence: scored
        against the whole question, the sentences that echo the paper's description (which
        the asker already knows) outrank the one holding what the second part asks ("which
        languages was it tested on?")."""
        sentences = quotable_sentences(text)
        sentence_vectors = self._vectors(sentences)
        parts = sub_questions(question, self.tuning.min_sub_question_words)
        chosen: list[int] = []
        for part, part_vector in zip(parts, self._vectors(parts) if parts else []):
            ranked = np.argsort(-self._scores(part, part_vector, sentences, sentence_vectors))
            chosen.append(next(int(i) for i in ranked if i not in chosen))
            if len(chosen) >= min(n, len(sentences)):
                break
        scores = self._scores(question, question_vector, sentences, sentence_vectors)
        for i in np.argsort(-scores, kind="stable"):
            if len(chosen) >= n:
                break
            if i not in chosen:
                chosen.append(int(i))
        return [sentences[i] for i in sorted(chosen)]

    def _scores(
        self,
        question: str,
        question_vector: Sequence[float],
        sentences: Sequence[str],
        sentence_vectors: np.ndarray,
    ) -> np.ndarray:
        """How well each sentence answers ``question``: meaning, rare words, kind of fact."""
        scores = sentence_vectors @ np.asarray(question_vector, dtype=np.float32)
        tuning = self.tuning
        asked = set(self.vocabulary.terms(question))
        wants_figure = asks_for_figure(question)
        wants_name = asks_for_name(question)
        for i, sentence in enumerate(sentences):
            scores[i] += tuning.lexical_weight * self.vocabulary.share(
                asked, self.vocabulary.terms(sentence)
            )
            if wants_figure and has_number(sentence):
                scores[i] += tuning.figure_weight
            if wants_name and has_name(sentence):
                scores[i] += tuning.name_weight
        return scores


def compose(
    question: str,
    question_vector: Sequence[float],
    papers: Sequence[PaperHit],
    ranker: SentenceRanker,
    sentences_per_paper: int,
) -> tuple[str, list[str]]:
    """(answer text citing papers as [1]…[n] in order, the passage quoted for each)."""
    lines = [load_prompt("extractive_intro")]
    passages = []
    for number, paper in enumerate(papers, start=1):
        sentences = ranker.best(question, question_vector, paper.abstract, sentences_per_paper)
        passage = " ".join(sentences)
        passages.append(passage)
        # Corpus text is data: no markup in it is rendered, and a bracket in it (a
        # reference like "[12]") cannot read as one of the answer's citation markers.
        lines.append(f"- **{literal(paper.title)}**: {literal(passage)} [{number}]")
    return "\n".join(lines), passages
