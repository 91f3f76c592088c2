"""Words: the stop lists, the word and name patterns every module reads text with.

Terms (lower-cased, stemmed) come from :mod:`assistant.core.terms` (the BM25 index's own
token pattern and the stop list, re-exported here) through
:class:`assistant.vocabulary.Vocabulary`.
"""

from __future__ import annotations

import re

from assistant.core.terms import STOPWORDS, TOKEN

__all__ = ["STOPWORDS", "TOKEN"]  # the index's own, read here by every query-side module
# A word as written, hyphenated parts kept together ("Poly-encoders", "ResNet-50").
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
# A word that may carry digits after its first letter ("FlexiBERT-Mini", "GPT-4o").
LOOSE_WORD = re.compile(r"[A-Za-z][\w-]*")
_WORD_OR_NUMBER = re.compile(r"[\w-]+")
_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[-/][A-Za-z0-9]+)*\b")
_ACRONYM = re.compile(r"^[A-Z]{2,5}s?$")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_DERIVED = re.compile(r"-(?:like|style|based|type|inspired|sized)$", re.IGNORECASE)
# Inner capitals ("DDRNet") or a run of capitalised words ("Mona Lisa").
_HAS_NAME = re.compile(
    r"\b[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9-]*\b|\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b"
)

# Question words that say nothing about the topic; the second line is how a follow-up asks
# about the paper already under discussion ("On which datasets did they evaluate it?"), the
# last how a conversation changes subject ("Separately, …", "On a related note, …").
FRAMING_WORDS = tuple(
    """which paper how does what why was were used use help adapt adapted applied apply train
    trained propose proposed method model approach network networks neural deep learning work
    show shows reach reaches get gets make makes based new improve improves well
    evaluate evaluated evaluation test tested compare compared dataset datasets benchmark
    benchmarks result results perform performs performance achieve achieves
    separately related note back also another meanwhile switching""".split()
)

# Words a citation key skips in a title ("On the …", "Towards …").
TITLE_KEY_STOPWORDS = frozenset(
    {"a", "an", "the", "on", "of", "in", "for", "to", "and", "towards", "toward"}
)


def words_of(text: str) -> list[str]:
    """Every word or number as written, hyphenated ones whole."""
    return _WORD_OR_NUMBER.findall(text)


def loose_words(text: str) -> list[str]:
    """Words starting with a letter, digits and hyphens kept ("GPT-4o")."""
    return LOOSE_WORD.findall(text)


def folded(text: str) -> str:
    """Lower-case letters and digits only: "CIFAR-10" and "CIFAR10" read the same."""
    return _NOT_ALNUM.sub("", text.casefold())


def underived(name: str) -> str:
    """A name without a derivation suffix: "ResNet-like" → "ResNet"."""
    return _DERIVED.sub("", name)


def is_acronym(word: str) -> bool:
    """ "CNN", "GANs": a paper may spell it out, so its absence proves little."""
    return bool(_ACRONYM.match(word))


def has_name(text: str) -> bool:
    """Whether the text holds a name (inner capitals, or capitalised words in a row)."""
    return bool(_HAS_NAME.search(text))


def side_by_side(text: str, first: str, second: str) -> bool:
    """Whether ``first`` and ``second`` stand next to each other in ``text`` ("graph
    neural", "graph-neural"), not across a punctuation mark."""
    return bool(re.search(rf"\b{re.escape(first)}[\s-]+{re.escape(second)}\b", text))


# Endings of words that do not modify a noun before it: verbs ("splits", "combined",
# "using") and adverbs ("clearly"). English noun adjuncts are singular ("channel
# dimensions", not "channels dimensions").
_NOT_MODIFIER_ENDINGS = ("s", "ed", "ing", "ly")


# Words after which a noun phrase begins: determiners, prepositions and conjunctions (not
# "to", "not" or modals, after which a verb comes: "do not take negation").
NOUN_PHRASE_OPENERS = frozenset(
    """a an the this that these those its their our his her and or of in on at by for with
    from into onto across along within without over under between among via per through
    each both either than as""".split()
)


# Adjectives that point at a thing rather than classify it ("a given ad", "a certain
# class", "prior work"): swapping one for another is paraphrase, not another thing.
REFERENTIAL_ADJECTIVES = frozenset(
    """given certain particular specific respective such other another various different
    several single following above new novel existing previous prior earlier later current
    recent standard typical common general usual main key overall whole full entire same
    similar additional extra further corresponding relevant appropriate suitable
    possible""".split()
)


def may_modify(word: str) -> bool:
    """Whether a lower-case word is shaped like a word that modifies the noun after it
    ("spatial", "channel", "change-point"): letters and hyphens, no verb or adverb ending."""
    last = word.rsplit("-", 1)[-1]
    return (
        word.islower()
        and word not in REFERENTIAL_ADJECTIVES
        and not last.endswith(_NOT_MODIFIER_ENDINGS)
    )


def names_in(text: str) -> set[str]:
    """Terms that look like names: inner capitals or digits (DDRNet, GPT-4), or a capital
    word that does not start a sentence (Cityscapes)."""
    names = set()
    for match in _NAME.finditer(text):
        term = match.group()
        if term.lower() in STOPWORDS:
            continue
        starts_sentence = match.start() == 0 or text[: match.start()].rstrip().endswith(
            (".", "?", "!", ":")
        )
        if (
            any(c.isupper() for c in term[1:])
            or (any(c.isdigit() for c in term) and any(c.isalpha() for c in term))
            or (term[0].isupper() and not starts_sentence and len(term) > 2)
        ):
            names.add(term)
    return names
