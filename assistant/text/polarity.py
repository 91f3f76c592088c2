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
# Privative words: what follows them is done without, or not done ("avoids retraining",
# "removing input tokenization", "in the absence of labels"); they negate as "not" does.
# ("skip" is left out: in "skip connections" it is a noun.)
PRIVATIVES = frozenset(
    """avoid avoids avoided avoiding omit omits omitted omitting skips skipped skipping
    bypass bypasses bypassed bypassing forgo forgoes forgoing remove removes removed removing
    lacking absent absence""".split()
)
# Cues of two words whose negation falls on the verb that follows ("fails to generalize",
# "no longer needs"): one word is their whole scope.
_VERB_CUES = frozenset(
    {
        ("fail", "to"),
        ("fails", "to"),
        ("failed", "to"),
        ("failing", "to"),
        ("unable", "to"),
        ("no", "longer"),
    }
)
# Cues of two words that reject what follows in favour of what precedes ("X instead of Y",
# "X rather than Y"); alone, "instead" and "rather" negate nothing.
_ALTERNATIVE_CUES = frozenset({("instead", "of"), ("rather", "than")})
# Two-word verbs with a one-word sense the direction opposites know ("gives up global
# attention" is "loses" it; "falls short of" is "underperforms").
_PHRASAL = {
    ("give", "up"): "lose",
    ("gives", "up"): "lose",
    ("giving", "up"): "lose",
    ("gave", "up"): "lose",
    ("fall", "short"): "underperform",
    ("falls", "short"): "underperform",
    ("fell", "short"): "underperform",
    ("falling", "short"): "underperform",
    ("lag", "behind"): "trail",
    ("lags", "behind"): "trail",
    ("lagging", "behind"): "trail",
}

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
# Positions and degrees that modify a noun ("top layer", "high-resolution maps", "forward
# pass"): "high accuracy at low cost" holds both in different places, so they are opposed
# only in the same place, before the same word ("low-resolution" vs "high-resolution").
_SLOT_OPPOSITES = [
    ("top", "bottom"),
    ("high", "low"),
    ("first", "last"),
    ("forward", "backward"),
]
SLOT_WORDS = frozenset(word for pair in _SLOT_OPPOSITES for word in pair)
_OPPOSITES += _SLOT_OPPOSITES
OPPOSITES: dict[str, set[str]] = {}
for _a, _b in _OPPOSITES:
    OPPOSITES.setdefault(_a, set()).add(_b)
    OPPOSITES.setdefault(_b, set()).add(_a)

# Quantifiers, superlatives and certainty: a claim that carries one the paper does not is
# stronger than the paper.
STRENGTH = frozenset(
    """all every always any entire entirely completely fully universally never guarantee
    guarantees guaranteed prove proves proven eliminate eliminates eliminated best first
    only sole solely optimal perfect perfectly must unique uniquely definitively clearly
    decisively""".split()
)

# A result stated as a tie ("comparable to", "competitive with", "on par with") and the
# same result stated as a win: a claim with the second where the passage has only the first
# is stronger than the paper.
PARITY = frozenset(
    """comparable comparably competitive par similar matches match matching favorable
    favourable""".split()
)
SUPERIORITY = frozenset(
    """outperform outperforms outperformed outperforming surpass surpasses surpassed
    surpassing beat beats beating exceed exceeds exceeded exceeding superior better""".split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def lower_words(text: str) -> list[str]:
    """The text's words, lower-cased, apostrophes kept ("doesn't")."""
    return [word.lower() for word in _WORD.findall(text)]


def phrased(words: list[str]) -> list[str]:
    """The words with each two-word verb replaced by its one-word sense ("falls short" →
    "underperform")."""
    out: list[str] = []
    i = 0
    while i < len(words):
        single = _PHRASAL.get(tuple(words[i : i + 2]))  # type: ignore[call-overload]
        out.append(single or words[i])
        i += 2 if single else 1
    return out


def negation_cues(words: list[str]) -> list[tuple[int, bool]]:
    """Where each negation's scope starts in the (lower-cased) words, and whether it is
    one verb only ("fails to generalize"); "not only" is no negation, and "instead" or
    "rather" negate only as "instead of", "rather than"."""
    cues: list[tuple[int, bool]] = []
    skip_to = 0
    for i, word in enumerate(words):
        if i < skip_to:
            continue
        pair = tuple(words[i : i + 2])
        if pair in _VERB_CUES:
            cues.append((i + 2, True))
            skip_to = i + 2
        elif pair in _ALTERNATIVE_CUES:
            cues.append((i + 2, False))
            skip_to = i + 2
        elif pair == ("not", "only"):
            skip_to = i + 2
        elif word in NEGATIONS or word in PRIVATIVES or word.endswith("n't"):
            cues.append((i + 1, False))
    return cues


def negated(text: str) -> bool:
    """Whether the text carries a negation ("not", "without", "fails to", "n't")."""
    return any(word in NEGATIONS or word.endswith("n't") for word in lower_words(text))
