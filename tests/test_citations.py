"""Citation checking and renumbering, including text that arrives in stream pieces."""

from assistant.citations import CitationRewriter, cited_numbers, parse_sources, rewrite_citations


def test_invalid_markers_removed_and_valid_ones_renumbered_by_first_use():
    text, order = rewrite_citations("A holds [3]. B holds [1, 9]. C [7][3]. D [0].", 3)
    assert text == "A holds [1]. B holds [2]. C [1]. D."
    assert order == [3, 1]


def test_streamed_pieces_split_inside_markers_give_the_same_text():
    raw = "Claim one [2]. Claim two [1][2] and [12]. Tail [3"
    whole, _ = rewrite_citations(raw, 2)
    for size in (1, 2, 3, 5):
        rewriter = CitationRewriter(2)
        pieces = [rewriter.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
        streamed = "".join(pieces) + rewriter.finish()
        assert streamed.replace(" .", ".").strip() == whole.replace(" .", ".")
        assert rewriter.order == [2, 1]


def test_cited_numbers_and_sources_round_trip():
    markdown = "Answer [1] and [2].\n\n**Sources**\n[1] Pointer Networks\n[2] AI and Memory Wall"
    assert cited_numbers(markdown) == [1, 2]
    assert parse_sources(markdown) == ["Pointer Networks", "AI and Memory Wall"]
    assert parse_sources("no sources here") == []
