"""The no-LLM answer: the most relevant sentences of the top papers, quoted with citations.

Deterministic (same question, same corpus → same answer) and fast: sentence vectors come
from the same embedding model and are cached, so a paper's sentences are embedded once.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from assistant.core.embeddings import Embedder
from assistant.markup import literal
from assistant.prompts import load_prompt
from assistant.retrieval import PaperHit

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
MAX_SENTENCES_PER_PAPER = 2
MIN_SENTENCE_CHARS = 25


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if len(s.strip()) >= MIN_SENTENCE_CHARS]


class SentenceRanker:
    """Scores abstract sentences against a question with cached sentence embeddings."""

    def __init__(self, embedder: Embedder, cache_size: int = 20000):
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _vectors(self, sentences: Sequence[str]) -> np.ndarray:
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

    def best(self, query_vector: Sequence[float], text: str, n: int) -> list[str]:
        """The ``n`` best sentences of ``text``, kept in their original order."""
        sentences = split_sentences(text) or [text]
        scores = self._vectors(sentences) @ np.asarray(query_vector, dtype=np.float32)
        chosen = sorted(np.argsort(-scores)[:n])
        return [sentences[i] for i in chosen]


def compose(
    query_vector: Sequence[float], papers: Sequence[PaperHit], ranker: SentenceRanker
) -> tuple[str, list[str]]:
    """(answer text citing papers as [1]…[n] in order, the passage quoted for each)."""
    lines = [load_prompt("extractive_intro")]
    passages = []
    for number, paper in enumerate(papers, start=1):
        sentences = ranker.best(query_vector, paper.abstract, MAX_SENTENCES_PER_PAPER)
        passage = " ".join(sentences)
        passages.append(passage)
        # Corpus text is data: no markup in it is rendered, and a bracket in it (a
        # reference like "[12]") cannot read as one of the answer's citation markers.
        lines.append(f"- **{literal(paper.title)}**: {literal(passage)} [{number}]")
    return "\n".join(lines), passages
