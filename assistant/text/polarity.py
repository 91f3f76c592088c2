"""The words that turn a sentence around or make it stronger: negation, direction, strength.

Lexicons, not rules: the claim verifier (``assistant.support``) compares which of these a
claim and the passage sentences it is aligned with carry.
"""

from __future__ import annotations

import re

# Negation and its cues: "does not need", "without labels", "fails to", "unlike".
NEGATIONS = frozenset(
    """not no never none neither nor without cannot can't don't doesn't didn't isn't aren't
    wasn't weren't won't fails fail failed lacks lack unlike nothing""".split()
)

# Direction words with their opposites (stems of both sides are compared).
_OPPOSITES = [
    ("outperform", "underperform"),
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("improve", "degrade"),
    ("improve", "worsen"),
    ("higher", "lower"),
    ("faster", "slower"),
    ("better", "worse"),
    ("larger", "smaller"),
    ("more", "fewer"),
    ("more", "less"),
    ("gain", "loss"),
    ("surpass", "trail"),
    ("beat", "trail"),
    ("accelerate", "slow"),
    ("boost", "hurt"),
    ("easier", "harder"),
    ("stronger", "weaker"),
    ("above", "below"),
    ("maximize", "minimize"),
    ("highest", "lowest"),
    ("largest", "smallest"),
    ("best", "worst"),
    ("strongest", "weakest"),
    ("fastest", "slowest"),
    ("most", "least"),
    ("rise", "fall"),
    ("retain", "lose"),
    ("keep", "lose"),
    ("preserve", "lose"),
    ("success", "failure"),
    ("succeed", "fail"),
    ("add", "remove"),
    ("include", "exclude"),
    ("supervised", "unsupervised"),
    ("linear", "nonlinear"),
    ("static", "dynamic"),
    ("explicit", "implicit"),
    ("global", "local"),
    ("dense", "sparse"),
]
OPPOSITES: dict[str, set[str]] = {}
for _a, _b in _OPPOSITES:
    OPPOSITES.setdefault(_a, set()).add(_b)
    OPPOSITES.setdefault(_b, set()).add(_a)

# Quantifiers, superlatives and certainty: a claim that carries one the paper does not is
# stronger than the paper.
STRENGTH = frozenset(
    """all every always any entire entirely completely fully universally never guarantee
    guarantees guaranteed prove proves proven eliminate eliminates eliminated best first
    only sole solely optimal perfect perfectly must unique uniquely definitively""".split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def lower_words(text: str) -> list[str]:
    """The text's words, lower-cased, apostrophes kept ("doesn't")."""
    return [word.lower() for word in _WORD.findall(text)]


def negated(text: str) -> bool:
    """Whether the text carries a negation ("not", "without", "fails to", "n't")."""
    return any(word in NEGATIONS or word.endswith("n't") for word in lower_words(text))
