"""Figures: the numbers a question, an abstract or a claim states, with their units.

Three readings of "a figure", each for its job:
- :func:`query_figures`: every number of two or more characters a user typed ("77.4",
  "102"), for retrieval's exact-figure bonus and the relevance gate;
- :func:`stated_figures`: the same, less numbers inside a name ("ResNet-50", "GPT-4o")
  and years, for the premise checks; :func:`unit_of` reads the unit the question gives
  one ("99%", "100x", "20 minutes") and :func:`reports` whether a text states it so;
- :func:`claim_figures`: numbers with a unit, decimals and numbers of two or more digits
  in a claim, for the claim check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.text.words import NOUN_PHRASE_OPENERS

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DIGIT = re.compile(r"\d")
# A figure the user states: not part of a name ("ResNet-50", "GPT-4o") and not a year.
_STATED_FIGURE = re.compile(r"(?<![A-Za-z\d.])(?<![A-Za-z]-)\d+(?:\.\d+)?(?![\d])")
_YEAR = re.compile(r"^(19[5-9]\d|20[0-4]\d)$")
# "77.4", "102", "3x", "5%": numbers of two or more characters, or any number with a unit.
_CLAIM_FIGURE = re.compile(r"\d+(?:[.,]\d+)*(?=\s*(?:%|x\b|×))|\d+(?:[.,]\d+)+|\d{2,}")
# Units a result is given in, and how a text may write them.
RESULT_UNITS = {"%": r"\s?%", "x": r"\s?(?:x|×|times)\b", "×": r"\s?(?:x|×|times)\b"}
# Units a measured figure is stated in: "20 minutes" is not reported by "20 layers".
MEASURE_UNITS = frozenset(
    (
        "ms milliseconds sec secs seconds min mins minutes hr hrs hours days weeks fps gb mb "
        "kb tb gib mib watts mj kwh epochs gpus tpus"
    ).split()
)


def query_figures(query: str) -> list[str]:
    """Numbers a user typed ("77.4", "102"); single digits are too common to count."""
    return [figure for figure in _NUMBER.findall(query) if len(figure) >= 2]


def has_number(text: str) -> bool:
    return bool(_DIGIT.search(text))


def holds_figures(text: str, figures: Sequence[str]) -> bool:
    """Whether every figure occurs in ``text`` as a number of its own (77.4 ≠ 177.45)."""
    return bool(figures) and all(
        re.search(rf"(?<![\d.]){re.escape(figure)}(?![\d])", text) for figure in figures
    )


def stated_figures(question: str) -> list[str]:
    """Numbers of two or more characters the question states (decimals count)."""
    return [
        figure
        for figure in _STATED_FIGURE.findall(question)
        if len(figure) >= 2 and not _YEAR.match(figure)
    ]


def claim_figures(text: str) -> set[str]:
    """The figures a claim states, thousands separators dropped ("1,024" → "1024")."""
    return {figure.replace(",", "") for figure in _CLAIM_FIGURE.findall(text)}


def unit_of(question: str, figure: str) -> str | None:
    """The unit the question writes the figure with: "%" or "x" ("99%", "100x"), or a unit
    of measure ("20 minutes", "8 GPUs", lower-cased); None for a bare number."""
    found = re.search(rf"(?<![\d.]){re.escape(figure)}\s?(%|x\b|×|[A-Za-z]+\b)?", question)
    unit = (found.group(1) or "") if found else ""
    if unit in RESULT_UNITS:
        return unit
    return unit.lower() if unit.lower() in MEASURE_UNITS else None


def reports(text: str, figure: str, unit: str | None) -> bool:
    """Whether ``text`` states the figure with that unit ("99%" is not "99 ms")."""
    if unit is None:
        return holds_figures(text, [figure])
    singular = unit[:-1] if unit.endswith("s") and len(unit) > 3 else unit  # "GPUs" ~ "GPU"
    pattern = RESULT_UNITS.get(unit) or rf"\s?{re.escape(singular)}"
    return bool(re.search(rf"(?<![\d.]){re.escape(figure)}{pattern}", text, re.IGNORECASE))


def result_with_unit(text: str, unit: str) -> tuple[str, str] | None:
    """The first figure ``text`` gives in a result unit: (the number, as written)."""
    found = re.search(rf"(?<![\d.])(\d+(?:\.\d+)?){RESULT_UNITS[unit]}", text)
    return (found.group(1), found.group(0).strip()) if found else None


def as_written(question: str, figures: Sequence[str]) -> list[str]:
    """The figures as the question wrote them, with their units ("85.2%", "300 FPS")."""
    items = []
    for figure in dict.fromkeys(figures):
        unit = re.search(
            rf"(?<![\d.]){re.escape(figure)}(\s?(?:%|×|x\b|[A-Za-z]{{1,12}}\b))?", question
        )
        items.append(figure + (unit.group(1) or "") if unit else figure)
    return items


# --- quantities: every number a claim states, normalised so paraphrases compare equal ------
_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "twenty": 20,
    "hundred": 100,
    "thousand": 1000,
    "twice": 2,
    "double": 2,
    "triple": 3,
    "half": 0.5,
}
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
_MAGNITUDES = {
    "k": "thousand",
    "thousand": "thousand",
    "m": "million",
    "million": "million",
    "mn": "million",
    "b": "billion",
    "bn": "billion",
    "billion": "billion",
    "t": "trillion",
    "trillion": "trillion",
}
_UNIT_WORDS = {
    "%": "%",
    "percent": "%",
    "per cent": "%",
    "x": "x",
    "×": "x",
    "times": "x",
    "fold": "x",
    "-fold": "x",
}
_QUANTITY = re.compile(
    r"(?<![\w.])(?P<number>\d+(?:,\d{3})*(?:\.\d+)?)"
    r"(?P<unit>\s?(?:%|percent|per cent|×|x\b|times\b|-?fold\b)"
    r"|\s?(?:[kKmMbBtT]|bn|mn)\b|\s(?:thousand|million|billion|trillion)\b)?"
    r"|(?<![\w-])(?P<word>two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|hundred|thousand|twice|double|triple|half)\b(?:\s(?P<wordunit>times|fold)\b)?"
    r"|(?<![\w-])(?P<ordinal>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)"
    r"(?=\s(?:place|rank|position|prize))",
    re.IGNORECASE,
)


_RANGE_START = re.compile(r"\d(?:[xX×%])?\s?[-–]\s?$")


def _in_name(text: str, start: int) -> bool:
    """A number glued to a name ("GPT4", "ResNet-50"), not one ending a range ("4x-9x")."""
    before = text[max(0, start - 8) : start]
    if before[-1:].isalpha():
        return True
    return (
        before.endswith("-")
        and len(before) > 1
        and before[-2].isalnum()
        and not (_RANGE_START.search(before))
    )


@dataclass(frozen=True)
class Quantity:
    """A number as a claim or a passage states it: value, unit ("%", "x", a magnitude,
    "rank") or None, and where it stands."""

    value: float
    unit: str | None
    start: int
    end: int
    written: str

    def matches(self, other: Quantity) -> bool:
        """Whether ``other`` states this quantity: the same value, and this one's unit when
        it has one ("2 million" is not "2 billion", "16%" is not "16 GB"); a bare number
        is matched by the same number with any unit ("93" by "93%")."""
        if abs(self.value - other.value) > 1e-9 * max(1.0, abs(self.value)):
            return False
        return self.unit is None or self.unit == other.unit


def quantities(text: str, *, in_names: bool = True) -> list[Quantity]:
    """Every quantity of ``text`` ("77.4%", "3x", "three", "5 times", "1.3M", "second
    place"); ``in_names=False`` leaves out numbers inside names ("ResNet-50", "GPT-4")."""
    found = []
    for match in _QUANTITY.finditer(text):
        start = match.start()
        if match.group("number") is not None:
            if not in_names and _in_name(text, start):
                continue
            value = float(match.group("number").replace(",", ""))
            unit_text = (match.group("unit") or "").strip().lower().lstrip("-")
            unit = _UNIT_WORDS.get(unit_text) or _MAGNITUDES.get(unit_text)
            if unit_text == "fold":
                unit = "x"
        elif match.group("word") is not None:
            word = match.group("word").lower()
            value = float(_NUMBER_WORDS[word])
            unit = "x" if match.group("wordunit") or word in ("twice", "double", "triple") else None
        else:
            value, unit = float(_ORDINALS[match.group("ordinal").lower()]), "rank"
        found.append(Quantity(value, unit, start, match.end(), match.group(0)))
    return found


_RANGE_GAP = re.compile(r"^\s*(?:-|–|to)\s*$")


def ranges(text: str, found: Sequence[Quantity]) -> list[list[Quantity]]:
    """The quantities grouped into ranges: "4x-9x", "10 to 20%" are one figure each."""
    groups: list[list[Quantity]] = []
    for quantity in found:
        if groups and _RANGE_GAP.match(text[groups[-1][-1].end : quantity.start]):
            groups[-1].append(quantity)
        else:
            groups.append([quantity])
    return groups


# Between figures stated as one list ("56.3 times and 31.2 times", "3.9, 4.1 and 3.4").
_LIST_GAP = re.compile(r"^\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|or\s+)$")
# Where the words a list of figures is about end: the clause's end.
_CLAUSE_END = re.compile(r"[.;:()]|,(?!\s*respectively)")
# A two-item list after figures, its items up to three words ("on FLOPs and model size",
# "over U-Net and wide U-Net, respectively").
_PAIR_LIST = re.compile(
    r"(?P<first>[\w+-]+(?:\s+[\w+-]+){0,2}?)\s+and\s+(?P<second>[\w+-]+(?:\s+[\w+-]+){0,2})"
    r"\s*(?:,?\s*respectively)?\s*$"
)


def coordinated(text: str, found: Sequence[Quantity]) -> list[list[Quantity]]:
    """The quantities stated as one list ("56.3 times and 31.2 times"), in order; a
    quantity stated alone is a list of one."""
    groups: list[list[Quantity]] = []
    for quantity in found:
        if groups and _LIST_GAP.match(text[groups[-1][-1].end : quantity.start]):
            groups[-1].append(quantity)
        else:
            groups.append([quantity])
    return groups


def respective_items(text: str, group: Sequence[Quantity]) -> list[str] | None:
    """What each figure of a two-figure list measures, when the rest of its clause ends in
    a two-item list ("3.9 and 3.4 points over U-Net and wide U-Net, respectively": "U-Net",
    "wide U-Net"), paired in order; None otherwise."""
    if len(group) != 2:
        return None
    rest = text[group[-1].end :]
    end = _CLAUSE_END.search(rest)
    rest = rest[: end.start()] if end else rest
    match = _PAIR_LIST.search(rest.strip())
    if match is None:
        return None
    first = match.group("first").split()
    # the first item begins after the last determiner or preposition ("on FLOPs")
    openers = [i for i, word in enumerate(first) if word.lower() in NOUN_PHRASE_OPENERS]
    first = first[openers[-1] + 1 :] if openers else first
    second = match.group("second").split()
    while second and second[0].lower() in NOUN_PHRASE_OPENERS:  # "and the news corpus"
        second = second[1:]
    if not first or not second or any(w.lower() in NOUN_PHRASE_OPENERS for w in second):
        return None
    return [" ".join(first), " ".join(second)]
