"""Sentence splitting against hand-checked splits: the splitter in use and the candidates.

    python benchmarks/sentence_bench.py [eval/sentences_dev.jsonl …] [--misses NAME]

Each case of ``eval/sentences_*.jsonl`` is ``{"id", "kind": "abstract" | "answer",
"source", "text", "sentences": [the gold sentences, as written in the text]}``: real
abstracts of the bundled corpus (their hard spots: "e.g.", "i.e.", "et al.", "vs.", "St.",
"etc.", "w.r.t.", lowercase names and digits opening a sentence, URLs, versions), answers
of ``eval/claims_*.jsonl``, and written answers and abstracts with citation markers
("[1].", ". [1]", "[1][2].", "[unsupported].") and the abbreviations the corpus lacks
("Fig.", "approx.", "Sec.", "resp."). A boundary is where a sentence ends (its text
stripped); per splitter: boundary precision and recall over all cases, the share of cases
split exactly, and the time per text. The dev file is for tuning; the held-out one is not.

Candidates: ``regex (before)`` is the splitter this one replaced (kept here to compare);
``punkt, no model`` is what llama-index's ``SentenceSplitter`` uses (an untrained
``PunktSentenceTokenizer``); ``punkt english`` is NLTK's English model as it comes;
pysbd and syntok are measured when installed (they are not dependencies).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from common import ROOT

from assistant.core import sentence_split
from assistant.text import sentences

Spans = Callable[[str], Sequence[tuple[int, int]]]

_OLD_END = re.compile(r"[.!?](?:\s*\[\d+\])*(?=\s+[A-Z0-9(\"'*])")


def regex_before(text: str) -> list[tuple[int, int]]:
    """The regex splitter this one replaced, as it was."""
    spans = []
    start = 0
    for end in _OLD_END.finditer(text):
        spans.append((start, end.end()))
        rest = text[end.end() :]
        start = end.end() + len(rest) - len(rest.lstrip())
    spans.append((start, len(text)))
    return spans


def candidates() -> dict[str, Spans]:
    import nltk.data
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTokenizer

    found: dict[str, Spans] = {"regex (before)": regex_before}
    bare = PunktSentenceTokenizer()
    found["punkt, no model"] = lambda text: list(bare.span_tokenize(text))
    # the English model as llama-index-core ships it (its _static/nltk_cache)
    spec = importlib.util.find_spec("llama_index.core")
    for location in spec.submodule_search_locations if spec else []:
        nltk.data.path.append(str(Path(location) / "_static" / "nltk_cache"))
    english = PunktTokenizer("english")
    found["punkt english"] = lambda text: list(english.span_tokenize(text))
    try:
        import pysbd

        segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
        found["pysbd"] = lambda text: [(s.start, s.end) for s in segmenter.segment(text)]
    except ImportError:
        pass
    try:
        from syntok import segmenter as syntok_segmenter

        def syntok(text: str) -> list[tuple[int, int]]:
            return [
                (sentence[0].offset, sentence[-1].offset + len(sentence[-1].value))
                for paragraph in syntok_segmenter.analyze(text)
                for sentence in paragraph
            ]

        found["syntok"] = syntok
    except ImportError:
        pass
    found["in use (assistant/text/sentences)"] = sentences.sentence_spans
    return found


def gold_boundaries(case: dict) -> set[int]:
    """Where each gold sentence but the last ends, as offsets into the text."""
    ends, position = [], 0
    for sentence in case["sentences"]:
        position = case["text"].index(sentence, position) + len(sentence)
        ends.append(position)
    return set(ends[:-1])


def boundaries(spans: Sequence[tuple[int, int]], text: str) -> set[int]:
    """Where each span but the last ends, trailing whitespace left out."""
    return {start + len(text[start:end].rstrip()) for start, end in list(spans)[:-1]}


def score(split: Spans, cases: Sequence[dict]) -> dict[str, float]:
    found = right = expected = exact = 0
    for case in cases:
        gold, got = gold_boundaries(case), boundaries(split(case["text"]), case["text"])
        found += len(got)
        expected += len(gold)
        right += len(gold & got)
        exact += gold == got
    precision = right / found if found else 1.0
    recall = right / expected if expected else 1.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "exact": exact / len(cases),
    }


def misses(split: Spans, cases: Sequence[dict]) -> list[str]:
    lines = []
    for case in cases:
        text = case["text"]
        gold, got = gold_boundaries(case), boundaries(split(text), text)
        for kind, wrong in (("split wrongly", got - gold), ("not split", gold - got)):
            for at in sorted(wrong):
                lines.append(
                    f"{case['id']} {kind}: …{text[max(0, at - 50) : at]!r} | {text[at : at + 30]!r}…"
                )
    return lines


def ms_per_text(split: Spans, texts: Sequence[str], rounds: int = 3) -> float:
    split(texts[0])  # first-call costs (model loading)
    cache_clear = getattr(getattr(sentence_split, "_spans", None), "cache_clear", None)
    if cache_clear:  # the splitter in use caches by text: time it uncached
        cache_clear()
    began = time.perf_counter()
    for round in range(1, rounds + 1):
        for text in texts:
            split(text + " " * round)  # a new string each round: no cache
    return (time.perf_counter() - began) * 1000 / (rounds * len(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = [ROOT / "eval" / "sentences_dev.jsonl", ROOT / "eval" / "sentences_holdout.jsonl"]
    parser.add_argument("files", type=Path, nargs="*", default=default)
    parser.add_argument("--misses", metavar="NAME", help="list the misses of one candidate")
    parser.add_argument("--by-kind", action="store_true", help="abstracts and answers apart")
    args = parser.parse_args()
    splitters = candidates()
    print(f"{'splitter':38}{'cases':26}{'P':>7}{'R':>7}{'F1':>7}{'exact':>7}{'ms/text':>9}")
    for path in args.files:
        cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        groups = {"": cases}
        if args.by_kind:
            for kind in ("abstract", "answer"):
                groups[f" {kind}s"] = [case for case in cases if case["kind"] == kind]
        for suffix, group in groups.items():
            label = f"{path.stem}{suffix} ({len(group)})"
            texts = [case["text"] for case in group]
            for name, split in splitters.items():
                s = score(split, group)
                print(
                    f"{name:38}{label:26}{s['precision']:7.3f}{s['recall']:7.3f}"
                    f"{s['f1']:7.3f}{s['exact']:7.3f}{ms_per_text(split, texts):9.2f}"
                )
        if args.misses:
            match = next((n for n in splitters if n.startswith(args.misses)), None)
            if match:
                print("\n".join(misses(splitters[match], cases)))
        print()


if __name__ == "__main__":
    main()
