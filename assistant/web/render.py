"""Answers and search results as the web page shows them (markdown with folded sources).

Every piece of corpus text (titles, passages, abstracts) goes through ``literal``: it
shows as written, in the markdown and in the folds' HTML alike.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from assistant.answer import Answer, Citation, Claim
from assistant.markup import literal
from assistant.prompts import load_prompt


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


def format_answer(answer: Answer, key: str | None = None) -> str:
    """The answer as the web chat shows it: the answer text first, then one sources block.

    Every ``[n]`` in the text links to source ``n`` (the page's script opens its fold); a
    claim the checks found unsupported, partly supported or could not verify carries a
    visible badge where it stands. Each cited
    paper appears once, numbered, as a fold holding its support verdict, the claims it
    stands behind (with their spans), the passage used (supporting spans highlighted) and
    the abstract. Papers retrieved but not cited are folded apart; a declined answer lists
    the possibly related ones.

    ``key`` makes the anchors unique to this message (random unless given). Corpus text
    (titles, passages, spans, abstracts) goes through ``literal`` everywhere, attributes
    included. The source lines stay ``[n] title`` under a "Sources" line, so a follow-up
    reads the titles back from this markdown (``citations.parse_sources``) as it does from
    ``Answer.markdown``.
    """
    key = key or secrets.token_hex(4)
    parts = [f"> ⚠️ {answer.notice}"] if answer.notice else []
    parts.append(_linked_text(answer, key))
    if answer.citations:
        folds = "\n".join(_source_fold(answer, citation, key) for citation in answer.citations)
        parts.append(f"**Sources**\n\n{folds}")
    if answer.related:
        titles = "\n".join(f"- {literal(hit.title)}" for hit in answer.related)
        if answer.answered:
            parts.append(
                '<details class="pa-related"><summary>Retrieved, not cited '
                f"({len(answer.related)})</summary>\n\n{titles}\n\n</details>"
            )
        else:
            parts.append(f"**Possibly related**\n{titles}")
    return "\n\n".join(parts)


def anchor(key: str, number: int) -> str:
    """The id of source ``number``'s fold in the message whose anchors use ``key``."""
    return f"pa-{key}-src-{number}"


def _linked_text(answer: Answer, key: str) -> str:
    """The answer text with each ``[n]`` a link to its source and each verdict's mark a
    badge. The text is the model's already disarmed markdown; only titles are added, as
    the links' tooltips. The extractive answer's bullet labels ("**Title**: quote [n]") are
    dropped: the [n] link and the sources block under it name the paper, once."""
    titles = {citation.number: citation.title for citation in answer.citations}

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in titles:
            return match.group(0)
        tip = _attribute(f"Source {number}: {titles[number]}")
        return f'<a class="pa-cite" href="#{anchor(key, number)}" title="{tip}">[{number}]</a>'

    text = answer.text
    for citation in answer.citations:  # the sources block below names each paper, once
        text = text.replace(f"- **{literal(citation.title)}**: ", "- ")
    text = _MARKER.sub(link, text)
    text = text.replace(load_prompt("unsupported_mark"), _UNSUPPORTED_BADGE)
    text = text.replace(load_prompt("unverified_mark"), _UNVERIFIED_BADGE)
    return text.replace(load_prompt("partial_mark"), _PARTIAL_BADGE)


_MARKER = re.compile(r"(?<![!\\])\[(\d{1,3})\](?!\()")
_UNSUPPORTED_BADGE = (
    '<span class="pa-unsupported" title="No cited passage supports this sentence">'
    "unsupported</span>"
)
_PARTIAL_BADGE = (
    '<span class="pa-unsupported pa-partly" title="The cited passage supports this sentence '
    "only in part: see the source's fold\">partly supported</span>"
)
_UNVERIFIED_BADGE = (
    '<span class="pa-unsupported pa-unverified" title="No check could decide whether the '
    "cited passage supports this sentence: see the source's fold\">unverified</span>"
)
_VERDICT_LABELS = {
    "supported": "supported",
    "partial": "partly supported",
    "unverified": "unverified",
}


def _source_fold(answer: Answer, citation: Citation, key: str) -> str:
    """One cited paper: its ``[n] title`` summary (on a line of its own, as in the sources
    list) and a fold with the verdict, the claims, the passage used and the abstract."""
    claims = [claim for claim in answer.claims if citation.number in claim.citations]
    verdicts = {claim.verdict for claim in claims}
    verdict = next((v for v in _VERDICT_LABELS if v in verdicts), None)
    badge = (
        f'<span class="pa-verdict pa-{verdict}">{_VERDICT_LABELS[verdict]}</span>'
        if verdict
        else ""
    )
    spans = [claim.span for claim in claims if claim.span]
    return (
        f'<details class="pa-source" id="{anchor(key, citation.number)}"><summary>\n'
        f"[{citation.number}] {literal(citation.title)}\n"
        f"{badge}</summary>\n\n"
        f"{_support_lines(claims, citation)}"
        f"**Passage used:** {_highlighted(citation.passage, spans)}\n\n"
        f"**Abstract:** {literal(citation.abstract)}\n\n</details>"
    )


def _support_lines(claims: list[Claim], citation: Citation) -> str:
    """In a source's fold: each claim it stands behind, with its verdict and the span of
    the passage that supports it (quoted here only when it cannot be highlighted in the
    passage shown below). A claim that is the quoted passage itself (an extractive answer's
    bullet, read without its title label) adds nothing to the passage: it is left out."""
    passage = " ".join(citation.passage.split())
    lines = []
    for claim in claims:
        text = claim.text
        for label in (f"{citation.title} :", f"{citation.title}:"):
            if text.startswith(label):
                text = text[len(label) :].strip()
        if " ".join(text.split()) == passage:
            continue
        quoted = claim.span and claim.span.strip() not in citation.passage
        span = f" — “{literal(claim.span)}”" if quoted else ""
        reason = f" ({literal(claim.reason)})" if claim.reason else ""
        lines.append(f"- **{claim.verdict}**: {literal(text)}{span}{reason}")
    return ("**Supports:**\n" + "\n".join(lines) + "\n\n") if lines else ""


def _highlighted(passage: str, spans: list[str]) -> str:
    """The passage shown literally, each supporting span in it wrapped in ``<mark>``."""
    found: list[tuple[int, int]] = []
    for span in dict.fromkeys(s.strip() for s in spans):
        start = passage.find(span) if span else -1
        if start >= 0 and all(start >= e or start + len(span) <= s for s, e in found):
            found.append((start, start + len(span)))
    pieces, position = [], 0
    for start, end in sorted(found):
        pieces.append(literal(passage[position:start]))
        pieces.append(f'<mark class="pa-span">{literal(passage[start:end])}</mark>')
        position = end
    pieces.append(literal(passage[position:]))
    return "".join(pieces)


def _attribute(text: str) -> str:
    """Corpus text inside a double-quoted HTML attribute: literal, quotes escaped too."""
    return literal(text).replace('"', "&quot;").replace("'", "&#39;")


def format_hits(hits: list[Any]) -> str:
    """The search tab's compact list: per paper its rank, title and score, then a fold whose
    summary is the abstract (the page shows its first two lines until it is opened) and
    whose body names the files it is listed in. Corpus text is shown literally.

    Plain HTML, one block per paper (no blank lines inside, so markdown leaves it alone).
    """
    if not hits:
        return "No papers found."
    rows = []
    for rank, hit in enumerate(hits, start=1):
        rows.append(
            f'<div class="pa-hit"><p class="pa-hit-title"><strong>{rank}. {literal(hit.title)}'
            f'</strong> <span class="pa-sim">· score {hit.score:.3f}</span></p>'
            f'<details><summary><span class="pa-lead">{literal(hit.abstract)}</span></summary>'
            f"<p><small>Listed in: {literal(', '.join(hit.sources))}</small></p></details></div>"
        )
    return "\n\n".join(rows)
