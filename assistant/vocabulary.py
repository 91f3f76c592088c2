"""The corpus vocabulary: which terms the indexed chunks use, and how rare each one is.

Read from the BM25 index (its terms are lower-cased and stemmed the same way here), so the
relevance gate, follow-up detection, sentence choice, claim checks and premise checks all
agree on what "a word of the corpus" is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from assistant.core.terms import new_stemmer, term_tokens
from assistant.text.words import STOPWORDS, WORD


class Vocabulary:
    """Stemmed corpus terms with their document frequencies (chunks that contain them)."""

    def __init__(self, frequencies: Mapping[str, int], documents: int):
        self.frequencies = dict(frequencies)
        self.documents = max(1, documents)
        self._stemmer = new_stemmer()

    def stem(self, word: str) -> str:
        return self._stemmer.stemWord(word.lower())

    def terms(self, text: str) -> list[str]:
        """The text's content terms as the index sees them: lower-cased, stemmed, no stopwords."""
        return [term for _, term in self.tokens(text)]

    def tokens(self, text: str) -> list[tuple[str, str]]:
        """(the word as written, its term) for each content term of the text, in order."""
        return term_tokens(text, self._stemmer)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (unknown terms are the rarest)."""
        return math.log((self.documents + 1) / (self.frequencies.get(term, 0) + 0.5))

    def share(self, terms: Iterable[str], found_in: Iterable[str]) -> float:
        """The idf-weighted share of ``terms`` that ``found_in`` holds (0 for no terms):
        how much of a question's or claim's wording another text uses, rare words counting
        most."""
        terms = set(terms)
        total = sum(map(self.idf, terms))
        return sum(map(self.idf, terms.intersection(found_in))) / total if total else 0.0

    def knows(self, word: str) -> bool:
        lowered = word.lower()
        return lowered in self.frequencies or self.stem(lowered) in self.frequencies

    def unknown_terms(self, question: str) -> tuple[list[str], list[str]]:
        """(named-looking terms, ordinary words) of the question absent from the corpus."""
        names, words = [], []
        for match in WORD.finditer(question):
            term = match.group()
            if term.lower() in STOPWORDS:
                continue
            parts = [p for p in term.split("-") if len(p) >= 2]
            if not parts or any(self.knows(p) for p in parts):
                continue
            first_word = match.start() == 0 or question[: match.start()].rstrip().endswith(
                (".", "?", "!")
            )
            named = (
                any(c.isdigit() for c in term)
                or any(c.isupper() for c in term[1:])
                or (term[0].isupper() and not first_word)
            )
            (names if named else words).append(term)
        return names, words
