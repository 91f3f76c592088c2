"""Export: the conversation as Markdown (parsed with markdown-it) and the cited papers as
BibTeX (parsed with bibtexparser), from real answers and from hand-made tricky papers."""

from __future__ import annotations

import re
from datetime import datetime

import bibtexparser
import pytest
from bibtexparser.bparser import BibTexParser
from markdown_it import MarkdownIt

from assistant.answer import Answer, Citation, Claim
from assistant.catalog import PaperCatalog
from assistant.core.schema import Paper
from assistant.export import cited_bibtex, conversation_markdown

DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)
SEGMENTATION = "Which work reaches 77.4% mIoU at 102 FPS?"
TOPIC = "Which papers study binary neural networks?"
DECLINED = "What is the capital of France?"
NASTY = "50% of {Nets} & _Bits_ #1: $x^2$ ~ \\emph{α} — Ünïcødé 東京 [1] <b>"


def parse_bibtex(text: str) -> list[dict[str, str]]:
    parser = BibTexParser(common_strings=False)
    parser.ignore_nonstandard_types = False
    database = bibtexparser.loads(text, parser=parser)
    assert not database.comments, f"unparsed text: {database.comments}"
    return database.entries


# The reader side, written independently of assistant.export: LaTeX commands to text.
_COMMANDS = {
    "textbackslash": "\\",
    "textbraceleft": "{",
    "textbraceright": "}",
    "textasciicircum": "^",
    "textasciitilde": "~",
}


def from_latex(value: str) -> str:
    value = re.sub(r"\\([a-z]+)\{\}", lambda m: _COMMANDS[m.group(1)], value)
    return re.sub(r"\\([$&%#_])", r"\1", value)


def unprotect(title: str) -> str:
    assert title.startswith("{") and title.endswith("}"), "title is not case protected"
    return title[1:-1]


def balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def md_tokens(text: str):
    tokens = MarkdownIt("commonmark").parse(text)  # raw HTML enabled, as a renderer would
    flat = []
    for token in tokens:
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def inline_texts(text: str) -> list[str]:
    """The plain text of each inline block (paragraph, heading, list item)."""
    return [
        "".join(child.content for child in token.children or [] if child.type == "text")
        for token in MarkdownIt("commonmark").parse(text)
        if token.type == "inline"
    ]


@pytest.fixture(scope="module")
def answers(assistant):
    return {
        SEGMENTATION: assistant.ask(SEGMENTATION),
        TOPIC: assistant.ask(TOPIC),
        DECLINED: assistant.ask(DECLINED),
    }


# --- real answers -------------------------------------------------------------------------


def test_bibtex_of_a_real_conversation(assistant, answers):
    first, second = answers[SEGMENTATION], answers[TOPIC]
    assert first.citations and second.citations
    text = assistant.export_bibtex([first, second, first, answers[DECLINED]])
    assert balanced(text)
    entries = parse_bibtex(text)
    expected = list(dict.fromkeys(c.paper_id for a in (first, second) for c in a.citations))
    assert len(entries) == len(expected)
    titles = [from_latex(unprotect(entry["title"])) for entry in entries]
    by_id = {c.paper_id: c.title for a in (first, second) for c in a.citations}
    assert titles == [by_id[paper_id] for paper_id in expected]  # first-cited order
    assert titles[0] == DDRNET
    keys = [entry["ID"] for entry in entries]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[a-z][a-z0-9]*", key) for key in keys)
    for entry in entries:
        assert entry["ENTRYTYPE"] == "misc"
        # the bundled listing pages give no URL: the entry says where it was listed
        assert "url" in entry or entry["note"].startswith("Listed in ")
    assert assistant.export_bibtex([answers[DECLINED]]) == ""


def test_markdown_of_a_real_conversation(assistant, answers):
    exchanges = [(question, answers[question]) for question in (SEGMENTATION, TOPIC, DECLINED)]
    text = assistant.export_markdown(exchanges)
    tokens = md_tokens(text)
    headings = [
        (token.tag, tokens[i + 1].content)
        for i, token in enumerate(tokens)
        if token.type == "heading_open"
    ]
    assert headings[0] == ("h1", "Paper Assistant conversation")
    assert [content for tag, content in headings if tag == "h2"] == [
        "Question 1",
        "Question 2",
        "Question 3",
    ]
    texts = inline_texts(text)
    assert texts[1].startswith("Exported ") and "3 questions" in texts[1]
    assert SEGMENTATION in texts and TOPIC in texts and DECLINED in texts
    assert any("[1]" in t and "77.4" in t for t in texts)  # the answer with its markers
    assert f"[1] {DDRNET}" in texts  # its first numbered source
    for number, citation in enumerate(answers[TOPIC].citations, start=1):
        assert any(t.startswith(f"[{number}] {citation.title}") for t in texts)
    assert any(t.startswith("Declined") for t in texts)
    assert not [t for t in tokens if t.type in ("html_block", "html_inline", "link_open")]


# --- papers with everything a BibTeX file can trip on --------------------------------------


def paper(title: str, **fields: object) -> Paper:
    return Paper(
        title=title,
        abstract="An abstract.",
        paper_id="id-" + re.sub(r"\W", "", title)[:20],
        **fields,
    )


def cite(*papers: Paper) -> Answer:
    citations = [
        Citation(number, p.title, p.paper_id, "a passage", 1.0)
        for number, p in enumerate(papers, start=1)
    ]
    text = " ".join(f"Claim [{c.number}]." for c in citations)
    return Answer(text=text, citations=citations)


TRICKY = [
    paper(NASTY, authors="Jürgen Müller, Ann O'Neil and Li Wei", update_date="2021-03-04"),
    paper(
        "Attention Is All You Need",
        external_id="1706.03762v5",
        authors="Ashish Vaswani, Noam Shazeer",
        listing_date="Jun 12, 2017",
    ),
    paper("Another Müller paper", authors="Jürgen Müller", update_date="2021-06-01"),
    paper("A third Müller paper", authors="J. Müller", update_date="2021-07-01"),
    paper(
        "The Linked One",
        url="https://example.org/paper?id=7&x=1%20#top",
        sources=["papers.json"],
    ),
    paper("No link at all", sources=["000_listing.txt", "extra.jsonl"], listing_date="Mar 12"),
    paper("Old arXiv", external_id="hep-th/9901001", url="javascript:alert(1)"),
]
CATALOG = PaperCatalog(TRICKY, chunk_count=len(TRICKY))


def test_bibtex_fields_escaping_and_keys():
    first = cite(*TRICKY[:4])
    second = cite(TRICKY[1], *TRICKY[4:])  # one paper cited again: one entry
    text = cited_bibtex([first, second], CATALOG)
    assert balanced(text)
    entries = parse_bibtex(text)
    assert [from_latex(unprotect(e["title"])) for e in entries] == [p.title for p in TRICKY]
    nasty, vaswani, muller2, muller3, linked, unlinked, old = entries
    # every special character and the non-ASCII text survive the round trip
    assert from_latex(unprotect(nasty["title"])) == NASTY
    assert nasty["author"] == "Jürgen Müller and Ann O'Neil and Li Wei"
    assert nasty["year"] == "2021"
    assert "note" not in nasty and "url" not in nasty  # nothing says where it was listed
    # keys: surname + year, collisions suffixed, ASCII only, unique
    assert [e["ID"] for e in entries][:4] == [
        "muller2021",
        "vaswani2017",
        "muller2021a",
        "muller2021b",
    ]
    assert len({e["ID"] for e in entries}) == len(entries)
    assert vaswani["eprint"] == "1706.03762v5" and vaswani["archiveprefix"] == "arXiv"
    assert vaswani["url"] == "https://arxiv.org/abs/1706.03762v5"
    assert vaswani["author"] == "Ashish Vaswani and Noam Shazeer"
    assert linked["url"] == "https://example.org/paper?id=7&x=1%20#top" and "note" not in linked
    assert linked["ID"] == "linked" and "year" not in linked
    assert from_latex(unlinked["note"]) == "Listed in 000_listing.txt, extra.jsonl (Mar 12)"
    assert "url" not in unlinked and "year" not in unlinked
    # an unsafe URL is never written; the arXiv id still gives a link
    assert old["url"] == "https://arxiv.org/abs/hep-th/9901001" and "javascript" not in text
    assert old["eprint"] == "hep-th/9901001"


def test_bibtex_without_a_catalog_uses_the_cited_titles():
    entries = parse_bibtex(cited_bibtex([cite(TRICKY[0], TRICKY[5])]))
    assert [from_latex(unprotect(e["title"])) for e in entries] == [NASTY, "No link at all"]
    assert [e["ID"] for e in entries] == ["p50", "no"]
    assert all(set(e) == {"ENTRYTYPE", "ID", "title"} for e in entries)


def test_paper_year_prefers_the_year_field():
    dated = paper("Dated", update_date="2020-01-01")
    dated.year = 2019  # the schema's own field, where the catalog has one
    entries = parse_bibtex(cited_bibtex([cite(dated)], PaperCatalog([dated], 1)))
    assert entries[0]["year"] == "2019" and entries[0]["ID"] == "dated2019"


# --- Markdown: corpus text is never markup -----------------------------------------------


MALICIOUS = (
    "<img src=x onerror=alert(1)> *bold* _under_ [click](https://evil.example) "
    "![i](https://evil.example/i.png) https://evil.example `code` # not a heading"
)


def test_malicious_title_shows_as_text():
    bad = paper(MALICIOUS, url="https://arxiv.org/abs/2101.06085", update_date="2021-01-15")
    answer = cite(bad)
    answer.claims = [Claim("Claim <b>bold</b> *x*.", "unsupported")]
    answer.notice = "the LLM failed <script>alert(1)</script>; extractive fallback"
    exchanges = [("<img src=y> what about *this*?", answer)]
    for catalog in (None, PaperCatalog([bad], 1)):
        text = conversation_markdown(exchanges, catalog, exported=datetime(2024, 5, 6, 7, 8))
        tokens = md_tokens(text)
        assert not [t for t in tokens if t.type in ("html_block", "html_inline", "image")]
        assert not [t for t in tokens if t.type == "code_inline"]
        links = [t.attrs.get("href") for t in tokens if t.type == "link_open"]
        assert links == ([] if catalog is None else ["https://arxiv.org/abs/2101.06085"])
        texts = inline_texts(text)
        assert "Exported 2024-05-06 07:08 · 1 question" in texts
        assert "<img src=y> what about *this*?" in texts
        source = next(t for t in texts if t.startswith("[1] "))
        if catalog is None:
            assert source == f"[1] {MALICIOUS}"
        else:
            assert source == f"[1] {MALICIOUS} (2021) · https://arxiv.org/abs/2101.06085"
        assert "Claim <b>bold</b> *x*." in texts  # listed as unsupported, as text
        assert any("the LLM failed <script>alert(1)</script>" in t for t in texts)


def test_markdown_notice_decline_and_unsupported_sections():
    answer = cite(TRICKY[1])
    answer.claims = [Claim("It needs no attention.", "unsupported"), Claim("Fine.", "supported")]
    declined = Answer(text="The indexed papers do not answer this.", answered=False)
    text = conversation_markdown([("q1", answer), ("q2", declined)], CATALOG)
    texts = inline_texts(text)
    assert "Not supported by the cited passages:" in texts
    assert "It needs no attention." in texts and "Fine." not in texts
    assert "[1] Attention Is All You Need (2017) · https://arxiv.org/abs/1706.03762v5" in texts
    assert "Declined: the indexed papers do not answer this question." in texts
    links = [t.attrs["href"] for t in md_tokens(text) if t.type == "link_open"]
    assert links == ["https://arxiv.org/abs/1706.03762v5"]


def test_markdown_lists_partial_and_unverified_claims_with_their_reasons():
    answer = cite(TRICKY[1])
    answer.text = "It is fast [1] [unverified]. It always wins [1] [partly supported]."
    answer.claims = [
        Claim("It is fast.", "unverified", [1], reason="the check could not be completed"),
        Claim("It always wins.", "partial", [1], reason="the paper does not say “always”"),
        Claim("Fine.", "supported", [1]),
    ]
    texts = inline_texts(conversation_markdown([("q", answer)], CATALOG))
    assert "Supported only in part:" in texts
    assert "It always wins. (the paper does not say “always”)" in texts
    assert "Not verified (no check could decide):" in texts
    assert "It is fast. (the check could not be completed)" in texts
    assert "Fine." not in texts and "Not supported by the cited passages:" not in texts


def test_export_files_are_pruned_while_running_and_removed_at_exit():
    """Each export gets its own folder under the app's one; an hour-old one is removed
    at the next export, and the whole folder when the app exits."""
    import os
    import time

    from assistant.web.ui import ExportFolders

    exports = ExportFolders(keep_seconds=3600)
    old = exports.new_folder()
    (old / "conversation.md").write_text("# old", encoding="utf-8")
    recent = exports.new_folder()
    an_hour_ago = time.time() - 3700
    os.utime(old, (an_hour_ago, an_hour_ago))
    fresh = exports.new_folder()
    assert not old.exists() and recent.exists() and fresh.parent == exports.root
    exports.cleanup()
    assert not exports.root.exists()


# --- conversations restored from the browser (the web chat's saved list) -----------------


def rich_answer() -> Answer:
    from assistant.answer import PremiseIssue
    from assistant.filters import SearchFilters
    from assistant.hits import PaperHit

    answer = cite(TRICKY[0], TRICKY[1])
    answer.claims = [
        Claim("Claim [1].", "supported", [1], "a passage"),
        Claim("Claim [2].", "unsupported", [], None, "no passage says so"),
    ]
    answer.related = [PaperHit("The Linked One", 0.4, "An abstract.", ["papers.json"], "id-x")]
    answer.notice = "the LLM failed; extractive fallback"
    answer.premise_issues = [PremiseIssue("figures", "No paper reports 99%.")]
    answer.filters = SearchFilters.coerce({"since": "2020", "categories": ["cs.LG"]})
    answer.backend, answer.model, answer.query, answer.seconds = "openai", "m", "q", 1.23456
    return answer


def test_an_answer_comes_back_from_its_dict_and_exports_the_same():
    answer = rich_answer()
    declined = Answer(text="The indexed papers do not answer this.", answered=False)
    restored = [Answer.from_dict(a.to_dict()) for a in (answer, declined)]
    assert [a.to_dict() for a in restored] == [answer.to_dict(), declined.to_dict()]
    before = conversation_markdown([("q1", answer), ("q2", declined)], CATALOG)
    after = conversation_markdown([("q1", restored[0]), ("q2", restored[1])], CATALOG)
    assert after.split("\n", 3)[3] == before.split("\n", 3)[3]  # all but the time stamp
    assert cited_bibtex(restored, CATALOG) == cited_bibtex([answer, declined], CATALOG)
    with pytest.raises((KeyError, TypeError, ValueError)):
        Answer.from_dict({"citations": [{"number": 1}]})


def gradio_message(role: str, text: str) -> dict:
    """A chat message as Gradio's Chatbot hands it over (and saves it in the browser)."""
    return {"role": role, "metadata": None, "content": [{"type": "text", "text": text}]}


def test_a_saved_conversation_gets_its_turns_back():
    from assistant.web.render import format_answer
    from assistant.web.ui import kept_answers, message_key, saved_turns

    first, second = rich_answer(), cite(TRICKY[1])
    shown = [format_answer(first), format_answer(second)]
    turns = [("q1", first, message_key(shown[0])), ("q2", second, message_key(shown[1]))]
    conversation = [
        gradio_message("user", "q1"),
        gradio_message("assistant", shown[0]),
        gradio_message("user", "q2"),
        gradio_message("assistant", "Sorry, something went wrong."),  # not an Answer
        gradio_message("assistant", shown[1]),
    ]
    other = [gradio_message("user", "gone"), gradio_message("assistant", "deleted answer")]
    saved = kept_answers(turns, [], {message_key("deleted answer"): {"text": "x"}})
    assert set(saved) == {key for *_, key in turns}  # a deleted conversation's answer goes
    assert kept_answers([], [conversation, other], {**saved, "k": {}}).keys() == saved.keys()

    back = saved_turns(conversation, saved)
    assert [(q, a.to_dict(), key) for q, a, key in back] == [
        (q, a.to_dict(), key) for q, a, key in turns
    ]
    saved[turns[1][2]] = {"text": "x", "citations": [{"number": "one"}]}  # unreadable
    assert [q for q, *_ in saved_turns(conversation, saved)] == ["q1"]
    assert saved_turns(conversation, None) == [] and saved_turns(None, saved) == []
