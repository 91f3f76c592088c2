"""The paper catalogue is written at ingest, per revision (issue 21): an engine starts from
it without reading the papers from Chroma; a missing or damaged one is rebuilt from the
store; an ingest updates the previous revision's with what it wrote; ``ingest --check``
compares it with the stored papers."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant.catalog import PaperCatalog
from assistant.core import paper_file, revision_folders
from assistant.core.paper_file import DATABASE, INDEX, PaperFile
from assistant.core.schema import title_key
from assistant.core.store import PaperStore
from assistant.core.terms import new_stemmer, term_tokens
from assistant.engine import Assistant
from ingest.check import check_store
from ingest.pipeline import ingest
from tests.conftest import make_settings, write_jsonl

ABSTRACT = (
    "Sparse mixtures of experts route each token to a few expert networks. "
    "We show that routing with learned temperature improves perplexity by four points."
)


def persisted(settings) -> tuple[list, int]:
    store = PaperStore.open(settings, None)
    found = PaperFile.read(PaperFile.folder(settings.cache_dir, store))
    assert found is not None
    return found


def no_paper_reads(monkeypatch) -> list:
    """Records every read of whole papers from the store (``first_chunks`` without ids)."""
    reads: list = []
    first_chunks = PaperStore.first_chunks

    def spy(self, ids=None):
        if ids is None:
            reads.append(self.name)
        return first_chunks(self, ids)

    monkeypatch.setattr(PaperStore, "first_chunks", spy)
    return reads


def test_ingest_writes_the_catalogue_and_the_engine_starts_from_it(
    corpus_store, embedder, monkeypatch
):
    settings, report = corpus_store
    store = PaperStore.open(settings, None)
    papers, chunks = persisted(settings)
    assert papers == store.papers() and len(papers) == report.papers_in_store
    assert chunks == store.count() == report.chunks_in_store
    reads = no_paper_reads(monkeypatch)
    engine = Assistant.from_settings(settings, embedder=embedder)
    assert reads == []  # not one paper read from Chroma
    assert list(engine.catalog.papers.values()) == papers
    assert engine.catalog.chunk_count == chunks
    assert check_store(settings).clean


def title_index(database: Path) -> set[tuple[str, str, str]]:
    """Every (table, word or term, paper id) of a catalogue file's title tables."""
    with sqlite3.connect(database) as connection:
        return {
            (table, key, paper_id)
            for table, column in (("title_words", "word"), ("title_terms", "term"))
            for key, paper_id in connection.execute(
                f"SELECT t.{column}, p.paper_id FROM {table} AS t "
                "JOIN papers AS p ON p.position = t.position"
            )
        }


def test_the_catalogue_answers_title_lookups_as_a_scan_of_every_title_would(corpus_store):
    """The premise checks ask the catalogue file (not a copy of every title in memory)
    which papers a title term names and whether a quoted title is indexed."""
    settings, _ = corpus_store
    store = PaperStore.open(settings, None)
    catalog = PaperCatalog.load(store, settings.cache_dir)
    papers = store.papers()
    stemmer = new_stemmer()
    by_term: dict[str, list[str]] = {}
    for paper in papers:
        for _, term in dict.fromkeys(term_tokens(paper.title, stemmer)):
            if paper.paper_id not in by_term.setdefault(term, []):
                by_term[term].append(paper.paper_id)
    assert {term: catalog.titled(term) for term in by_term} == by_term
    assert catalog.titled("nosuchterm") == []
    assert all(catalog.titled(term, limit=1) == ids[:1] for term, ids in by_term.items())

    def scanned(quoted: str, share: float) -> bool:
        words = set(title_key(quoted).split())
        return bool(words) and any(
            len(words & (title := set(title_key(p.title).split())))
            >= share * max(len(words), len(title))
            for p in papers
        )

    quotes = [p.title for p in papers[:40]]
    quotes += [" ".join(title.split()[1:]) for title in quotes]  # a word left out
    quotes += [f"{title} revisited again" for title in quotes[:40]]  # words added
    quotes += ["Transformers", "A Survey of Everything Under the Sun", ""]
    for share in (0.6, 0.8, 1.0):
        answers = [catalog.has_title_like(quoted, share) for quoted in quotes]
        assert answers == [scanned(quoted, share) for quoted in quotes], share
    assert any(answers) and not all(answers)
    assert catalog.by_title(papers[5].title.upper()) == papers[5]
    assert len(catalog) == len(papers) and papers[7].paper_id in catalog.papers


def test_lookups_at_once_read_on_their_own_connections_even_after_the_folder_goes(store_copy):
    """Threads sharing one SQLite connection wait on its mutex holding the GIL; each
    lookup borrows its own connection, opened at load, so they keep reading the file after
    a later ingest removes its folder; with every connection lent, the first is shared."""
    import threading

    from assistant.catalog import READERS, ReadConnections

    store = PaperStore.open(store_copy, None)
    catalog = PaperCatalog.load(store, store_copy.cache_dir)
    papers = store.papers()
    shutil.rmtree(PaperFile.root(store_copy.cache_dir, store))  # a later ingest's pruning
    readers = catalog._readers
    lent = [readers.borrowed() for _ in range(READERS + 1)]
    connections = [borrowed.__enter__() for borrowed in lent]
    assert len({id(c) for c in connections}) == READERS  # all spares, then the first again
    assert connections[-1] is readers.first
    for connection, borrowed in zip(connections, lent):
        assert connection.execute("SELECT count(*) FROM papers").fetchone()[0] == len(papers)
        borrowed.__exit__(None, None, None)
    wrong: list[str] = []

    def look_up(offset: int) -> None:
        for paper in papers[offset::4] * 3:
            if catalog.papers[paper.paper_id] != paper or paper.paper_id not in catalog.papers:
                wrong.append(paper.paper_id)
            if catalog.papers.many([paper.paper_id]) != {paper.paper_id: paper}:
                wrong.append(paper.paper_id)

    threads = [threading.Thread(target=look_up, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert not ReadConnections(sqlite3.connect(":memory:"))._idle.qsize()  # in memory: one


def test_a_missing_catalogue_is_built_from_the_store_once(store_copy, embedder, monkeypatch):
    store = PaperStore.open(store_copy, None)
    shutil.rmtree(PaperFile.root(store_copy.cache_dir, store))  # an earlier version's store
    assert any("no paper catalogue" in note for note in check_store(store_copy).notes)
    papers = store.papers()
    reads = no_paper_reads(monkeypatch)
    first = PaperCatalog.load(store, store_copy.cache_dir)
    assert reads == [store.name] and list(first.papers.values()) == papers
    again = PaperCatalog.load(store, store_copy.cache_dir)  # now from the file
    assert reads == [store.name] and again.papers == first.papers
    assert check_store(store_copy).clean


@pytest.mark.parametrize("damage", ["truncate", "flip", "index"])
def test_a_damaged_catalogue_is_not_used_and_is_rebuilt(store_copy, embedder, damage):
    store = PaperStore.open(store_copy, None)
    folder = PaperFile.folder(store_copy.cache_dir, store)
    database = folder / DATABASE
    if damage == "truncate":
        database.write_bytes(database.read_bytes()[:-4096])
    elif damage == "flip":
        data = bytearray(database.read_bytes())
        data[len(data) // 2] ^= 0x40
        database.write_bytes(bytes(data))
    else:
        (folder / INDEX).write_text("{not json")
    problems = check_store(store_copy).problems
    assert any("paper catalogue" in problem for problem in problems), problems
    engine = Assistant.from_settings(store_copy, embedder=embedder)
    assert list(engine.catalog.papers.values()) == store.papers()
    assert check_store(store_copy).clean  # written again by the engine


def test_an_engine_start_hashes_no_file_written_as_recorded_and_check_hashes_them_all(
    store_copy, embedder, monkeypatch
):
    """Hashing every cache file at each start costs seconds on a large store: a start hashes
    only files whose size or modification time changed since they were written (the
    damage tests above change them); ``ingest --check`` hashes every file."""
    store = PaperStore.open(store_copy, None)
    hashed: list[str] = []
    digest = revision_folders.file_digest

    def counted(path: Path) -> str:
        hashed.append(Path(path).name)
        return digest(path)

    monkeypatch.setattr(revision_folders, "file_digest", counted)
    engine = Assistant.from_settings(store_copy, embedder=embedder)
    assert engine.sentence_vectors is not None and hashed == []
    database = PaperFile.folder(store_copy.cache_dir, store) / DATABASE
    written = database.stat()
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0x40
    database.write_bytes(bytes(data))
    os.utime(database, ns=(written.st_atime_ns, written.st_mtime_ns))  # as if never touched
    problems = check_store(store_copy).problems
    assert any(f"{DATABASE} fails its checksum" in problem for problem in problems), problems
    assert {DATABASE, "segment-0000.npy", "keys.npy", "tokens.npy", "corpus.jsonl"} <= set(hashed)


def test_check_notices_a_catalogue_out_of_step(store_copy):
    store = PaperStore.open(store_copy, None)
    folder = PaperFile.folder(store_copy.cache_dir, store)
    first = store.first_chunks()
    first[0][1].title = "A title no stored paper has"
    PaperFile.write(folder, first[1:] + first[:1], store.count())  # intact, but wrong
    problems = check_store(store_copy).problems
    assert any("out of step" in problem and "1 differing" in problem for problem in problems)


def test_a_catalogue_counting_other_chunks_is_rebuilt(store_copy):
    store = PaperStore.open(store_copy, None)
    folder = PaperFile.folder(store_copy.cache_dir, store)
    PaperFile.write(folder, store.first_chunks()[:3], store.count() - 1)
    catalog = PaperCatalog.load(store, store_copy.cache_dir)
    assert list(catalog.papers.values()) == store.papers()


def test_an_ingest_updates_the_previous_catalogue(tmp_path: Path, embedder, monkeypatch):
    """New papers, a changed abstract (new first chunk, old one deleted) and a relabelled
    paper: the updated catalogue is what reading every paper gives, in the same order,
    and no ingest after the first reads every paper."""
    settings = make_settings(tmp_path)
    records = [
        {"title": f"Routing Experts {n}", "abstract": ABSTRACT.replace("four", str(n))}
        for n in range(6)
    ]
    (tmp_path / "in").mkdir()
    source = write_jsonl(tmp_path / "in" / "p.jsonl", records)
    ingest([source], settings, progress=False, embedder=embedder)
    reads = no_paper_reads(monkeypatch)

    records[2]["abstract"] = "A completely new abstract about graph neural networks. " * 3
    records.append({"title": "A New Paper", "abstract": ABSTRACT.replace("experts", "heads")})
    write_jsonl(source, records)
    report = ingest([source], settings, progress=False, embedder=embedder)
    assert report.chunks_deleted == 1 and report.chunks_embedded == 2
    write_jsonl(tmp_path / "in" / "q.jsonl", [records[4]])  # relabels paper 4
    report = ingest([tmp_path / "in"], settings, progress=False, embedder=embedder)
    assert report.chunks_relabelled == 1
    assert reads == []

    store = PaperStore.open(settings, None)
    papers, chunks = persisted(settings)
    assert papers == store.papers()
    assert chunks == store.count()
    fresh = tmp_path / "fresh" / "catalogue"
    PaperFile.write(fresh, store.first_chunks(), chunks)  # the title tables as built whole
    updated = PaperFile.folder(settings.cache_dir, store) / DATABASE
    assert title_index(updated) == title_index(fresh / DATABASE)
    assert next(p for p in papers if p.title == "Routing Experts 4").sources == [
        "p.jsonl",
        "q.jsonl",
    ]
    assert check_store(settings).clean


def test_without_the_previous_catalogue_an_ingest_reads_every_paper(
    tmp_path: Path, embedder, monkeypatch
):
    settings = make_settings(tmp_path)
    source = write_jsonl(tmp_path / "p.jsonl", [{"title": "Paper A", "abstract": ABSTRACT}])
    ingest([source], settings, progress=False, embedder=embedder)
    store = PaperStore.open(settings, None)
    shutil.rmtree(PaperFile.root(settings.cache_dir, store))
    reads = no_paper_reads(monkeypatch)
    both = [{"title": "Paper A", "abstract": ABSTRACT}, {"title": "Paper B", "abstract": ABSTRACT}]
    write_jsonl(source, both)
    ingest([source], settings, progress=False, embedder=embedder)
    assert len(reads) == 1
    assert [p.title for p in persisted(settings)[0]] == ["Paper A", "Paper B"]


def test_an_unwritable_cache_only_costs_a_warning(store_copy, monkeypatch, caplog):
    store = PaperStore.open(store_copy, None)
    shutil.rmtree(PaperFile.root(store_copy.cache_dir, store))

    def refuse(*_args, **_kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(paper_file, "_connect", refuse)
    catalog = PaperCatalog.load(store, store_copy.cache_dir)
    assert list(catalog.papers.values()) == store.papers()
    assert "cannot persist the paper catalogue" in caplog.text


def test_after_an_interrupted_ingest_the_next_one_reads_every_paper(
    tmp_path: Path, embedder, monkeypatch
):
    """A run killed after writing its chunks, before publishing: those papers are in no
    catalogue and not among what the next run writes, so the next run reads them all."""
    settings = make_settings(tmp_path)
    source = write_jsonl(tmp_path / "p.jsonl", [{"title": "Paper A", "abstract": ABSTRACT}])
    ingest([source], settings, progress=False, embedder=embedder)
    killed = write_jsonl(tmp_path / "k.jsonl", [{"title": "Paper K", "abstract": ABSTRACT}])

    def killed_here(*_args, **_kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(PaperFile, "refresh", killed_here)
        with pytest.raises(KeyboardInterrupt):
            ingest([killed], settings, progress=False, embedder=embedder)
    reads = no_paper_reads(monkeypatch)
    write_jsonl(
        source,
        [{"title": "Paper A", "abstract": ABSTRACT}, {"title": "Paper B", "abstract": ABSTRACT}],
    )
    ingest([source], settings, progress=False, embedder=embedder)
    assert len(reads) == 1
    assert sorted(p.title for p in persisted(settings)[0]) == ["Paper A", "Paper B", "Paper K"]
    # The killed run stays reported until its own file is ingested again (another file's
    # run does not finish it), and that run writes nothing new.
    assert check_store(settings).problems == [
        f"an ingest of {killed.resolve()} did not finish (it was interrupted): run it again; "
        "it writes only what is missing"
    ]
    assert ingest([killed], settings, progress=False, embedder=embedder).chunks_embedded == 0
    assert check_store(settings).clean
