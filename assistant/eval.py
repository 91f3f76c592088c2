"""``python -m assistant.eval FILE.jsonl [FILE …] [--baseline] [--json] [--misses]
[--tuning FILE] [--set group.field=value …]``.

Retrieval and answer quality of the engine as configured (extractive, or your own LLM:
the figures measure whatever backend the settings select). Each line of a file is a case:

- ``{"type": "single", "question", "gold": [title], "facts": [strings]}``: hit@1/5/10 and
  MRR; the asked paper cited; citation precision; fact recall (each fact, a short string of
  the gold abstract, present in the answer);
- ``{"type": "topic", "question", "gold": [titles…]}``: recall@10 (against
  min(len(gold), 10)); citation precision and recall;
- ``{"type": "unanswerable", "question"}``: should be declined;
- ``{"type": "false_premise", "kind", "question"}``: should be flagged (``premise_issues``)
  or declined; kinds: wrong_figure, absent_title, wrong_domain, no_combination;
- ``{"type": "conversation", "turns": [{"question", "expect", "gold", "facts"}, …]}``: turns
  are asked in order with the conversation so far; ``expect`` is new, follow_up (first
  citation is the conversation's paper), switch (first citation is the new paper) or
  off_corpus (declined). Turns without ``expect`` are follow-ups after the first.

Also: citations valid (a retrieved corpus paper; must be 100%), claim support (claims the
engine's own check marks supported), answerable questions wrongly declined or flagged,
search / answer latency. ``--tuning`` and ``--set`` run a variant of the tuned values
(``assistant/tuning.py``) without editing code; every report names the values' hash.
``--baseline`` measures, in the same run, a naive llama-index
``VectorStoreIndex`` (one node per abstract, default settings, same embedding model).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.schema import normalize_text
from assistant.core.settings import Settings
from assistant.markup import from_literal


def percentile(values: Sequence[float], q: float) -> float:
    """The value at rank q% (nearest rank); NaN for no values. Benchmarks use it too."""
    return float(np.percentile(values, q, method="nearest")) if values else float("nan")


def _mean(values: Sequence[float | bool]) -> float:
    return float(statistics.fmean(values)) if values else float("nan")


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


@dataclass
class Report:
    name: str
    ranks: list[int | None] = field(default_factory=list)  # gold rank per single question
    topic_recall: list[float] = field(default_factory=list)
    search_ms: list[float] = field(default_factory=list)
    # answers (filled by evaluate_assistant only)
    answered_any: bool = False
    asked_paper_cited: list[bool] = field(default_factory=list)
    single_cited: int = 0
    single_cited_gold: int = 0
    topic_cited: int = 0
    topic_cited_gold: int = 0
    topic_gold: int = 0
    facts: list[bool] = field(default_factory=list)
    follow_up_facts: list[bool] = field(default_factory=list)
    claims: int = 0
    claims_supported: int = 0
    unanswerable_declined: list[bool] = field(default_factory=list)
    premises_flagged: list[bool] = field(default_factory=list)
    answerable_declined: list[bool] = field(default_factory=list)
    turns: dict[str, list[bool]] = field(default_factory=dict)
    citations_total: int = 0
    citations_valid: int = 0
    answer_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def hit_at(self, k: int) -> float:
        return _mean([r is not None and r <= k for r in self.ranks])

    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "system": self.name,
            "single_questions": len(self.ranks),
            "hit@1": self.hit_at(1),
            "hit@5": self.hit_at(5),
            "hit@10": self.hit_at(10),
            "mrr": _mean([1.0 / r if r else 0.0 for r in self.ranks]),
            "topic_questions": len(self.topic_recall),
            "topic_recall@10": _mean(self.topic_recall),
            "search_p50_ms": percentile(self.search_ms, 50),
            "search_p95_ms": percentile(self.search_ms, 95),
        }
        if not self.answered_any:
            return result
        result.update(
            {
                "single: asked paper cited": _mean(self.asked_paper_cited),
                "single: citation precision": _ratio(self.single_cited_gold, self.single_cited),
                "single: fact recall": _mean(self.facts),
                "topic: citation precision": _ratio(self.topic_cited_gold, self.topic_cited),
                "topic: citation recall": _ratio(self.topic_cited_gold, self.topic_gold),
                "claims supported": _ratio(self.claims_supported, self.claims),
                "citations valid": _ratio(self.citations_valid, self.citations_total),
                "unanswerable declined": _mean(self.unanswerable_declined),
                "false premises flagged/declined": _mean(self.premises_flagged),
                "answerable wrongly declined": _mean(self.answerable_declined),
                "turns: follow-up kept": _mean(self.turns.get("follow_up", [])),
                "turns: follow-up fact recall": _mean(self.follow_up_facts),
                "turns: subject switched": _mean(self.turns.get("switch", [])),
                "turns: off-corpus declined": _mean(self.turns.get("off_corpus", [])),
                "answer_p50_ms": percentile(self.answer_ms, 50),
                "answer_p95_ms": percentile(self.answer_ms, 95),
            }
        )
        return result


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                cases.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise SystemExit(f"error: {path}:{number}: malformed JSON ({error.msg})") from error
    return cases


def _timed(call: Callable[[], Any], sink: list[float]) -> Any:
    began = time.perf_counter()
    result = call()
    sink.append((time.perf_counter() - began) * 1000)
    return result


def holds_fact(text: str, fact: str) -> bool:
    """A fact counts when the answer holds it, ignoring case, spacing and character references."""
    folded = normalize_text(from_literal(text)).casefold()
    return normalize_text(fact).casefold() in folded


def evaluate_retrieval(
    name: str, search: Callable[[str, int], list[str]], cases: Sequence[dict[str, Any]]
) -> Report:
    """Ranking metrics for any ``search(question, k) -> titles`` function."""
    report = Report(name)
    for case in cases:
        if case["type"] not in ("single", "topic"):
            continue
        titles = _timed(lambda c=case: search(c["question"], 10), report.search_ms)
        gold = case["gold"]
        if case["type"] == "single":
            rank = next((i for i, t in enumerate(titles, start=1) if t in gold), None)
            report.ranks.append(rank)
            if rank != 1:
                report.misses.append(f"rank {rank}: {case['question']}")
        else:
            found = len(set(titles[:10]) & set(gold))
            report.topic_recall.append(found / min(len(gold), 10))
    return report


def _flagged(answer: Any) -> bool:
    return not answer.answered or bool(answer.premise_issues)


def _issues(answer: Any) -> str:
    """Why an answer counts as flagged: its premise issues' kinds, or "declined"."""
    kinds = [issue.kind for issue in answer.premise_issues]
    return ", ".join(kinds) if kinds else "declined"


def evaluate_assistant(engine: Any, cases: Sequence[dict[str, Any]]) -> Report:
    """Retrieval metrics plus answer metrics, asking every question through the engine."""
    report = evaluate_retrieval(
        "hybrid (this project)",
        lambda q, k: [hit.title for hit in engine.search(q, k=k)],
        cases,
    )
    report.answered_any = True
    corpus_titles = {paper.title for paper in engine.catalog.papers.values()}

    def answer_checks(answer: Any) -> list[str]:
        # What the engine retrieves for the searched query, found independently of the answer.
        retrieved = {hit.title for hit in engine.search(answer.query, k=engine.settings.top_k)}
        titles = [c.title for c in answer.citations]
        report.citations_total += len(titles)
        report.citations_valid += sum(t in corpus_titles and t in retrieved for t in titles)
        report.claims += len(answer.claims)
        report.claims_supported += sum(c.verdict == "supported" for c in answer.claims)
        return titles

    def ask(question: str, history: list[tuple[str, str]] | None = None) -> Any:
        return _timed(lambda: engine.chat(question, history or []), report.answer_ms)

    for case in cases:
        kind, question = case["type"], case.get("question", "")
        if kind == "single":
            answer = ask(question)
            titles = answer_checks(answer)
            gold = set(case["gold"])
            report.answerable_declined.append(_flagged(answer))
            report.asked_paper_cited.append(bool(gold & set(titles)))
            report.single_cited += len(titles)
            report.single_cited_gold += len(gold & set(titles))
            facts = [holds_fact(answer.text, fact) for fact in case.get("facts", [])]
            report.facts.extend(facts)
            if _flagged(answer):
                report.misses.append(f"single flagged: {question} → {_issues(answer)}")
            elif not gold & set(titles) or not all(facts):
                report.misses.append(f"single: {question} → {titles[:3]} facts {facts}")
        elif kind == "topic":
            answer = ask(question)
            titles = answer_checks(answer)
            gold = set(case["gold"])
            report.answerable_declined.append(_flagged(answer))
            report.topic_cited += len(titles)
            report.topic_cited_gold += len(gold & set(titles))
            report.topic_gold += len(gold)
            if _flagged(answer):
                report.misses.append(f"topic flagged: {question} → {_issues(answer)}")
        elif kind == "unanswerable":
            answer = ask(question)
            answer_checks(answer)
            report.unanswerable_declined.append(not answer.answered)
            if answer.answered:
                report.misses.append(f"answered unanswerable: {question}")
        elif kind == "false_premise":
            answer = ask(question)
            answer_checks(answer)
            report.premises_flagged.append(_flagged(answer))
            if not _flagged(answer):
                report.misses.append(f"premise not flagged ({case.get('kind')}): {question}")
        elif kind == "conversation":
            history: list[tuple[str, str]] = []
            for number, turn in enumerate(case["turns"]):
                expect = turn.get("expect") or ("new" if number == 0 else "follow_up")
                answer = ask(turn["question"], history)
                titles = answer_checks(answer)
                gold = turn.get("gold", [])
                if expect == "off_corpus":
                    ok = not answer.answered
                else:
                    report.answerable_declined.append(_flagged(answer))
                    ok = bool(titles) and titles[0] in gold
                    if _flagged(answer):
                        report.misses.append(
                            f"{expect} flagged: {turn['question']} → {_issues(answer)}"
                        )
                report.turns.setdefault(expect, []).append(ok)
                if expect == "follow_up":
                    report.follow_up_facts.extend(
                        holds_fact(answer.text, fact) for fact in turn.get("facts", [])
                    )
                if not ok:
                    report.misses.append(f"{expect}: {turn['question']} → {titles[:2]}")
                history.append((turn["question"], answer.markdown))
    return report


def naive_baseline(engine: Any) -> Callable[[str, int], list[str]]:
    """A plain llama-index VectorStoreIndex: one node per abstract, default settings."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode

    nodes = [
        TextNode(text=paper.abstract, metadata={"title": paper.title})
        for paper in engine.catalog.papers.values()
    ]
    index = VectorStoreIndex(nodes, embed_model=engine.embedder.model)
    retriever = index.as_retriever(similarity_top_k=10)

    def search(question: str, k: int) -> list[str]:
        return [hit.node.metadata["title"] for hit in retriever.retrieve(question)][:k]

    return search


def format_table(summaries: Sequence[dict[str, Any]]) -> str:
    keys = [key for key in summaries[0] if key != "system"]
    width = max(len(k) for k in keys) + 2
    lines = ["metric".ljust(width) + "".join(s["system"][:28].rjust(30) for s in summaries)]
    for key in keys:
        cells = []
        for summary in summaries:
            value = summary.get(key)
            if value is None:
                cells.append("n/a".rjust(30))
            elif isinstance(value, float):
                cells.append((f"{value:.1f}" if key.endswith("_ms") else f"{value:.3f}").rjust(30))
            else:
                cells.append(str(value).rjust(30))
        lines.append(key.ljust(width) + "".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.eval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("files", type=Path, nargs="+", help="evaluation cases (.jsonl)")
    parser.add_argument(
        "--baseline", action="store_true", help="also measure a naive llama-index index"
    )
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    parser.add_argument("--misses", action="store_true", help="list the questions that missed")
    parser.add_argument(
        "--tuning", type=Path, help="a JSON file of tuned values (default: ASSISTANT_TUNING_FILE)"
    )
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="GROUP.FIELD=VALUE",
        help="override one tuned value, e.g. premises.rest_gap=0.2 (repeatable)",
    )
    args = parser.parse_args(argv)

    from assistant.tuning import Tuning, TuningError

    settings = Settings()
    try:
        tuning = Tuning.load(args.tuning or settings.tuning_file)
        for assignment in args.assignments:
            tuning = tuning.with_assignment(assignment)
    except TuningError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # The engine's imports (seconds) only once the arguments are known to be good.
    from assistant.claims_eval import evaluate_claims, is_claims_case
    from assistant.engine import Assistant

    loaded = [case for path in args.files for case in load_cases(path)]
    claims_cases = [case for case in loaded if is_claims_case(case)]
    cases = [case for case in loaded if not is_claims_case(case)]
    engine = Assistant.from_settings(settings, tuning=tuning)
    engine.search("warm-up", k=1)  # first-call costs (lazy imports, caches) are not latency
    summaries: list[dict[str, Any]] = []
    claims_summaries: list[dict[str, Any]] = []
    misses: list[str] = []
    if cases:
        report = evaluate_assistant(engine, cases)
        summaries.append({**report.summary(), "tuning_hash": tuning.hash})
        misses += report.misses
    if claims_cases:
        claims_report = evaluate_claims(engine, claims_cases)
        claims_summaries.append({**claims_report.summary(), "tuning_hash": tuning.hash})
        misses += claims_report.misses
    if args.baseline and cases:
        baseline = evaluate_retrieval("naive VectorStoreIndex", naive_baseline(engine), cases)
        summaries.append(baseline.summary())
    if args.json:
        print(json.dumps(summaries + claims_summaries, indent=2))
    else:
        tables = [group for group in (summaries, claims_summaries) if group]
        print("\n\n".join(format_table(group) for group in tables))
    if args.misses:
        print("\n".join(["", "misses:", *misses]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
