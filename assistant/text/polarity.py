"""The words that turn a sentence around or make it stronger: negation, direction, strength.

Lexicons, not rules: the claim verifier (``assistant.support``) compares which of these a
claim and the passage sentences it is aligned with carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    lacking absent absence ignore ignores ignored ignoring neglect neglects neglected
    neglecting discard discards discarded discarding abandon abandons abandoned abandoning
    dispense dispenses dispensing disregard disregards disregarded disregarding overlook
    overlooks overlooked overlooking""".split()
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
        # "struggles to scale" says it does not scale well, as "fails to" does
        ("struggle", "to"),
        ("struggles", "to"),
        ("struggled", "to"),
        ("struggling", "to"),
    }
)
# A modal negated ("cannot be realized", "can't scale"): as "unable to", it denies the verb
# that follows it, whatever its object. ("rarely" is left out: "rarely exceeds x10" says
# what "is typically not higher than x10" says, with the subject outside the negation.)
_MODAL_NEGATIONS = frozenset({"cannot", "can't", "couldn't"})
# Verbs that take away a need ("eliminating the need for retraining", "obviates the
# requirement of labels"): with the need word after them they negate what is needed; alone
# they negate nothing ("eliminates errors" says the errors are gone, not absent).
_NEED_REMOVERS = frozenset(
    """eliminate eliminates eliminated eliminating obviate obviates obviated obviating
    remove removes removed removing avoid avoids avoided avoiding without no""".split()
)
NEED_WORDS = frozenset("need needs requirement requirements necessity".split())
_NEED_LINKS = frozenset("the any a for to of".split())

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
    ("speed", "up"): "accelerate",
    ("speeds", "up"): "accelerate",
    ("sped", "up"): "accelerate",
    ("speeding", "up"): "accelerate",
    # an amount said to go up or down ("memory use goes down")
    ("go", "up"): "rise",
    ("goes", "up"): "rise",
    ("went", "up"): "rise",
    ("going", "up"): "rise",
    ("go", "down"): "fall",
    ("goes", "down"): "fall",
    ("went", "down"): "fall",
    ("going", "down"): "fall",
}
# Longer phrases with a one-word sense: giving something up ("at the cost of accuracy" is
# "sacrificing" it, as "without sacrificing accuracy" denies), being free of it, contrast.
_PHRASES = {
    ("at", "the", "cost", "of"): "sacrificing",
    ("at", "the", "expense", "of"): "sacrificing",
    ("at", "the", "price", "of"): "sacrificing",
    ("free", "of"): "without",
    ("free", "from"): "without",
    # a contrast with another thing is "unlike" it ("in contrast to prior methods")
    ("in", "contrast", "to"): "unlike",
    ("in", "contrast", "with"): "unlike",
    ("as", "opposed", "to"): "unlike",
    ("contrary", "to"): "unlike",
}

# Direction words with their opposites (stems of both sides are compared).
_OPPOSITES = [
    ("outperform", "underperform"),
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("improve", "degrade"),
    ("improve", "worsen"),
    ("faster", "slower"),
    ("better", "worse"),
    ("larger", "smaller"),
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
# More antonyms of the kind results and designs are stated in (what a method keeps or needs,
# how it compares, what it makes easier or harder); direction only: unlike the pairs above
# they do not mark the things roles are said of (``ROLE_OPPOSITES``).
_ANTONYMS = [
    ("mimic", "differ"),
    ("raise", "lower"),
    ("grow", "shrink"),
    ("widen", "narrow"),
    ("expand", "shrink"),
    ("help", "hurt"),
    ("benefit", "harm"),
    ("enable", "prevent"),
    ("allow", "prevent"),
    ("robust", "fragile"),
    ("robust", "brittle"),
    ("simple", "complex"),
    ("easy", "difficult"),
    ("easy", "hard"),
    ("cheap", "expensive"),
    ("cheaper", "costlier"),
    ("strong", "weak"),
    ("accept", "reject"),
    ("confirm", "refute"),
    ("support", "contradict"),
    ("sequential", "parallel"),
    ("serial", "parallel"),
    ("online", "offline"),
    ("deterministic", "stochastic"),
    ("discrete", "continuous"),
    ("shallow", "deep"),
    ("overestimate", "underestimate"),
    ("maximum", "minimum"),
    ("exact", "approximate"),
    ("lossless", "lossy"),
    ("manual", "automatic"),
    ("fixed", "adaptive"),
    ("fixed", "learned"),
    ("absolute", "relative"),
    ("seen", "unseen"),
    ("early", "late"),
    ("earlier", "later"),
    ("positive", "negative"),
    ("majority", "minority"),
    ("upper", "lower"),
    ("inside", "outside"),
    ("necessary", "unnecessary"),
    ("crucial", "unimportant"),
    ("crucial", "irrelevant"),
    ("crucial", "unnecessary"),
    ("essential", "unnecessary"),
    ("important", "unnecessary"),
    ("improve", "hurt"),
    ("improve", "harm"),
    ("help", "harm"),
    ("beneficial", "harmful"),
    ("often", "rarely"),
    ("often", "seldom"),
    ("usually", "rarely"),
    ("usually", "seldom"),
    ("commonly", "rarely"),
    ("frequent", "rare"),
    # comparisons of results and speed said in other words ("lags behind" is "trail",
    # "more slowly" the opposite of "faster", "lesser" of "more")
    ("outperform", "trail"),
    ("exceed", "trail"),
    ("surpass", "underperform"),
    ("beat", "underperform"),
    ("exceed", "underperform"),
    ("improve", "worse"),
    ("faster", "slowly"),
    ("quickly", "slowly"),
    ("rapidly", "slowly"),
    ("fast", "slow"),
    ("more", "lesser"),
    ("greater", "lesser"),
    ("enlarge", "shrink"),
    # irregular forms the stemmer does not bring back to "shrink"
    ("enlarge", "shrunk"),
    ("expand", "shrunk"),
    ("grow", "shrunk"),
    ("grow", "shrank"),
    ("expand", "shrank"),
    ("complement", "conflict"),
    # amounts said to go up or down in other verbs ("cuts latency" / "raises latency")
    ("increase", "lower"),
    ("increase", "drop"),
    ("increase", "decline"),
    ("increase", "diminish"),
    ("increase", "lessen"),
    ("raise", "reduce"),
    ("boost", "reduce"),
    ("boost", "lower"),
    ("rise", "drop"),
    ("rise", "decline"),
    ("grow", "decline"),
    ("facilitate", "hinder"),
    ("enable", "hinder"),
    ("help", "hinder"),
    ("overfit", "underfit"),
    ("longer", "shorter"),
    ("longest", "shortest"),
    ("simpler", "complex"),
    ("greater", "less"),
    ("greater", "smaller"),
    ("wider", "narrower"),
    ("deeper", "shallower"),
    # how a method fares and what it takes ("inferior to", "generalizes poorly", "optional")
    ("superior", "inferior"),
    ("well", "poorly"),
    ("persist", "vanish"),
    ("persist", "disappear"),
    ("grow", "diminish"),
    ("optional", "necessary"),
    ("optional", "required"),
    ("optional", "mandatory"),
    ("complementary", "redundant"),
    ("upsample", "downsample"),
    ("upsampling", "downsampling"),
    ("synchronous", "asynchronous"),
    ("symmetric", "asymmetric"),
    ("homogeneous", "heterogeneous"),
    ("centralized", "decentralized"),
    # a change said as a noun ("a 79% reduction in energy use" / "increases energy use"):
    # the stemmer keeps "reduction" apart from "reduce"
    ("increase", "reduction"),
    ("raise", "reduction"),
    ("boost", "reduction"),
    ("rise", "reduction"),
    ("growth", "reduction"),
    ("growth", "decline"),
    ("growth", "shrink"),
    ("speedup", "slowdown"),
    # keeping a part against taking it out ("retains the convolutions" / "eliminates them")
    ("retain", "eliminate"),
    ("keep", "eliminate"),
    ("preserve", "eliminate"),
    ("retain", "discard"),
    ("keep", "discard"),
    # how a result compares, in words of quality ("inferior performance" / "improves it")
    ("improve", "inferior"),
    ("better", "inferior"),
    ("superior", "worse"),
    ("rich", "poor"),
    ("richer", "poorer"),
    ("richer", "less"),
    ("richer", "fewer"),
    # sizes on one scale said with the other scale's word ("a larger drop" / "a lower drop")
    ("larger", "lower"),
    ("higher", "smaller"),
    ("greater", "lower"),
    ("greater", "fewer"),
    ("bigger", "smaller"),
    ("bigger", "lower"),
    # states of data a method maps between ("noisy frames into clean ones")
    ("increase", "cut"),
    ("raise", "cut"),
    ("boost", "cut"),
    ("lengthen", "shorten"),
    ("stabilize", "destabilize"),
    ("activate", "deactivate"),
    ("noisy", "clean"),
    ("corrupted", "clean"),
    ("labeled", "unlabeled"),
]
# Positions and degrees that modify a noun ("top layer", "high-resolution maps", "forward
# pass"): "high accuracy at low cost" holds both in different places, so they are opposed
# only in the same place, before the same word ("low-resolution" vs "high-resolution").
_SLOT_OPPOSITES = [
    ("top", "bottom"),
    ("high", "low"),
    # "higher accuracy at lower latency" holds both, of two things
    ("higher", "lower"),
    ("first", "last"),
    ("forward", "backward"),
    ("coarse", "fine"),
]
# Degree words that modify the noun after them ("a significant drop", "few steps", "the same
# vocabulary"): as the position words, opposed only before the same word, since "large gains
# at small cost" holds both.
_DEGREE_OPPOSITES = [
    ("same", "different"),
    ("similar", "different"),
    ("single", "multiple"),
    ("major", "minor"),
    ("significant", "negligible"),
    ("significant", "marginal"),
    ("substantial", "negligible"),
    ("substantial", "marginal"),
    ("large", "small"),
    ("large", "slight"),
    ("large", "little"),
    ("significant", "little"),
    ("substantial", "little"),
    ("significant", "slight"),
    ("substantial", "slight"),
    ("considerable", "slight"),
    ("considerable", "negligible"),
    ("many", "few"),
    ("much", "little"),
    ("long", "short"),
    ("broad", "narrow"),
    ("wide", "narrow"),
    # "more" and "less" say how much of what follows them ("more accurate", "less memory"):
    # "less than X" before a figure compares no quality with "more accurate"
    ("more", "fewer"),
    ("more", "less"),
]
# Nouns of measure a degree word reaches through to the noun it is said of ("fewer number of
# parameters" is "fewer parameters").
MEASURE_NOUNS = frozenset("number amount count quantity".split())
SLOT_WORDS = frozenset(word for pair in _SLOT_OPPOSITES + _DEGREE_OPPOSITES for word in pair)
_OPPOSITES += _SLOT_OPPOSITES
# The words of opposite pairs that name one of two things ("top" layer, "forward" pass).
ROLE_OPPOSITES = frozenset(word for pair in _OPPOSITES for word in pair)
OPPOSITES: dict[str, set[str]] = {}
for _a, _b in _OPPOSITES + _ANTONYMS + _DEGREE_OPPOSITES:
    OPPOSITES.setdefault(_a, set()).add(_b)
    OPPOSITES.setdefault(_b, set()).add(_a)

# Negative prefixes of adjectives and participles ("unstable", "non-linear", "inconsistent",
# "disagree"): the prefixed word is the opposite of its base. The base must be a word of its
# own (five letters or more) that the other text uses; the words below only look prefixed.
NEGATIVE_PREFIXES = ("non", "un", "in", "im", "ir", "il", "dis")
_NOT_PREFIXED = frozenset(
    """improve improves improved improving improvement discover discovers discovered
    discovering inform informs informed informing information impose imposes imposed
    display displays dispose invest inspect inspects install instance instances intend
    intends intended unite united uniform uniformly unique uniquely universal universally
    dissolve dissolves discount discounts""".split()
)
_MIN_BASE_LETTERS = 5


def prefix_base(word: str) -> str | None:
    """The base of a word with a negative prefix ("unsupervised" → "supervised",
    "non-linear" → "linear"), None for any other word."""
    word = word.lower()
    if word in _NOT_PREFIXED:
        return None
    for prefix in NEGATIVE_PREFIXES:
        if word.startswith(prefix):
            base = word[len(prefix) :].lstrip("-")
            if len(base) >= _MIN_BASE_LETTERS and base.isalpha():
                return base
    return None


# A gap said to be closed ("closes the gap", "bridging the accuracy gap"): the claim that a
# result reaches another, as strong as "on par with".
_GAP_CLOSED = re.compile(
    r"\b(?:clos|bridg|eliminat)\w*\s+(?:the\s+|this\s+|that\s+|a\s+)?(?:[\w-]+\s+){0,2}?gaps?\b",
    re.IGNORECASE,
)
# The words of a claim that a result reaches another's level (a tie); "similar" is left out,
# as "a similar architecture" says nothing of results.
PARITY_CLAIMS = frozenset(
    """comparable comparably competitive par matches match matching""".split()
)
# What in a passage bears a claim of parity out: a tie, a win, or a loss said to be small.
PARITY_SUPPORT = frozenset(
    """negligible marginal marginally minimal minor little slight slightly lossless same
    equal equals equivalent nearly close closely closes closed closing bridge bridges
    bridged retains retain preserves preserve maintains maintain""".split()
)


def parity_claimed(text: str) -> str | None:
    """The words by which a text claims a tie or a closed gap ("on par", "closes the
    gap"), None when it claims none."""
    gap = _GAP_CLOSED.search(text)
    if gap:
        return " ".join(gap.group().split())
    return next((w for w in lower_words(text) if w in PARITY_CLAIMS), None)


# Where a clause ends: a negation's scope does not reach past it ("does not converge, but
# the loss still falls": "falls" is not negated).
_CLAUSE_BREAK = re.compile(
    r"[,;:()\[\]\u2014\u2013]|\s-\s|\b(?:but|while|whereas|although|though|yet|however)\b",
    re.IGNORECASE,
)


# Words by which a sentence sets one thing against another ("although X …, Y …").
_CONTRAST = re.compile(
    r"\b(?:although|though|whereas|unlike|despite|in\s+contrast|contrary\s+to|as\s+opposed)\b",
    re.IGNORECASE,
)


def sets_against(text: str) -> bool:
    """Whether the text sets one thing against another ("although X …", "whereas",
    "unlike", "in contrast to")."""
    return bool(_CONTRAST.search(text))


def clauses(text: str) -> list[str]:
    """The text cut where one clause ends and the next begins (punctuation, "but",
    "while", "whereas", …)."""
    return [part for part in _CLAUSE_BREAK.split(text) if part.strip()]


# Quantifiers, superlatives and certainty: a claim that carries one the paper does not is
# stronger than the paper.
STRENGTH = frozenset(
    """all every always any entire entirely completely fully universally never guarantee
    guarantees guaranteed prove proves proven eliminate eliminates eliminated best first
    only sole solely optimal perfect perfectly must unique uniquely definitively clearly
    decisively""".split()
)

# Words of restriction a passage puts for "only" ("requiring the parallel data merely"):
# a claim's "only" restates them.
_RESTRICTIVE = frozenset("only merely solely just alone exclusively sole".split())
STRENGTH_SAID_AS: dict[str, frozenset[str]] = {
    word: _RESTRICTIVE for word in ("only", "solely", "sole")
}

# "only" before a quantity minimises it ("only 3.9 points below", "only a few steps"): it
# says the amount is small, not that nothing else holds.
_ONLY_BEFORE_QUANTITY = re.compile(
    r"\bonly\s+(?=(?:about\s+|around\s+|roughly\s+|~\s*)?\d|a\s+(?:few|fraction|small)\b)",
    re.IGNORECASE,
)


# "any" under a negation is no quantifier over everything but a negative-polarity word
# ("without any calibration" is "without calibration").
_ANY_UNDER_NEGATION = re.compile(
    r"\b((?:without|not|no|never|cannot|\w+n't)\s+(?:\w+\s+){0,2}?)any\b", re.IGNORECASE
)


def without_minimisers(text: str) -> str:
    """The text without the words that only look strong: the "only" that minimises a
    quantity ("only 3.9 points") and the "any" under a negation ("without any labels")."""
    return _ANY_UNDER_NEGATION.sub(r"\1", _ONLY_BEFORE_QUANTITY.sub("", text))


# Hedges that make a finding a possibility rather than a result ("possible in principle",
# "preliminary evidence", "may"); "theoretical" is left out, as "theoretical analysis" hedges
# nothing: a claim that states the finding
# without one states more than the paper.
_HEDGE = re.compile(
    r"\bin\s+principle\b|\btheoretically\b|\bpreliminary\b|\bpotentially\b|\bmight\b"
    r"|\bmay\b|\bhypothesi[sz](?:e|es|ed|ing)\b|\bconjectur(?:e|es|ed)\b|\bspeculat\w*",
    re.IGNORECASE,
)


# What keeps a claim a possibility too: the hedges above, and modals and words of likelihood
# a paraphrase puts for them ("can in principle", "could", "possibly", "suggests").
_CLAIM_HEDGE = re.compile(
    r"\b(?:can|could|possibl[ey]|potential|likely|perhaps|suggests?|suggested|principle)\b",
    re.IGNORECASE,
)


def hedged(text: str) -> bool:
    """Whether a claim keeps a finding a possibility (a hedge, a modal, "suggests")."""
    return bool(_HEDGE.search(text) or _CLAIM_HEDGE.search(text))


def hedge_in(text: str) -> str | None:
    """The first hedge of the text ("in principle", "preliminary", "may"), None if none."""
    found = _HEDGE.search(text)
    return " ".join(found.group().lower().split()) if found else None


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


# The privative suffix: "training-free" is "without training", "label-free" "without labels".
_FREE_OF = re.compile(r"\b([A-Za-z][\w]*)-free\b")


def lower_words(text: str) -> list[str]:
    """The text's words, lower-cased, apostrophes kept ("doesn't"); "X-free" read as
    "without X"."""
    return [word.lower() for word in _WORD.findall(_FREE_OF.sub(r"without \1", text))]


def phrased(words: list[str]) -> list[str]:
    """The words with each two-word verb replaced by its one-word sense ("falls short" →
    "underperform")."""
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in (4, 3, 2):
            key = tuple(words[i : i + size])
            single = _PHRASES.get(key) or _PHRASAL.get(key)  # type: ignore[call-overload]
            if single:
                out.append(single)
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return out


# Conjunctions that end a negation's scope: "is calibration-free and runs on a phone" does
# not negate the running.
SCOPE_ENDS = frozenset({"and"})
# Conjunctions a negation reaches across: "does not add parameters or training steps"
# negates both, so the scope runs on through the list.
SCOPE_LISTS = frozenset({"or", "nor"})


def negated_span(words: list[str], start: int, size: int) -> tuple[list[str], int]:
    """The words a negation starting at ``start`` may negate (up to twice ``size`` words,
    to the next "and"), and how many content words of them it negates: ``size``, or twice
    that when they list alternatives with "or" ("without labels or retraining")."""
    window = words[start : start + 2 * size]
    window = window[: next((i for i, w in enumerate(window) if w in SCOPE_ENDS), None)]
    if not SCOPE_LISTS.intersection(window):
        return window, size
    window = words[start : start + 4 * size]
    window = window[: next((i for i, w in enumerate(window) if w in SCOPE_ENDS), None)]
    return window, 2 * size


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
        need = _need_object(words, i) if word in _NEED_REMOVERS else None
        if need is not None:
            cues.append((need, False))
            skip_to = need
        elif pair in _VERB_CUES:
            cues.append((i + 2, True))
            skip_to = i + 2
        elif pair in _ALTERNATIVE_CUES:
            cues.append((i + 2, False))
            skip_to = i + 2
        elif pair == ("not", "only"):
            skip_to = i + 2
        elif word in _MODAL_NEGATIONS:
            cues.append((i + 1, True))
        elif word in NEGATIONS or word in PRIVATIVES or word.endswith("n't"):
            cues.append((i + 1, False))
    return cues


def _need_object(words: list[str], i: int) -> int | None:
    """Where what a need-removing verb at ``i`` takes away starts ("eliminating the
    requirement for | retraining"), None when no need word follows it."""
    j = i + 1
    while j < len(words) and words[j] in _NEED_LINKS:
        j += 1
    if j >= len(words) or words[j] not in NEED_WORDS:
        return None
    j += 1
    while j < len(words) and words[j] in _NEED_LINKS:
        j += 1
    return j


# Negations of a whole predicate ("does not help", "never converges", "fails to"; "leaves
# accuracy unchanged" says "has no effect on accuracy"): unlike
# "without X" or "instead of X", they deny what the clause says of its subject too.
PREDICATE_NEGATIONS = frozenset(
    """not never cannot fail fails failed unable longer lack lacks lacked unchanged
    unaffected unaltered intact""".split()
)


def predicate_negated(words: list[str]) -> bool:
    """Whether the (lower-cased) words of a clause negate its predicate ("does not help",
    "can't", "no longer"); "not only" negates nothing."""
    return any(
        (w in PREDICATE_NEGATIONS or w.endswith("n't"))
        and not (w == "not" and i + 1 < len(words) and words[i + 1] == "only")
        and not (w == "longer" and (i == 0 or words[i - 1] != "no"))
        for i, w in enumerate(words)
    )


# "X is not required": a negated need said after its subject negates the subject.
_COPULAS = frozenset("is are was were be been being".split())
_NEED_PREDICATES = frozenset("required needed necessary used involved".split())


def negated_subject(words: list[str], start: int) -> list[str]:
    """The words before a negation starting at ``start`` that it negates when it denies a
    need of them ("labels are not | needed": "labels"), none otherwise."""
    if start >= len(words) or words[start] not in _NEED_PREDICATES or start < 2:
        return []
    cue = words[start - 1]
    if cue in ("isn't", "aren't", "wasn't", "weren't"):
        return words[: start - 1]
    if cue in ("not", "never") and words[start - 2] in _COPULAS:
        return words[: start - 2]
    return []


def negated(text: str) -> bool:
    """Whether the text carries a negation ("not", "without", "fails to", "n't")."""
    return any(word in NEGATIONS or word.endswith("n't") for word in lower_words(text))


# --- comparisons: which side comes out ahead ---------------------------------------------
# Verbs whose subject comes out ahead ("A outperforms B", "A outpaces B") or behind ("A trails
# B"); in the passive ("A is outperformed by B") the roles turn round.
_AHEAD_VERBS = frozenset(
    """outperform outperforms outperformed outperforming surpass surpasses surpassed
    surpassing beat beats beaten beating exceed exceeds exceeded exceeding outpace outpaces
    outpaced outpacing outstrip outstrips outstripped outstripping""".split()
)
_BEHIND_VERBS = frozenset(
    """underperform underperforms underperformed underperforming trail trails trailed
    trailing lag lags lagged lagging""".split()
)
# Words that complete a comparing verb: "improves over B", "lags behind B", "falls short of
# B" (the verb alone compares nothing: "improves accuracy").
_COMPARING_PARTICLES = {
    "improve": ("over", "upon"),
    "improves": ("over", "upon"),
    "improved": ("over", "upon"),
    "improving": ("over", "upon"),
    "lag": ("behind",),
    "lags": ("behind",),
    "lagged": ("behind",),
    "lagging": ("behind",),
    "falls": ("short",),
    "fall": ("short",),
    "fell": ("short",),
    "falling": ("short",),
}
_NEEDS_PARTICLE = frozenset({"improve", "improves", "improved", "improving"}) | {
    "falls",
    "fall",
    "fell",
    "falling",
}
# Comparatives at the upper end of their scale, and those at the lower end with the upper
# word they are compared by ("A has lower latency than B" is "B has higher latency than A").
_COMPARATIVES_UP = frozenset(
    """higher faster better larger bigger more greater stronger longer wider deeper superior
    richer""".split()
)
_COMPARATIVES_DOWN = {
    "lower": "higher",
    "slower": "faster",
    "worse": "better",
    "smaller": "larger",
    "fewer": "more",
    "less": "more",
    "lesser": "more",
    "weaker": "stronger",
    "shorter": "longer",
    "narrower": "wider",
    "shallower": "deeper",
    "inferior": "superior",
    "poorer": "richer",
}
# Comparatives that say only which side is ahead, of no named quantity: they compare as the
# verbs above do ("A is better than B", "A grows faster than B" / "A outpaces B").
_GENERAL_AHEAD = frozenset({"better", "superior", "faster"})
_BE = frozenset("is are was were be been being".split())
_COMPARED = {("compared", "to"), ("compared", "with"), ("relative", "to")}
_LOOSE = re.compile(r"[A-Za-z][\w-]*")
# Words after which the side compared with is over: a preposition or a clause of setting
# ("outperforms B on three benchmarks", "than B when data is scarce").
_PHRASE_ENDS = frozenset(
    """on in at for with when across under over during while by via using from which that
    who where if""".split()
)


@dataclass(frozen=True)
class Comparison:
    """One comparison of a sentence: the scale ("better" for who wins; a comparative's upper
    word, with the word it qualifies: "higher", "latency"), the words of the side ahead and
    of the side behind (the ones nearest the cue)."""

    scale: str
    head: str | None
    ahead: tuple[str, ...]
    behind: tuple[str, ...]
    cue: str = ""  # the verb or comparative, lower-cased ("trails", "lower")


def comparisons(text: str, reach: int = 12) -> list[Comparison]:
    """The comparisons of a sentence: "A outperforms B", "B is outperformed by A", "A has
    lower latency than B", "A reaches higher accuracy compared to B", "A is superior to B".
    Each side is the ``reach`` words nearest the cue: before it (the sentence up to it), and
    after it up to the end of its clause. Comparisons under a negation ("neither performs
    better than", "does not outperform") and bounds of quantities ("more than 100 tokens",
    "rather than") are left out."""
    found: list[Comparison] = []
    tokens = [(m.group(), m.start(), m.end()) for m in _LOOSE.finditer(text)]
    lower = [t[0].lower() for t in tokens]

    def right_of(index: int) -> list[str]:
        start = tokens[index][2] if index < len(tokens) else len(text)
        stop = _CLAUSE_BREAK.search(text, start)
        end = stop.start() if stop else len(text)
        words = [w for w, s, _ in tokens[index + 1 :] if s < end][:reach]
        # the noun phrase compared with, not the setting after it ("… on ImageNet")
        cut = next((k for k, w in enumerate(words) if k and w.lower() in _PHRASE_ENDS), None)
        return words[:cut]

    def left_of(index: int) -> list[str]:
        # the subject in the cue's own clause; a participle opening its clause ("…,
        # outpacing B") takes the one before
        clause_start = (
            max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, tokens[index][1])), default=0)
            if index < len(tokens)
            else 0
        )
        own = [w for w, s, _ in tokens[:index] if s >= clause_start]
        words = own or [w for w, _, _ in tokens[:index]]
        return [w for w in words if not w.lower().endswith("ly")][-reach:]

    def negated_before(index: int) -> bool:
        """Whether the clause holding the word at ``index`` negates it ("does not
        outperform", "neither performs better")."""
        clause_start = max(
            (m.end() for m in _CLAUSE_BREAK.finditer(text, 0, tokens[index][1])), default=0
        )
        before = [lower[k] for k in range(index) if tokens[k][1] >= clause_start]
        return predicate_negated(before) or bool({"neither", "nor", "no"} & set(before))

    for i, word in enumerate(lower):
        particle = i + 1 < len(lower) and lower[i + 1] in _COMPARING_PARTICLES.get(word, ())
        if word in _NEEDS_PARTICLE and not particle:
            continue
        if word in _AHEAD_VERBS or word in _BEHIND_VERBS or particle:
            if negated_before(i):
                continue
            passive = (i >= 1 and lower[i - 1] in _BE) or (
                i >= 2 and lower[i - 2] in _BE and lower[i - 1].endswith("ly")
            )
            after = i + 2 if passive and i + 1 < len(lower) and lower[i + 1] == "by" else i
            if passive and after == i:
                continue  # "is exceeded" with no "by": no second side
            if particle:
                after = i + 2 if i + 2 < len(lower) and lower[i + 2] == "of" else i + 1
            left = left_of(i - 1 if passive else i)
            right = right_of(after)
            ahead_verb = word in _AHEAD_VERBS or word.startswith("improv")
            subject_ahead = ahead_verb != passive
            ahead, behind = (left, right) if subject_ahead else (right, left)
            found.append(Comparison("better", None, tuple(ahead), tuple(behind), word))
        else:
            compared = i >= 1 and (lower[i - 1], word) in _COMPARED
            superior_to = word == "to" and i >= 1 and lower[i - 1] in ("superior", "inferior")
            than = word == "than" and not (i >= 1 and lower[i - 1] in ("rather", "other"))
            if not (compared or superior_to or than):
                continue
            cue_start = i - 1 if compared else i
            # the comparative before "than" is near it; "compared to" takes every one of
            # the words before it ("lower latency and higher throughput compared to")
            depth = 12 if compared else 4
            window = range(cue_start - 1, max(-1, cue_start - 1 - depth), -1)
            marks = [
                k for k in window if lower[k] in _COMPARATIVES_UP or lower[k] in _COMPARATIVES_DOWN
            ]
            if than and marks and marks[0] == i - 1 and lower[i - 1] in ("more", "less", "fewer"):
                continue  # a bound of a quantity: "fewer than a hundred tokens"
            if not marks or negated_before(marks[-1]):
                continue
            if not compared:
                marks = marks[:1]  # "than" and "to" compare by the nearest comparative
            right = right_of(i)
            left = left_of(min(marks))
            for k in marks:
                comparative = lower[k]
                up = comparative in _COMPARATIVES_UP
                scale = comparative if up else _COMPARATIVES_DOWN[comparative]
                head = lower[k + 1] if k + 1 < cue_start else None
                if scale in _GENERAL_AHEAD and head is None:
                    scale = "better"
                ahead, behind = (left, right) if up else (right, left)
                found.append(Comparison(scale, head, tuple(ahead), tuple(behind), comparative))
    return found
