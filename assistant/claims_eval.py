"""Scoring the claim checks on LLM-style answers with labelled claims (``eval/claims_*.jsonl``).

Each case is an answer a capable LLM could write (``{"id", "question", "papers": [titles],
"answer", "claims": [{"text", "label": "faithful" | "wrong", "kind"}]}``, the answer citing
``papers[i]`` as ``[i+1]``). A scripted OpenAI-compatible server on 127.0.0.1 plays that
LLM: it answers the engine's request with the case's answer, its markers renumbered to the
numbers the engine gave those papers in the prompt. The engine then checks the answer
exactly as it would a real model's (``openai-compatible`` backend), and each labelled claim
is matched to the engine's verdict on it. The LLM verification pass is off
(``verify_with_llm=False``): the figures measure the deterministic checks alone, offline.

Reported: faithful claims kept as supported; wrong claims a reader can see (marked in the
text, or their citation removed), overall and per kind; answers replaced by the fallback;
declines; "no single indexed paper covers" cautions (every case is answerable); cases whose
papers were not all retrieved (not scored).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.citations import marker_numbers, markers_in
from assistant.text.sentences import plain

WRONG_KINDS = ("figure", "negation", "overclaim", "entity_swap", "unstated", "misattributed")
_SOURCE_HEADER = re.compile(r"^\[(\d+)\] (.+)$", re.MULTILINE)


def is_claims_case(case: dict[str, Any]) -> bool:
    return "claims" in case and "answer" in case and "papers" in case


def scripted_answer(case: dict[str, Any], prompt: str) -> str | None:
    """The case's answer with ``[i]`` renumbered to the prompt's source numbers; None when a
    cited paper is not among the sources."""
    numbers = {title: int(n) for n, title in _SOURCE_HEADER.findall(prompt)}
    mapping = {}
    for index, title in enumerate(case["papers"], start=1):
        if title not in numbers:
            return None
        mapping[index] = numbers[title]
    answer = case["answer"]
    for marker in reversed(markers_in(answer)):
        renumbered = "".join(f"[{mapping.get(n, n)}]" for n in marker_numbers(marker))
        answer = answer[: marker.start()] + renumbered + answer[marker.end() :]
    return answer


@dataclass
class ClaimsReport:
    faithful: int = 0
    faithful_kept: int = 0
    wrong: Counter[str] = field(default_factory=Counter)
    wrong_visible: Counter[str] = field(default_factory=Counter)
    wrong_judged_not_supported: Counter[str] = field(default_factory=Counter)
    answers: int = 0
    fallbacks: int = 0
    declines: int = 0
    cautions: int = 0
    not_retrieved: list[str] = field(default_factory=list)
    unmatched: int = 0
    misses: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        wrong_total = sum(self.wrong.values())

        def ratio(part: int, whole: int) -> float:
            return part / whole if whole else float("nan")

        result: dict[str, Any] = {
            "system": "claims",
            "answers scored": self.answers,
            "faithful claims": self.faithful,
            "faithful kept as supported": ratio(self.faithful_kept, self.faithful),
            "wrong claims": wrong_total,
            "wrong judged partial/unsupported": ratio(
                sum(self.wrong_judged_not_supported.values()), wrong_total
            ),
            "wrong visibly flagged": ratio(sum(self.wrong_visible.values()), wrong_total),
        }
        for kind in WRONG_KINDS:
            result[f"  {kind} visible"] = ratio(self.wrong_visible[kind], self.wrong[kind])
        result.update(
            {
                "answers replaced by fallback": self.fallbacks,
                "answers declined": self.declines,
                "false 'no single paper' cautions": ratio(self.cautions, self.answers),
                "claims not matched": self.unmatched,
                "cases not retrieved (skipped)": len(self.not_retrieved),
            }
        )
        return result


def _visible(unit: str, verdict: str, marks: Sequence[str], cited_before: bool) -> bool:
    """Whether a reader sees that the claim is in doubt: a mark in the text, or its
    citation removed."""
    shown_mark = any(mark in unit for mark in marks)
    citation_removed = cited_before and not markers_in(unit)
    return verdict != "supported" and (shown_mark or citation_removed)


def score_answer(
    case: dict[str, Any], answer: Any, report: ClaimsReport, marks: Sequence[str]
) -> None:
    """Match each labelled claim to the engine's claim and text, and count."""
    report.answers += 1
    if answer.notice:
        report.fallbacks += 1
    if not answer.answered:
        report.declines += 1
    if any(issue.kind == "uncovered" for issue in answer.premise_issues):
        report.cautions += 1
    judged = {claim.text: claim for claim in answer.claims}
    for labelled in case["claims"]:
        words = plain(labelled["text"])
        claim = judged.get(words)
        if claim is None:  # the engine's text around it differs (a dropped marker, a mark)
            claim = next((c for c in answer.claims if words[:60] in c.text), None)
        wrong = labelled["label"] == "wrong"
        kind = labelled.get("kind") or "faithful"
        if answer.notice:  # the whole LLM answer was withheld: nothing of it is shown
            verdict, visible = "withheld", True
        elif claim is None:
            report.unmatched += 1
            verdict, visible = "unmatched", False
        else:
            unit = next((line for line in answer.text.split("\n") if words[:40] in line), "")
            verdict = claim.verdict
            visible = _visible(unit, verdict, marks, bool(markers_in(labelled["text"])))
        if wrong:
            report.wrong[kind] += 1
            report.wrong_visible[kind] += visible
            report.wrong_judged_not_supported[kind] += verdict != "supported"
            if not visible:
                report.misses.append(f"{case['id']} [{kind}] {verdict}: {labelled['text']}")
        else:
            report.faithful += 1
            kept = verdict == "supported"
            report.faithful_kept += kept
            if not kept:
                report.misses.append(f"{case['id']} [faithful] {verdict}: {labelled['text']}")


def evaluate_claims(engine: Any, cases: Sequence[dict[str, Any]]) -> ClaimsReport:
    """Every case through the engine's LLM path against a scripted server (see module doc)."""
    from assistant.prompts import load_prompt
    from devtools.fake_openai import FakeOpenAIServer, Reply

    report = ClaimsReport()
    marks = [
        load_prompt("unsupported_mark"),
        load_prompt("partial_mark"),
        load_prompt("unverified_mark"),
    ]
    server = FakeOpenAIServer().start()
    try:
        llm_engine = engine.with_settings(
            llm="openai-compatible",
            llm_base_url=server.base_url,
            llm_model="scripted",
            verify_with_llm=False,  # the scripted server plays the answering LLM only
        )
        for case in cases:
            current: dict[str, Any] = {"case": case, "missing": False}

            def respond(payload: dict[str, Any], current: dict[str, Any] = current) -> Reply:
                prompt = "\n".join(str(m.get("content", "")) for m in payload["messages"])
                text = scripted_answer(current["case"], prompt)
                if text is None:
                    current["missing"] = True
                    return Reply("The indexed papers do not answer the question.")
                return Reply(text)

            server.responder = respond
            answer = llm_engine.ask(case["question"])
            if current["missing"]:
                report.not_retrieved.append(case["id"])
                continue
            score_answer(case, answer, report, marks)
    finally:
        server.stop()
    return report


def load_claims(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def by_kind(report: ClaimsReport) -> dict[str, dict[str, int]]:
    """Counts per kind, for a closing note."""
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for kind in WRONG_KINDS:
        table[kind] = {"wrong": report.wrong[kind], "visible": report.wrong_visible[kind]}
    return dict(table)
