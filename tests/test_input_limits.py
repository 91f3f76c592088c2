"""Ingest input edges: sizes, types, and text that cannot be encoded, on real files.

A bad record is one ``file:line: …`` line naming the field and why, reached in seconds
and bounded memory; the rest of the file is still ingested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ingest.parsers import parse_file, parse_paths
from ingest.pipeline import ingest
from ingest.records import MAX_ABSTRACT_CHARS, MAX_RECORD_CHARS
from tests.conftest import ROOT, clean_env, make_settings, run_module

ABSTRACT = (
    "We study how a neural network can learn compact representations of images. "
    "Our method improves accuracy by 3.2 points on ImageNet while halving the compute."
)
SURROGATE = "a lone surrogate U+D800 at character"


def write_lines(path: Path, lines: list[str | dict | bytes]) -> Path:
    """One JSON Lines line per item: dicts are dumped, str and bytes written as they are."""
    with path.open("wb") as handle:
        for line in lines:
            if isinstance(line, dict):
                line = json.dumps(line)
            handle.write((line.encode() if isinstance(line, str) else line) + b"\n")
    return path


def messages(problems) -> list[str]:
    return [str(problem) for problem in problems]


def test_every_field_is_type_checked_and_the_problem_named(tmp_path: Path):
    path = write_lines(
        tmp_path / "typed.jsonl",
        [
            {"id": "8", "title": {"nested": True}, "abstract": ["a", "list"]},
            {"title": "A Title", "abstract": ["a", "list"]},
            {"title": "Parsed Authors", "abstract": ABSTRACT, "authors": [["Last", "First"]]},
            {"title": "Object Id", "abstract": ABSTRACT, "id": {"arxiv": "2301.1"}},
            {"title": "Flag Url", "abstract": ABSTRACT, "url": True},
            {"title": 2023, "abstract": ABSTRACT},
            {
                "title": "Fine",
                "abstract": ABSTRACT,
                "id": 7,
                "authors": ["X. Author", "Y. Author"],
                "update_date": 2023,
                "comments": {"ignored": ["unknown fields are not read"]},
            },
        ],
    )
    papers, problems = parse_file(path)
    assert messages(problems) == [
        'typed.jsonl:1: field "title" must be text; got an object; skipped',
        'typed.jsonl:2: field "abstract" must be text; got a list; skipped',
        'typed.jsonl:3: field "authors" must be text, a number or a list of texts; '
        "got a list holding a list; skipped",
        'typed.jsonl:4: field "id" must be text, a number or a list of texts; '
        "got an object; skipped",
        'typed.jsonl:5: field "url" must be text, a number or a list of texts; got true; skipped',
        'typed.jsonl:6: field "title" must be text; got a number; skipped',
    ]
    [fine] = papers
    assert (fine.title, fine.external_id, fine.authors, fine.update_date) == (
        "Fine",
        "7",
        "X. Author, Y. Author",
        "2023",
    )


def test_text_that_cannot_be_encoded_is_refused_with_its_line(tmp_path: Path, embedder):
    folder = tmp_path / "in"
    folder.mkdir()
    # A file name with a byte that is not UTF-8 (Python hands it over as U+DCFF).
    odd_name = folder / os.fsdecode(b"lab\xff.jsonl")
    write_lines(
        odd_name,
        [
            {"title": "Good Paper", "abstract": ABSTRACT},
            '{"title": "Bad \\ud800 Title", "abstract": "x"}',
            b'{"title": "Caf\xe9 Latin-1", "abstract": "x"}',
            {"title": "Another Good Paper", "abstract": ABSTRACT + " Again."},
        ],
    )
    (folder / "array.json").write_text(
        '[\n {"title": "Array Paper", "abstract": "Lone \\udfff in it"}\n]\n'
    )
    result = parse_paths([folder])
    assert messages(result.problems) == [
        'array.json:2: field "abstract" holds invalid text: a lone surrogate U+DFFF at '
        "character 6; skipped",
        f'lab\ufffd.jsonl:2: field "title" holds invalid text: {SURROGATE} 5; skipped',
        "lab\ufffd.jsonl:3: not valid UTF-8 (byte 0xe9 at column 15); skipped",
    ]
    assert [p.title for p in result.papers] == ["Good Paper", "Another Good Paper"]
    # The good records reach a real store, under a file name that can be stored.
    settings = make_settings(tmp_path)
    report = ingest([folder], settings, progress=False, embedder=embedder)
    assert report.papers_in_store == 2 and len(report.problems) == 3


def test_size_limits_name_the_field_and_the_limit(tmp_path: Path):
    records = write_lines(
        tmp_path / "sizes.jsonl",
        [
            {"title": "T" * 1001, "abstract": ABSTRACT},
            {"title": "Long Abstract", "abstract": "word " * 4001},
            {"title": "Many Authors", "abstract": ABSTRACT, "authors": "A" * 100_001},
            {"title": "Long Url", "abstract": ABSTRACT, "url": "u" * 2001},
            {"title": "At The Limits", "abstract": "a" * MAX_ABSTRACT_CHARS, "url": "u" * 2000},
        ],
    )
    papers, problems = parse_file(records)
    assert messages(problems) == [
        "sizes.jsonl:1: title is 1001 characters; the limit is 1000; skipped",
        "sizes.jsonl:2: abstract is 20004 characters; the limit is 20000; skipped",
        "sizes.jsonl:3: authors is 100001 characters; the limit is 100000; skipped",
        "sizes.jsonl:4: url is 2001 characters; the limit is 2000; skipped",
    ]
    assert [p.title for p in papers] == ["At The Limits"]

    listing = tmp_path / "listing.txt"
    listing.write_text(f"Huge Abstract\n\n{'x' * 60_000}\n\nGood Title\n\n{ABSTRACT}\n")
    papers, problems = parse_file(listing)
    assert messages(problems) == [
        "listing.txt:3: abstract of 'Huge Abstract' is 60000 characters; the limit is 20000; "
        "skipped"
    ]
    assert [p.title for p in papers] == ["Good Title"]

    array = tmp_path / "array.json"
    huge = json.dumps({"title": "Huge", "abstract": "y" * MAX_RECORD_CHARS})
    array.write_text(f"[\n{huge},\n{json.dumps({'title': 'Small', 'abstract': ABSTRACT})}\n]")
    papers, problems = parse_file(array)
    assert messages(problems) == [
        f"array.json:2: record is {len(huge)} characters; the limit is 2000000; skipped"
    ]
    assert [p.title for p in papers] == ["Small"]


PARSE_AND_MEASURE = """
import json, resource, sys, time
from pathlib import Path
from ingest.parsers import parse_paths
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
began = time.perf_counter()
result = parse_paths([Path(sys.argv[1])])
print(json.dumps({
    "seconds": time.perf_counter() - began,
    "growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024,
    "titles": [p.title for p in result.papers],
    "problems": [str(p) for p in result.problems],
}))
"""


def test_a_50_mb_jsonl_line_is_refused_in_seconds_with_bounded_memory(tmp_path: Path):
    filler = "lorem ipsum " * ((50 << 20) // 12 + 1)  # one valid record, a 50 MiB abstract
    huge_line = json.dumps({"title": "Huge", "abstract": filler})
    size = len(huge_line)
    big = tmp_path / "big.jsonl"
    big.write_text(huge_line + "\n" + json.dumps({"title": "Fine", "abstract": ABSTRACT}) + "\n")

    began = time.perf_counter()
    measured = subprocess.run(
        [sys.executable, "-c", PARSE_AND_MEASURE, str(big)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert measured.returncode == 0, measured.stderr
    outcome = json.loads(measured.stdout)
    assert outcome["problems"] == [
        f"big.jsonl:1: line is {size} bytes; the limit for one record is 2000000; skipped"
    ]
    assert outcome["titles"] == ["Fine"]
    assert outcome["seconds"] < 5, outcome  # measured: ~0.1 s
    assert outcome["growth_mib"] < 64, outcome  # measured: ~2 MiB; before: 6.9 GB
    assert time.perf_counter() - began < 60

    # The command line says the same in one line, with no traceback, and touches nothing.
    only_big = tmp_path / "only-big.jsonl"
    only_big.write_text(huge_line + "\n")
    env = clean_env(chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache")
    began = time.perf_counter()
    result = run_module("ingest", str(only_big), env=env, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr  # the reading bar shares stderr with the errors
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: only-big.jsonl:1: line is {size} bytes; the limit for one record is 2000000; "
        "skipped",
        "error: nothing was ingested; the store is unchanged",
    ]
    assert time.perf_counter() - began < 60 and not (tmp_path / "chroma").exists()
