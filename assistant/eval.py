"""``python -m assistant.eval FILE.jsonl [--baseline] [--json]``: retrieval and answer quality.

The file holds one JSON object per line:
- ``{"type": "single", "question": …, "gold": [title]}``: hit@1/5/10 and MRR;
- ``{"type": "topic", "question": …, "gold": [titles…]}``: recall@10, counted against
  min(len(gold), 10) so a complete list longer than 10 can still score 1.0;
- ``{"type": "unanswerable", "question": …}``: should be declined;
- ``{"type": "conversation", "turns": [{"question", "gold"}, …]}``: each follow-up is
  answered with the conversation so far and must cite its gold paper first.

It also reports the share of citations that are valid (a retrieved corpus paper; must be
100%) and that point at a gold paper, and search / answer latency p50 and p95.
``--baseline`` measures, in the same run, a naive llama-index ``VectorStoreIndex`` (one node
per abstract, default settings, the same embedding model) on the same questions.
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

from assistant.core.settings import Settings


@dataclass
class Report:
    name: str
    ranks: list[int | None] = field(default_factory=list)  # gold rank per single question
    topic_recall: list[float] = field(default_factory=list)
    declined: list[bool] = field(default_factory=list)
    false_declines: int = 0
    answerable_asked: int = 0
    citations_total: int = 0
    citations_valid: int = 0
    citations_gold: int = 0
    follow_up_hits: list[bool] = field(default_factory=list)
    search_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def hit_at(self, k: int) -> float:
        return _mean([r is not None and r <= k for r in self.ranks])

    @property
    def mrr(self) -> float:
        return _mean([1.0 / r if r else 0.0 for r in self.ranks])

    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "system": self.name,
            "single_questions": len(self.ranks),
            "hit@1": self.hit_at(1),
            "hit@5": self.hit_at(5),
            "hit@10": self.hit_at(10),
            "mrr": self.mrr,
            "topic_questions": len(self.topic_recall),
            "topic_recall@10": _mean(self.topic_recall),
            "search_p50_ms": percentile(self.search_ms, 50),
            "search_p95_ms": percentile(self.search_ms, 95),
        }
        if self.declined:
            result.update(
                {
                    "unanswerable_declined": _mean(self.declined),
                    "answerable_falsely_declined": self.false_declines
                    / max(1, self.answerable_asked),
                    "citations_valid": self.citations_valid / max(1, self.citations_total),
                    "citations_to_gold": self.citations_gold / max(1, self.citations_total),
                    "follow_up_hit@1": _mean(self.follow_up_hits),
                    "answer_p50_ms": percentile(self.answer_ms, 50),
                    "answer_p95_ms": percentile(self.answer_ms, 95),
                }
            )
        return result


def _mean(values: Sequence[float | bool]) -> float:
    return float(statistics.fmean(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The value at rank q% (nearest rank); NaN for no values. Benchmarks use it too."""
    return float(np.percentile(values, q, method="nearest")) if values else float("nan")


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


def evaluate_assistant(engine: Any, cases: Sequence[dict[str, Any]]) -> Report:
    """Retrieval metrics plus answers: declining, citation validity, follow-ups."""
    report = evaluate_retrieval(
        "hybrid (this project)",
        lambda q, k: [hit.title for hit in engine.search(q, k=k)],
        cases,
    )
    corpus_titles = {paper.title for paper in engine.catalog.papers.values()}

    def check_citations(answer: Any, gold: Sequence[str]) -> None:
        # What the engine retrieves for the searched query, found independently of the answer.
        retrieved = {hit.title for hit in engine.search(answer.query, k=engine.settings.top_k)}
        for citation in answer.citations:
            report.citations_total += 1
            report.citations_valid += (
                citation.title in corpus_titles and citation.title in retrieved
            )
            report.citations_gold += citation.title in gold

    for case in cases:
        kind = case["type"]
        if kind == "unanswerable":
            answer = _timed(lambda c=case: engine.ask(c["question"]), report.answer_ms)
            report.declined.append(not answer.answered)
            if answer.answered:
                report.misses.append(f"answered: {case['question']}")
            check_citations(answer, [])
        elif kind in ("single", "topic"):
            answer = _timed(lambda c=case: engine.ask(c["question"]), report.answer_ms)
            report.answerable_asked += 1
            if not answer.answered:
                report.false_declines += 1
                report.misses.append(f"declined: {case['question']}")
            check_citations(answer, case["gold"])
        elif kind == "conversation":
            history: list[tuple[str, str]] = []
            for turn_number, turn in enumerate(case["turns"]):
                answer = _timed(
                    lambda t=turn, h=list(history): engine.chat(t["question"], h), report.answer_ms
                )
                check_citations(answer, turn["gold"])
                if turn_number > 0:
                    hit = bool(answer.citations) and answer.citations[0].title in turn["gold"]
                    report.follow_up_hits.append(hit)
                    if not hit:
                        report.misses.append(f"follow-up: {turn['question']} → {answer.query}")
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
    parser.add_argument("file", type=Path, help="evaluation cases (.jsonl)")
    parser.add_argument(
        "--baseline", action="store_true", help="also measure a naive llama-index index"
    )
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    parser.add_argument("--misses", action="store_true", help="list the questions that missed")
    args = parser.parse_args(argv)

    from assistant.engine import Assistant

    cases = load_cases(args.file)
    engine = Assistant.from_settings(Settings())
    engine.search("warm-up", k=1)  # first-call costs (lazy imports, caches) are not latency
    report = evaluate_assistant(engine, cases)
    summaries = [report.summary()]
    if args.baseline:
        baseline = evaluate_retrieval("naive VectorStoreIndex", naive_baseline(engine), cases)
        summaries.append(baseline.summary())
    if args.json:
        print(json.dumps(summaries, indent=2))
    else:
        print(format_table(summaries))
    if args.misses:
        print("\n".join(["", "misses:"] + report.misses), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
