"""How a question is put: what kind of answer it asks for, whether it refers back, whether
it asks two things at once, whether it quotes a title.
"""

from __future__ import annotations

import re

from assistant.text.words import STOPWORDS

# What a request for papers asks for ("Which papers …", "List the methods …").
_KIND = (
    r"(?:papers?|works?|stud(?:y|ies)|articles?|publications?|methods?|approach(?:es)?|techniques?)"
)
# A request for papers that opens a question says what kind of answer is wanted, not what it
# is about: left in, "papers" and "study" would count as search terms.
_OPENING_REQUEST = re.compile(
    rf"^\s*(?:(?:which|what)\s+(?:other\s+)?{_KIND}"
    rf"|(?:is|are)\s+there\s+(?:any\s+|a\s+|an\s+)?{_KIND}"
    rf"|(?:does|do)\s+any\s+{_KIND}"
    rf"|(?:please\s+)?(?:find|list|show|name|give)(?:\s+me)?(?:\s+(?:the|all|any|some))?\s+{_KIND}"
    rf")(?:\s+(?:in\s+the\s+corpus|here))?(?:\s+(?:that|which|on|about))?\s+",
    re.IGNORECASE,
)
# "Which papers …", "list methods that …": the answer is several papers, not one.
_ASKS_FOR_PAPERS = re.compile(
    r"^\s*(which|what|list|name|find|show( me)?|give( me)?|are there( any)?|any|compare)\b"
    r"[^?]*?\b(papers|works|studies|articles|publications|methods|approaches|techniques)\b",
    re.IGNORECASE,
)
# A pronoun for something already chosen ("which methods did they compare?").
_PRONOUN_BACK = re.compile(r"\b(they|their|them|it|its)\b", re.IGNORECASE)
# Any reference back to the conversation's subject ("the authors", "this model", "above").
_BACK_REFERENCE = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|he|she|his|her|these|those|"
    r"(this|that|the) (paper|papers|method|model|models|approach|work|authors?|study|technique|"
    r"framework|network|architecture|system|dataset|results|variant)|above|previous|"
    r"aforementioned)\b",
    re.IGNORECASE,
)
ASKS_FOR_FIGURE = re.compile(
    r"\b(how (much|many|far|fast|large|big|long|deep|accurate(ly)?|well|quickly|small)|"
    r"by how much|what (\w+ )?(accuracy|score|speed-?up|gain|latency|throughput|fid|rate|"
    r"percentage|size|improvement|error|reduction|savings?)|which (score|accuracy))\b",
    re.IGNORECASE,
)
ASKS_FOR_NAME = re.compile(
    r"\b((which|what) (\w+ ){0,2}(datasets?|benchmarks?|data|tasks?|products?|models?|"
    r"baselines?|architectures?|encoders?|hospital|metric)|on which|where|evaluated on|tested)\b",
    re.IGNORECASE,
)
# A second question joined on ("…, and how much …?"), or two question marks.
_COMPOUND = re.compile(r",? and (how|what|which|where|by how)\b|\?.*\?", re.IGNORECASE)
# Where one sub-question ends and the next begins: before "and how/what/…", after a "?".
_SUB_QUESTION_BREAK = re.compile(r",? and (?=(?:how|what|which|where|by how)\b)|\?\s*", re.I)
# Quoted text of twelve characters or more: '…', "…", “…”, ‘…’.
_QUOTED = re.compile(
    r"(?:^|(?<=[\s(]))(?:'([^']{12,300})'|\"([^\"]{12,300})\"|“([^”]{12,300})”|‘([^’]{12,300})’)"
)
_WORDS = re.compile(r"\w+")
# A question about two or more things at once ("How do X and Y differ", "Compare X with Y",
# "what did each find"): several papers are expected, not one. Two subjects joined by
# "and" right after the auxiliary ("How do CQ and CSKV exploit …") and taken up again as
# several ("…, and what did each find?", "…, and how much do they reach?") ask about both.
_COMPARES = re.compile(
    r"\b(?:compare[sd]?|comparing|comparison|versus|vs\.?|differ|differs|difference|"
    r"differences|contrast)\b"
    r"|\b(?:do|does|did)\b[^?]{1,80}\band\b[^?]{1,80}\beach\b"
    r"|\b(?:do|did|are|were|have)\s+(?:[\w()'-]+\s+){1,4}and\s+[^?]{1,160}"
    r"\b(?:they|each|both)\b",
    re.IGNORECASE,
)
# An answer that says the sources hold no answer ("The indexed papers do not answer …").
_DECLINE = re.compile(
    r"\b(?:(?:do|does|did)\s+not|don't|doesn't)\s+(?:\w+\s+)?"
    r"(?:answer|contain|mention|provide|address|cover|include|say|discuss|describe|report)"
    r"|\b(?:cannot|can't|unable\s+to)\s+(?:be\s+)?(?:answer|find|determine|tell)"
    r"|\bno\s+(?:information|mention|details?|evidence)\b"
    r"|\bnot\s+(?:enough|sufficient)\s+information\b",
    re.IGNORECASE,
)


def search_text(query: str) -> str:
    """What retrieval searches for: the query without an opening request for papers (as
    asked when nothing but stopwords would be left: "Which papers are there?")."""
    focused = _OPENING_REQUEST.sub("", query, count=1)
    words = (word.lower() for word in _WORDS.findall(focused))
    return focused if any(word not in STOPWORDS for word in words) else query


def compares(question: str) -> bool:
    """Whether the question asks about several things side by side (a comparison)."""
    return bool(_COMPARES.search(question))


def declines(answer: str) -> bool:
    """Whether an answer says the sources do not answer the question."""
    return bool(_DECLINE.search(answer))


def asks_for_papers(question: str) -> bool:
    """Whether the question asks for several papers (a topic), not about one paper."""
    return bool(_ASKS_FOR_PAPERS.search(question)) and not _PRONOUN_BACK.search(question)


def refers_back(message: str) -> bool:
    """Whether the message points back at the conversation's subject ("they", "this model")."""
    return bool(_BACK_REFERENCE.search(message))


def asks_for_figure(question: str) -> bool:
    return bool(ASKS_FOR_FIGURE.search(question))


def asks_for_name(question: str) -> bool:
    return bool(ASKS_FOR_NAME.search(question))


def is_compound(question: str) -> bool:
    """Two questions in one ("…, and which languages was it tested on?")."""
    return bool(_COMPOUND.search(question))


def sub_questions(question: str, min_words: int) -> list[str]:
    """The questions a compound question asks ("How deep is the autoencoder …, and which
    languages was it tested on?" → two); one question gives an empty list. A part of
    fewer than ``min_words`` words is not a question of its own."""
    parts = [p.strip() for p in _SUB_QUESTION_BREAK.split(question) if p.strip()]
    parts = [p for p in parts if len(p.split()) >= min_words]
    return parts if len(parts) >= 2 else []


def quoted_passages(question: str) -> list[str]:
    """Text the question puts in quotes (twelve characters or more)."""
    return [next(group for group in m.groups() if group) for m in _QUOTED.finditer(question)]


def looks_like_title(text: str) -> bool:
    """Three words or more, most of the longer ones capitalised (titles are title-cased),
    or a colon between a name and a subtitle; "fire together, wire together" is a quote."""
    words = text.split()
    if len(words) < 3:
        return False
    long_words = [w for w in words if len(w) > 3] or words
    capitalised = sum(w[0].isupper() for w in long_words) / len(long_words)
    return capitalised >= 0.6 or (":" in text and words[0][0].isupper())
