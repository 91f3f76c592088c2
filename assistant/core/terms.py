"""Terms: a text's words as the engine compares them (lower-cased, stop words dropped,
Snowball-stemmed), with the BM25 index's own token pattern.

This lives in ``core`` because the paper catalogue, written at ingest, indexes the terms of
every title (the premise checks look papers up by a rare word of their title), and the
query side's :class:`~assistant.vocabulary.Vocabulary` reads text the same way.
"""

from __future__ import annotations

import re

from Stemmer import Stemmer

from assistant.core.lexical import TOKEN_PATTERN

TOKEN = re.compile(TOKEN_PATTERN)

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves paper papers work works method methods model models study studies corpus
    approach use used using give tell show""".split()
)


def new_stemmer() -> Stemmer:
    """An English Snowball stemmer (one per thread that stems: PyStemmer's are not shared)."""
    return Stemmer("english")


def term_tokens(text: str, stemmer: Stemmer) -> list[tuple[str, str]]:
    """(the word as written, its term) for each content word of the text, in order."""
    return [
        (token, stemmer.stemWord(token.lower()))
        for token in TOKEN.findall(text)
        if token.lower() not in STOPWORDS
    ]
