"""Parsers on the real corpus and on crafted bad inputs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ingest import BUNDLED_PAPERS
from ingest.parsers import parse_file, parse_paths
from ingest.records import paper_id_for

ABSTRACT = (
    "We study how a neural network can learn compact representations of images. "
    "Our method improves accuracy by 3.2 points on ImageNet while halving the compute."
)


def test_bundled_corpus_has_348_unique_papers_and_merges_41_duplicates():
    result = parse_paths([BUNDLED_PAPERS])
    assert len(result.files) == 4
    assert len(result.papers) == 348
    multi_source = [p for p in result.papers if len(p.sources) > 1]
    assert len(multi_source) == 41
    assert result.duplicates_merged == result.records - 348 > 0
    assert result.problems == []
    titles = {p.title for p in result.papers}
    assert len(titles) == 348
    # Page furniture never becomes a paper.
    for noise in ("new", "Subscribe", "byAK and the research community", "Mar 12"):
        assert noise not in titles


def test_listing_quirks_glued_subscribe_title_and_dates():
    result = parse_paths([BUNDLED_PAPERS])
    by_title = {p.title: p for p in result.papers}
    # 002_… has no blank lines and its first title is glued to "Subscribe".
    glued = by_title["Distilling Knowledge for Fast Retrieval-based Chat-bots"]
    assert glued.sources == ["002_0b796ff187e101aa.txt"]
    assert glued.abstract.startswith("Response retrieval is a subset of neural ranking")
    first = by_title[
        "A Survey and Taxonomy of Adversarial Neural Networks for Text-to-Image Synthesis"
    ]
    assert first.listing_date == "Mar 12"
    assert any(p.listing_date == "Mar 14" for p in result.papers)
    bottleneck = by_title["Discrete Key-Value Bottleneck"]
    assert len(bottleneck.sources) == 3


def test_listing_with_and_without_blank_lines(tmp_path: Path):
    spaced = tmp_path / "spaced.txt"
    spaced.write_text(
        f"new\n\nSubscribe\n\nJan 3\n\nPaper One\n\n{ABSTRACT}\n\nPaper Two\n\n{ABSTRACT} Two.\n"
    )
    dense = tmp_path / "dense.txt"
    dense.write_text(f"SubscribePaper One\n{ABSTRACT}\nPaper Three\n{ABSTRACT} Three.\n")
    result = parse_paths([tmp_path])
    assert [p.title for p in result.papers] == ["Paper One", "Paper Three", "Paper Two"]
    assert result.papers[0].sources == ["dense.txt", "spaced.txt"]
    assert result.papers[0].listing_date == "Jan 3"


def test_listing_title_without_abstract_is_reported_with_line(tmp_path: Path):
    path = tmp_path / "listing.txt"
    path.write_text(f"Orphan Title\n\nGood Title\n\n{ABSTRACT}\n\nTrailing Title\n")
    papers, problems = parse_file(path)
    assert [p.title for p in papers] == ["Good Title"]
    assert [str(p) for p in problems] == [
        "listing.txt:1: title 'Orphan Title' has no abstract; skipped",
        "listing.txt:7: title 'Trailing Title' has no abstract; skipped",
    ]


def test_arxiv_snapshot_jsonl_is_normalised(tmp_path: Path):
    record = {
        "id": "2301.00001",
        "authors": "A. Author and B. Author",
        "title": "  A Title\n  with   a line break",
        "abstract": "  First line of the abstract\nwith   runs of   spaces.  " + ABSTRACT,
        "categories": "cs.LG cs.AI",
        "update_date": "2023-01-02",
    }
    path = tmp_path / "arxiv.jsonl"
    second = {**record, "id": "2", "title": "Another Title"}
    path.write_text(json.dumps(record) + "\n\n" + json.dumps(second) + "\n")
    papers, problems = parse_file(path)
    assert problems == []
    paper = papers[0]
    assert paper.title == "A Title with a line break"
    assert paper.abstract.startswith("First line of the abstract with runs of spaces.")
    assert paper.external_id == "2301.00001"
    assert paper.paper_id == paper_id_for("A Title with a line break")
    assert paper.categories == "cs.LG cs.AI" and paper.update_date == "2023-01-02"


def test_jsonl_bad_lines_are_skipped_and_named(tmp_path: Path):
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"title": "Good", "abstract": ABSTRACT}),
        '{"title": "Broken", "abstract": ',
        json.dumps({"title": "No Abstract"}),
        json.dumps(["not", "an", "object"]),
    ]
    path.write_text("\n".join(lines) + "\n")
    papers, problems = parse_file(path)
    assert [p.title for p in papers] == ["Good"]
    messages = [str(p) for p in problems]
    assert messages[0].startswith("mixed.jsonl:2: malformed JSON")
    assert "mixed.jsonl:3: record 'No Abstract' has no abstract; skipped" in messages
    assert any(m.startswith("mixed.jsonl:4: expected an object") for m in messages)


def test_json_array_names_the_line_of_a_bad_record(tmp_path: Path):
    path = tmp_path / "papers.json"
    path.write_text(
        "[\n"
        + json.dumps({"title": "Good", "abstract": ABSTRACT, "authors": ["X", "Y"]})
        + ",\n"
        + json.dumps({"title": "Missing"})
        + "\n]\n"
    )
    papers, problems = parse_file(path)
    assert papers[0].authors == "X, Y"
    assert [str(p) for p in problems] == [
        "papers.json:3: record 'Missing' has no abstract; skipped"
    ]
    broken = tmp_path / "broken.json"
    broken.write_text('[\n {"title": "A", "abstract": "x"},\n {"title": oops}\n]')
    papers, problems = parse_file(broken)
    assert papers == [] and str(problems[0]).startswith("broken.json: line 3: malformed JSON")


def test_csv_and_missing_columns(tmp_path: Path):
    good = tmp_path / "papers.csv"
    good.write_text(f'title,abstract,url\n"Comma, Title","{ABSTRACT}",http://x\nEmpty,,\n')
    papers, problems = parse_file(good)
    assert papers[0].title == "Comma, Title" and papers[0].url == "http://x"
    assert [str(p) for p in problems] == ["papers.csv:3: record 'Empty' has no abstract; skipped"]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,summary\na,b\n")
    papers, problems = parse_file(bad)
    assert papers == []
    assert str(problems[0]) == (
        "bad.csv: line 1: CSV header lacks column(s) abstract, title (found: name, summary)"
    )


def test_unreadable_inputs_give_one_clear_line(tmp_path: Path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Caf\xe9 Title\n\n".encode("latin-1") + ABSTRACT.encode())
    empty = tmp_path / "empty.jsonl"
    empty.write_text("  \n")
    odd = tmp_path / "notes.pdf"
    odd.write_text("x")
    messages = {str(p) for path in (latin1, empty, odd) for p in parse_file(path)[1]}
    assert (
        "latin1.txt: not valid UTF-8 (byte 0xe9 on line 1); re-save the file as UTF-8" in messages
    )
    assert "empty.jsonl: file is empty" in messages
    assert any(m.startswith("notes.pdf: unsupported file type .pdf") for m in messages)
    missing = parse_paths([tmp_path / "nope.txt"])
    assert [str(p) for p in missing.problems] == [
        f"{tmp_path / 'nope.txt'}: no such file or directory"
    ]


def test_paper_ids_are_stable_and_case_insensitive():
    assert paper_id_for("Pointer Networks") == paper_id_for("pointer  networks!")
    assert paper_id_for("Pointer Networks") != paper_id_for("Pointer Network")
    # The ids earlier versions gave the bundled listing pages: their stores stay valid.
    assert (
        paper_id_for("Pointer Networks") == "t" + hashlib.sha1(b"pointer networks").hexdigest()[:16]
    )
    # Other scripts keep their own keys instead of all sharing the empty one.
    assert paper_id_for("深度学习") != paper_id_for("强化学习") != paper_id_for("")
    assert paper_id_for("Résumé") == paper_id_for("resume")


def test_files_with_one_name_in_different_folders_are_different_sources(tmp_path: Path):
    for folder, title in (("a", "Alpha Paper On Graphs"), ("b", "Beta Paper On Speech")):
        (tmp_path / folder).mkdir()
        record = {"title": title, "abstract": f"{title} studies things. " * 8}
        (tmp_path / folder / "papers.jsonl").write_text(json.dumps(record) + "\n")
    (tmp_path / "top.jsonl").write_text(
        json.dumps({"title": "Gamma Top Level", "abstract": "Gamma studies things. " * 8}) + "\n"
    )
    result = parse_paths([tmp_path])
    assert result.sources == {"a/papers.jsonl", "b/papers.jsonl", "top.jsonl"}
    assert {p.title: p.sources for p in result.papers} == {
        "Alpha Paper On Graphs": ["a/papers.jsonl"],
        "Beta Paper On Speech": ["b/papers.jsonl"],
        "Gamma Top Level": ["top.jsonl"],
    }
    # Named one by one, they are told apart by their path below their common folder.
    named = parse_paths([tmp_path / "a" / "papers.jsonl", tmp_path / "b" / "papers.jsonl"])
    assert named.sources == {"a/papers.jsonl", "b/papers.jsonl"}
    assert parse_paths([tmp_path / "a" / "papers.jsonl"]).sources == {"papers.jsonl"}
