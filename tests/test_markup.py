"""Corpus text is data, never markup (no model, no store)."""

from __future__ import annotations

import re

import Stemmer

from assistant.answer import Answer, Citation
from assistant.citations import CitationRewriter, cited_numbers, parse_sources
from assistant.conversation import Conversation, as_turns
from assistant.hits import PaperHit
from assistant.markup import from_literal, literal
from assistant.vocabulary import Vocabulary
from assistant.web.render import format_answer, format_hits
from tests.units import catalog, paper

NASTY = [
    'Planted <img src=http://127.0.0.1:9/p.png onerror="window.pwned=1"> <script>x()</script>',
    "A <a href='http://evil.example/'>live link</a> and ![pixel](http://evil.example/p.png)",
    "*Stars*, _underscores_, `ticks`, ~~strike~~, |pipes|, $$x^2$$ and \\backslash",
    "Fake marker [2] and [3, 4] with [link](http://evil.example) inside",
    "Inputs & Outputs, R&D, &amp; &lt;b&gt; &#42; &copy",
    "# Heading-like title",
    "1. A list-like title",
    "- bullet-like title",
    "A title with a\nline break\n[9] Forged source line",
    "Mail me@evil.example or see www.evil.example and https://evil.example/x",
]
# What may not appear once corpus text is escaped: tags, entities-to-be, markdown syntax.
MARKUP = re.compile(r"[<>*_`~|$\\\[\]\n]|://|www\.|@\w+\.")


def hit(title: str, number: int = 0) -> PaperHit:
    return PaperHit(
        title=title,
        score=0.9,
        abstract=f"Abstract of {title}. <img src=http://evil.example/a.png> **bold**",
        sources=["<b>file</b>.jsonl"],
        paper_id=f"p{number}",
        passages=[f"Passage of {title}."],
    )


def test_literal_leaves_no_markup_and_round_trips():
    for title in NASTY:
        escaped = literal(title)
        assert not MARKUP.search(escaped), escaped
        assert not re.match(r"\s*([#+=-]|\d+[.)])", escaped), escaped
        assert from_literal(escaped) == title
    assert literal("Perceiver IO: Inputs & Outputs") == "Perceiver IO: Inputs & Outputs"


def test_answers_show_nasty_titles_literally_and_parse_back_for_follow_ups():
    hits = [hit(title, n) for n, title in enumerate(NASTY)]
    cited = Answer(
        text="Both hold [1] and [2].",
        citations=[
            Citation.from_hit(n + 1, h, f"Passage <img src=x> [{n + 7}]")
            for n, h in enumerate(hits)
        ],
        related=hits[:2],
    )
    declined = Answer(text="Not in the corpus.", related=hits, answered=False)
    for answer in (cited, declined):
        for shown in (answer.markdown, format_answer(answer)):
            assert "<img" not in shown and "<script" not in shown
            assert not re.search(r'<a (?!class="pa-cite" href="#pa-[0-9a-f]+-src-\d+")', shown)
            assert "](http" not in shown and "http://" not in shown
    assert cited_numbers(format_answer(cited)) == [1, 2] + list(range(3, len(NASTY) + 1))
    # The web chat hands the formatted answer back as history: titles come back exact.
    assert parse_sources(format_answer(cited)) == NASTY
    assert parse_sources(cited.markdown) == NASTY
    assert parse_sources(declined.markdown) == []
    assert "&lt;b&gt;file&lt;/b&gt;.jsonl" in format_hits(hits)
    assert "<img" not in format_hits(hits) and "**bold**" not in format_hits(hits)


def test_a_follow_up_finds_the_paper_behind_a_nasty_title():
    stems = Stemmer.Stemmer("english").stemWords(["dataset", "planted"])
    vocabulary = Vocabulary(dict.fromkeys(stems, 1), documents=10)
    papers = catalog(*(paper(f"p{n}", title) for n, title in enumerate(NASTY)))
    conversation = Conversation(vocabulary, papers, llm=None)
    answer = Answer(text="It is [1].", citations=[Citation.from_hit(1, hit(NASTY[0]), "p")])
    history = [("Which paper is planted?", format_answer(answer))]
    subject = conversation.subject(as_turns(history))
    assert subject is not None and subject.title == NASTY[0]
    assert conversation.follows_up("What dataset did they use?", subject, [], relevant=False)
    assert conversation.standalone("What dataset did they use?", [], subject) == (
        f"What dataset did they use? {NASTY[0]}"
    )


def test_model_text_keeps_markdown_but_loses_html_and_images_even_split_in_pieces():
    raw = (
        "Routing works [2]. <img src=http://evil.example/p.png onerror=alert(1)> "
        "**Bold** stays! ![x](http://evil.example/q.png) and [1]."
    )
    for size in (1, 2, 3, 7, len(raw)):
        rewriter = CitationRewriter(2)
        shown = "".join(rewriter.feed(raw[i : i + size]) for i in range(0, len(raw), size))
        shown += rewriter.finish()
        assert "<img" not in shown and "![" not in shown, shown
        assert "&lt;img" in shown and "!\\[x]" in shown and "**Bold** stays!" in shown
        assert "works [1]." in shown and "and [2]." in shown
        assert rewriter.order == [2, 1]


def test_source_folds_show_each_claims_verdict_and_span_escaped():
    from assistant.answer import Claim

    answer = Answer(
        text="Planted [1].",
        citations=[Citation.from_hit(1, hit(NASTY[0]), "a <b>span</b> of the passage")],
        claims=[Claim("Planted <i>claim</i>", "partial", [1], span="a <b>span</b>")],
    )
    shown = format_answer(answer)
    assert "**Supports:**" in shown and "**partial**: Planted &lt;i&gt;claim&lt;/i&gt;" in shown
    # The span is highlighted where it stands in the passage (so not quoted again).
    assert '<mark class="pa-span">a &lt;b&gt;span&lt;/b&gt;</mark> of the passage' in shown
    assert "<b>" not in shown and "“a &lt;b&gt;span" not in shown
    elsewhere = Answer(
        text="Planted [1].",
        citations=answer.citations,
        claims=[Claim("Planted", "supported", [1], span="not <i>in</i> the passage")],
    )
    shown = format_answer(elsewhere)
    assert "“not &lt;i&gt;in&lt;/i&gt; the passage”" in shown and "<mark" not in shown


def test_web_answer_links_markers_marks_unsupported_and_lists_each_source_once():
    from assistant.answer import Claim
    from assistant.prompts import load_prompt

    UNSUPPORTED_MARK = load_prompt("unsupported_mark")  # noqa: N806

    hits = [hit(title, n) for n, title in enumerate(NASTY[:3])]
    passages = [f"First. The <i>span</i> [{n}] is here. Last." for n in range(3)]
    answer = Answer(
        text=f"Alpha [1] and beta [2][3]. Gamma is 7x faster {UNSUPPORTED_MARK}. Not [9].",
        citations=[Citation.from_hit(n + 1, h, passages[n]) for n, h in enumerate(hits)],
        related=[hit(NASTY[5], 5)],
        claims=[
            Claim("Alpha and beta", "supported", [1, 2], span="The <i>span</i> [0] is here."),
            Claim("Beta", "partial", [3], span="The <i>span</i> [2] is here."),
            Claim("Gamma is 7x faster", "unsupported"),
        ],
    )
    shown = format_answer(answer, key="k1")
    for n in (1, 2, 3):
        assert f'<a class="pa-cite" href="#pa-k1-src-{n}" title="Source {n}: ' in shown
        assert shown.count(f'id="pa-k1-src-{n}"') == 1
    assert "Not [9]." in shown  # no such source: left as written
    # Titles inside the link's title attribute cannot close it or add attributes.
    attribute = re.search(r'title="(Source 1: [^"]*)"', shown).group(1)
    assert "<" not in attribute and "'" not in attribute and "onerror=" in attribute
    assert 'class="pa-unsupported" title="No cited passage supports this sentence">' in shown
    assert UNSUPPORTED_MARK not in shown
    assert '<span class="pa-verdict pa-supported">supported</span>' in shown
    assert '<span class="pa-verdict pa-partial">partly supported</span>' in shown
    assert '<mark class="pa-span">The &lt;i&gt;span&lt;/i&gt; &#91;0&#93; is here.</mark>' in shown
    # One sources block: each title once (its fold's summary), no separate list.
    outside = re.sub(r"</summary>.*?</details>", "", shown, flags=re.DOTALL)
    outside = re.sub(r' title="[^"]*"', "", outside)  # the links' tooltips
    for n, title in enumerate(NASTY[:3], start=1):
        assert outside.count(literal(title)) == 1, title
        assert f"<summary>\n[{n}] {literal(title)}\n" in shown
    assert shown.count("**Sources**") == 1
    assert "Retrieved, not cited (1)" in shown and literal(NASTY[5]) in shown
    for raw in ("<img", "<script", "<a href", "<i>", "](http", "http://"):
        assert raw not in shown, raw
    assert parse_sources(shown) == NASTY[:3]  # follow-ups still read the titles back
    # Anchors are unique per message: two renderings of one answer never share an id.
    ids = re.findall(r'id="([^"]+)"', format_answer(answer) + format_answer(answer))
    assert len(ids) == len(set(ids)) == 6
