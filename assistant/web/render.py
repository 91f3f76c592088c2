"""Answers and search results as the web page shows them (markdown with folded sources).

Every piece of corpus text (titles, passages, abstracts) goes through ``literal``: it
shows as written, in the markdown and in the folds' HTML alike.
"""

from __future__ import annotations

from typing import Any

from assistant.answer import Answer
from assistant.markup import literal


def plain_history(history: list[Any] | None) -> list[dict[str, str]]:
    """Gradio's chat messages as ``{"role", "content"}`` with plain-text content.

    Gradio may hand content over as a string, a ``{"text": …}`` part or a list of parts.
    """
    return [
        {"role": str(message.get("role")), "content": _content_text(message.get("content"))}
        for message in history or []
        if isinstance(message, dict)
    ]


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(_content_text(part) for part in content)
    return str(content)


def format_answer(answer: Answer) -> str:
    """Answer markdown plus folded source cards (passage used, full abstract).

    Every piece of corpus text (titles, passages, abstracts) goes through ``literal``:
    it shows as written, in the markdown and in the folds' HTML alike.
    """
    parts = [answer.markdown]
    cards = []
    for citation in answer.citations:
        cards.append(
            f"<details><summary>[{citation.number}] {literal(citation.title)}</summary>\n\n"
            f"{_support_lines(answer, citation.number)}"
            f"**Passage used:** {literal(citation.passage)}\n\n"
            f"**Abstract:** {literal(citation.abstract)}\n\n</details>"
        )
    if cards:
        parts.append("\n".join(cards))
    if answer.answered and answer.related:
        uncited = "\n".join(f"- {literal(hit.title)}" for hit in answer.related)
        parts.append(
            f"<details><summary>Retrieved, not cited ({len(answer.related)})</summary>\n\n"
            f"{uncited}\n\n</details>"
        )
    return "\n\n".join(parts)


def _support_lines(answer: Answer, number: int) -> str:
    """In a source's fold: each claim it stands behind, with its verdict and the span of
    the passage that supports it."""
    lines = []
    for claim in answer.claims:
        if number in claim.citations:
            span = f" — “{literal(claim.span)}”" if claim.span else ""
            lines.append(f"- **{claim.verdict}**: {literal(claim.text)}{span}")
    return ("**Supports:**\n" + "\n".join(lines) + "\n\n") if lines else ""


def format_hits(hits: list[Any]) -> str:
    """The search tab's list; titles, abstracts and source files shown literally."""
    if not hits:
        return "No papers found."
    rows = []
    for rank, hit in enumerate(hits, start=1):
        rows.append(
            f"**{rank}. {literal(hit.title)}** · score {hit.score:.3f}\n\n"
            f"<details><summary>Abstract</summary>\n\n{literal(hit.abstract)}\n\n"
            f"<small>Listed in: {literal(', '.join(hit.sources))}</small>\n\n</details>"
        )
    return "\n\n---\n\n".join(rows)
