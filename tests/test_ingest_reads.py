"""What an ingest reads: the chunks of the papers it lists, not the whole store.

Real model, real embedded Chroma. Every Chroma ``get`` of the collection ingest writes is
recorded, with the ids it returned:

- into a store an ingest marked as holding content ids only, a run listing a few papers
  reads only those papers' chunks (and still replaces a changed abstract, keeps what is
  unchanged, and repairs nothing it need not);
- a store from an earlier version (no mark, a paper under an old id) is read whole once,
  re-keyed, and marked; the run after it reads only its own papers;
- a ``--rebuild`` leaves the live collection marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.core.schema import Paper
from assistant.core.store import CONTENT_IDS_KEY, PaperStore, open_client
from ingest.check import check_store
from ingest.chunking import chunk_papers, embedded_text
from ingest.pipeline import ingest
from ingest.records import paper_id_for
from tests.conftest import make_settings, write_jsonl

TOPICS = [
    f"{kind} {thing}"
    for kind in ("sparse", "graph", "speech", "contrastive", "federated", "causal")
    for thing in ("routing", "pooling", "denoising", "retrieval", "pruning")
]


def abstract(topic: str, variant: str = "three") -> str:
    return (
        f"We study {topic} and propose a simple method for it. Experiments on {variant} "
        f"benchmarks show that the method improves over strong baselines for {topic} "
        "while keeping the compute budget fixed."
    )


def title(topic: str) -> str:
    return f"Notes on {topic.title()}"


class RecordedGets:
    """A collection whose ``get`` calls are recorded (arguments, ids returned)."""

    def __init__(self, collection: Any, calls: list[tuple[dict, list[str]]]):
        self._collection = collection
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        page = self._collection.get(*args, **kwargs)
        self._calls.append((kwargs, list(page["ids"])))
        return page


@pytest.fixture
def gets(monkeypatch) -> list[tuple[dict, list[str]]]:
    """Every ``get`` on the collections ingest opens for writing, in order."""
    calls: list[tuple[dict, list[str]]] = []
    opened = PaperStore.open_for_writing.__func__

    def open_for_writing(cls, *args: Any, **kwargs: Any) -> PaperStore:
        store = opened(cls, *args, **kwargs)
        store._collection = RecordedGets(store._collection, calls)
        return store

    monkeypatch.setattr(PaperStore, "open_for_writing", classmethod(open_for_writing))
    return calls


def read_papers(calls: list[tuple[dict, list[str]]]) -> set[str]:
    """The paper ids of every chunk the recorded reads returned."""
    return {chunk_id.split(":")[0] for _, ids in calls for chunk_id in ids}


def marked(settings) -> bool:
    collection = open_client(settings).get_collection(settings.collection)
    return bool((collection.metadata or {}).get(CONTENT_IDS_KEY))


def stored_paper_ids(settings) -> dict[str, str]:
    """Chunk id → the paper id stored in its metadata."""
    collection = open_client(settings).get_collection(settings.collection)
    data = collection.get(include=["metadatas"])
    return {i: m["paper_id"] for i, m in zip(data["ids"], data["metadatas"])}


def test_an_ingest_reads_only_the_chunks_of_the_papers_it_lists(tmp_path: Path, embedder, gets):
    settings = make_settings(tmp_path)
    many = write_jsonl(
        tmp_path / "many.jsonl", [{"title": title(t), "abstract": abstract(t)} for t in TOPICS]
    )
    first = ingest([many], settings, progress=False, embedder=embedder)
    assert first.papers_in_store == len(TOPICS)
    assert marked(settings)  # a new store: read whole (it was empty), then marked
    before = stored_paper_ids(settings)

    unchanged, changed, new = TOPICS[3], TOPICS[7], "quantum annealing"
    few = write_jsonl(
        tmp_path / "few.jsonl",
        [
            {"title": title(unchanged), "abstract": abstract(unchanged)},
            # A longer abstract: it wins over the stored one (see ingest.reconcile).
            {"title": title(changed), "abstract": abstract(changed, "seven public")},
            {"title": title(new), "abstract": abstract(new)},
        ],
    )
    gets.clear()
    report = ingest([few], settings, progress=False, embedder=embedder)

    listed = {paper_id_for(title(topic)) for topic in (unchanged, changed, new)}
    assert gets and read_papers(gets) <= listed, [
        (sorted(kwargs), kwargs.get("where"), len(ids)) for kwargs, ids in gets
    ]
    # No read asked for the whole store: each was by ids or by the listed papers' ids.
    assert all("ids" in kwargs or "paper_id" in str(kwargs.get("where")) for kwargs, _ in gets)
    old_chunks = [i for i, p in before.items() if p == paper_id_for(title(changed))]
    assert report.chunks_embedded == report.chunks_total - 1  # the changed and the new one
    assert report.chunks_deleted == len(old_chunks)
    assert report.chunks_unchanged == 1 and report.chunks_repaired == 0
    assert report.papers_in_store == len(TOPICS) + 1
    after = stored_paper_ids(settings)
    untouched = {i: p for i, p in before.items() if p not in listed}
    assert untouched.items() <= after.items()
    assert set(after.values()) == {paper_id_for(title(t)) for t in [*TOPICS, new]}
    assert marked(settings) and check_store(settings).clean

    gets.clear()
    again = ingest([few], settings, progress=False, embedder=embedder)
    assert again.chunks_embedded == again.chunks_deleted == 0
    assert read_papers(gets) <= listed

    ingest([few], settings, rebuild=True, progress=False, embedder=embedder)
    assert marked(settings)  # the collection a rebuild swaps in is marked too


def write_legacy_store(settings, embedder, papers: list[Paper]) -> None:
    """Chunks as versions before content identity wrote them (ids as given), no mark."""
    nodes = chunk_papers(papers, embedder.tokenize, embedder.chunk_tokens)
    vectors = embedder.model.get_text_embedding_batch([embedded_text(n) for n in nodes])
    store = PaperStore.open_for_writing(settings, embedder.info)
    store.upsert_chunks(nodes, vectors)
    store.mark_changed()


def test_a_store_from_an_earlier_version_is_rekeyed_once_then_read_by_paper(
    tmp_path: Path, embedder, gets
):
    settings = make_settings(tmp_path)
    legacy = [
        Paper(title(t), abstract(t), paper_id_for(title(t)), ["listing.txt"]) for t in TOPICS[:6]
    ]
    routing = title("mixture routing")
    legacy.append(Paper(routing, abstract("mixture routing"), "2301.00001", ["old.jsonl"]))
    write_legacy_store(settings, embedder, legacy)
    assert not marked(settings)
    new = write_jsonl(
        tmp_path / "new.jsonl", [{"title": title("optical flow"), "abstract": abstract("flow")}]
    )
    gets.clear()

    report = ingest([new], settings, progress=False, embedder=embedder)

    assert report.papers_rekeyed == 1 and report.chunks_rekeyed >= 1
    assert report.chunks_embedded == report.chunks_total - report.chunks_rekeyed  # the new one
    assert paper_id_for(title(TOPICS[0])) in read_papers(gets)  # the store was read whole
    ids = stored_paper_ids(settings)
    assert "2301.00001" not in ids.values() and paper_id_for(routing) in ids.values()
    assert marked(settings)

    later = write_jsonl(
        tmp_path / "later.jsonl", [{"title": title("depth maps"), "abstract": abstract("depth")}]
    )
    gets.clear()
    ingest([later], settings, progress=False, embedder=embedder)
    assert read_papers(gets) == {paper_id_for(title("depth maps"))}
    assert marked(settings) and check_store(settings).clean


def test_a_store_left_with_an_old_id_it_cannot_rekey_is_not_marked(tmp_path: Path, embedder):
    """A paper stored under an old id before abstracts were stored cannot be rebuilt, so
    the store keeps being read whole (as before) rather than losing track of it."""
    settings = make_settings(tmp_path)
    nodes = chunk_papers(
        [Paper(title("old speech"), "", "42", ["old.jsonl"])],
        embedder.tokenize,
        embedder.chunk_tokens,
    )
    for node in nodes:  # as written before abstracts were stored
        node.metadata.pop("abstract", None)
    store = PaperStore.open_for_writing(settings, embedder.info)
    store.upsert_chunks(nodes, embedder.model.get_text_embedding_batch(["old speech"] * len(nodes)))
    store.mark_changed()
    new = write_jsonl(
        tmp_path / "new.jsonl", [{"title": title("optical flow"), "abstract": abstract("flow")}]
    )
    report = ingest([new], settings, progress=False, embedder=embedder)
    assert report.papers_rekeyed == 0
    assert "42" in stored_paper_ids(settings).values()
    assert not marked(settings)
