"""A conversation as a Markdown file, and the papers it cites as BibTeX.

:func:`conversation_markdown` writes each question, its answer (with its ``[n]`` markers)
and, after each answer, its numbered sources: title, a link when the paper has a URL or
an arXiv id, the year when known. Corpus text (titles, claims, listing notes) goes
through ``markup.literal``, as everywhere else, so it shows as written and never links,
formats or injects HTML; the answer text is already safe markdown (``Answer.markdown``
shows it as is). Links are only ever ``http(s)`` autolinks with no characters that
could end them early.

:func:`cited_bibtex` writes one ``@misc`` entry per cited paper, deduplicated by
``paper_id`` in first-cited order. ``@misc`` because the corpus knows no venue: arXiv's
and biblatex's own recommendation for a preprint is ``@misc`` (``@online``) with
``eprint``/``archivePrefix``, and ``@article`` would require a journal. Field values
are built so that braces always balance: every LaTeX special in corpus text is written
as a command (``\\%``, ``\\&``, ``\\textbraceleft{}``…), and titles are wrapped in a
second pair of braces to keep their capitalisation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from assistant.answer import Answer, Citation, Claim
from assistant.core.schema import Paper
from assistant.markup import literal
from assistant.text.words import TITLE_KEY_STOPWORDS

if TYPE_CHECKING:
    from assistant.catalog import PaperCatalog

Exchange = tuple[str, Answer]

_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
# arXiv identifiers: 2101.06085, 2101.06085v2; hep-th/9901001, math.GT/0309136v1.
_ARXIV = re.compile(
    r"^(?:arxiv:)?((?:\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?)$",
    re.IGNORECASE,
)
# URLs taken as they are: http(s), no spaces, quotes, angle brackets, braces or backslashes
# (nothing that ends an autolink, unbalances a BibTeX field or needs escaping there).
_SAFE_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[^\s<>\"'`{}\\|^]*)?$")


# --- what is known about a cited paper ------------------------------------------------


def _paper(citation: Citation, catalog: PaperCatalog | None) -> Paper | None:
    if catalog is None:
        return None
    return catalog.papers.get(citation.paper_id) or catalog.by_title(citation.title)


def paper_year(paper: Paper | None) -> str | None:
    """The paper's year: its ``year`` field, else a 4-digit year in its update or listing
    date; None when nothing says."""
    if paper is None:
        return None
    year = getattr(paper, "year", None)
    if year and _YEAR.fullmatch(str(year).strip()):
        return str(year).strip()
    for value in (paper.update_date, paper.listing_date):
        found = _YEAR.search(value or "")
        if found:
            return found.group(1)
    return None


def arxiv_id(paper: Paper | None) -> str | None:
    """The paper's arXiv identifier, when its external id is one."""
    if paper is None or not paper.external_id:
        return None
    found = _ARXIV.match(paper.external_id.strip())
    return found.group(1) if found else None


def paper_url(paper: Paper | None) -> str | None:
    """A link to the paper: its own URL when it is a plain http(s) one, else its arXiv page."""
    if paper is None:
        return None
    if paper.url and _SAFE_URL.match(paper.url.strip()):
        return paper.url.strip()
    eprint = arxiv_id(paper)
    return f"https://arxiv.org/abs/{eprint}" if eprint else None


def listed_in(paper: Paper | None) -> str | None:
    """Where the paper was listed (source files, listing date), for papers with no link."""
    if paper is None or not paper.sources:
        return None
    where = "Listed in " + ", ".join(paper.sources)
    return f"{where} ({paper.listing_date})" if paper.listing_date else where


# --- Markdown ---------------------------------------------------------------------------


def conversation_markdown(
    exchanges: Iterable[Exchange],
    catalog: PaperCatalog | None = None,
    *,
    title: str = "Paper Assistant conversation",
    exported: datetime | None = None,
) -> str:
    """The conversation as Markdown: a title and date line, then for each (question,
    :class:`Answer`) the question, the answer with its ``[n]`` markers, and its numbered
    sources (title, link when known, year when known). A notice or a decline shows as
    such; claims nothing supports, claims supported in part and claims no check could verify
    are listed, with the reason when there is one. ``catalog`` supplies links and years."""
    exchanges = list(exchanges)
    when = (exported or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    count = f"{len(exchanges)} question{'s' if len(exchanges) != 1 else ''}"
    parts = [f"# {literal(title)}", f"Exported {when} · {count}"]
    for turn, (question, answer) in enumerate(exchanges, start=1):
        parts.append(f"## Question {turn}")
        parts.append(_quote(question))
        parts.append("### Answer")
        parts.extend(_answer_blocks(answer, catalog))
    return "\n\n".join(parts) + "\n"


def _quote(text: str) -> str:
    """User text as a block quote, shown literally line by line."""
    lines = str(text).strip().splitlines() or [""]
    return "\n".join(f"> {literal(line)}" if line.strip() else ">" for line in lines)


def _answer_blocks(answer: Answer, catalog: PaperCatalog | None) -> list[str]:
    blocks = []
    if answer.notice:
        blocks.append(f"> ⚠️ **Notice:** {literal(answer.notice)}")
    if not answer.answered:
        blocks.append("*Declined: the indexed papers do not answer this question.*")
    blocks.append(answer.text.strip() or "*(no answer text)*")
    for verdict, heading in _VERDICT_HEADINGS.items():
        listed = [claim for claim in answer.claims if claim.verdict == verdict]
        if listed:
            blocks.append(f"**{heading}:**\n" + "\n".join(_claim_line(c) for c in listed))
    if answer.citations:
        blocks.append(
            "**Sources**\n"
            + "\n".join(_source_line(citation, catalog) for citation in answer.citations)
        )
    if not answer.answered and answer.related:
        blocks.append(
            "**Possibly related**\n"
            + "\n".join(f"- {literal(hit.title)}" for hit in answer.related)
        )
    return blocks


_VERDICT_HEADINGS = {
    "unsupported": "Not supported by the cited passages",
    "partial": "Supported only in part",
    "unverified": "Not verified (no check could decide)",
}


def _claim_line(claim: Claim) -> str:
    reason = f" ({literal(claim.reason)})" if claim.reason else ""
    return f"- {literal(claim.text)}{reason}"


def _source_line(citation: Citation, catalog: PaperCatalog | None) -> str:
    paper = _paper(citation, catalog)
    # "\[n\]": shown as "[n]", and never a link whatever else the file defines.
    line = f"- \\[{citation.number}\\] {literal(citation.title)}"
    year = paper_year(paper)
    if year:
        line += f" ({year})"
    url = paper_url(paper)
    if url:
        line += f" · <{url}>"
    return line


# --- BibTeX -----------------------------------------------------------------------------

# Each special becomes a command whose braces balance (BibTeX counts "\{" as a brace).
_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_LATEX_SPECIAL = re.compile("[" + re.escape("".join(_LATEX)) + "]")
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*;\s*")


def latex_escape(text: str) -> str:
    """Text for a BibTeX field: LaTeX specials as commands, whitespace collapsed."""
    return _LATEX_SPECIAL.sub(lambda m: _LATEX[m.group()], " ".join(str(text).split()))


def author_names(authors: str | None) -> list[str]:
    """Author names from a listing's author text ("A, B and C", "A; B")."""
    if not authors:
        return []
    return [name.strip() for name in _AUTHOR_SPLIT.split(authors) if name.strip()]


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in folded if c.isascii()).lower())


def _key_base(paper: Paper | None, title: str, year: str | None) -> str:
    names = author_names(paper.authors if paper else None)
    word = ""
    if names:
        word = _ascii_word(names[0].split()[-1])
    if not word:
        words = [_ascii_word(w) for w in re.split(r"[\s\-–—:/]+", title)]
        words = [w for w in words if w]
        word = next((w for w in words if w not in TITLE_KEY_STOPWORDS), words[0] if words else "")
    word = word[:24] or "paper"
    if word[0].isdigit():
        word = "p" + word
    return word + (year or "")


def _field(name: str, value: str) -> str:
    return f"  {name} = {{{value}}}"


def cited_bibtex(answers: Iterable[Answer], catalog: PaperCatalog | None = None) -> str:
    """One ``@misc`` entry per paper cited in ``answers``, first-cited first.

    Fields: ``title`` (escaped, case protected), ``author`` when known, ``year`` when
    known, ``url`` and, for arXiv ids, ``eprint``/``archivePrefix``; a ``note`` says
    where the paper was listed when there is no link. Keys (``surname`` or first title
    word, plus year) are unique: later collisions get ``a``, ``b``… suffixes.
    """
    seen: dict[str, None] = {}
    citations: list[Citation] = []
    for answer in answers:
        for citation in answer.citations:
            if citation.paper_id not in seen:
                seen[citation.paper_id] = None
                citations.append(citation)
    keys: set[str] = set()
    entries = []
    for citation in citations:
        paper = _paper(citation, catalog)
        title = paper.title if paper else citation.title
        year = paper_year(paper)
        key = _unique_key(_key_base(paper, title, year), keys)
        fields = [_field("title", "{" + latex_escape(title) + "}")]
        names = author_names(paper.authors if paper else None)
        if names:
            fields.append(_field("author", " and ".join(latex_escape(n) for n in names)))
        if year:
            fields.append(_field("year", year))
        eprint = arxiv_id(paper)
        if eprint:
            fields.append(_field("eprint", latex_escape(eprint)))
            fields.append(_field("archivePrefix", "arXiv"))
        url = paper_url(paper)
        if url:
            fields.append(_field("url", url))
        else:
            where = listed_in(paper)
            if where:
                fields.append(_field("note", latex_escape(where)))
        entries.append(f"@misc{{{key},\n" + ",\n".join(fields) + "\n}")
    return "\n\n".join(entries) + ("\n" if entries else "")


def _unique_key(base: str, taken: set[str]) -> str:
    key = base
    for suffix in _suffixes():
        if key not in taken:
            break
        key = base + suffix
    taken.add(key)
    return key


def _suffixes() -> Iterable[str]:
    yield ""
    letters = "abcdefghijklmnopqrstuvwxyz"
    yield from letters
    yield from (first + second for first in letters for second in letters)


def exchanges_answers(exchanges: Sequence[Exchange]) -> list[Answer]:
    """The answers of a conversation, in order."""
    return [answer for _, answer in exchanges]
