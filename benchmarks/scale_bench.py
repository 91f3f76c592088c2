"""Scale benchmark: synthetic corpora of 1k, 10k and 100k chunks, embedded store and server.

    python benchmarks/scale_bench.py [--sizes 1000 10000 100000] [--no-server] [--label NAME]

Synthetic papers are built from the real corpus by recombining its sentences (so texts stay
realistic) under recombined titles. Embeddings are precomputed: every real sentence is
embedded once, and a synthetic chunk's vector is the normalised mean of its sentences'
vectors, so ingest time measures the store, not the model. For each size and each store
(embedded PersistentClient, and a ``chroma run`` server) it prints ingest seconds, BM25
build seconds, engine start seconds, hybrid search p50/p95 and peak memory, and writes
``benchmarks/output/scale.png`` and ``scale.json``.

Then it adds 1,000 papers (one chunk each, vectors precomputed) and times what an ingest
does beyond embedding them: the store writes, the caches of the new revision (BM25, the
paper catalogue) and publishing it; and, apart, what an ingest of them reads first (with
the pipeline's own planning read; see ``ingest_reads``). The ranking of the dev questions (``eval/dev.jsonl``,
hybrid and BM25 top 10) is written to ``benchmarks/output/ranking-<label>-<chunks>.json``
so two versions can be compared (``--label``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

import bm25s
import numpy as np
import psutil
from common import ROOT, eval_questions, percentile
from llama_index.core.schema import TextNode

from assistant.core.embeddings import build_embedder
from assistant.core.lexical import LexicalIndex
from assistant.core.schema import ABSTRACT, CHUNK_INDEX, HIDDEN_KEYS, PAPER_ID, TITLE, Paper
from assistant.core.sentence_vectors import SentenceVectors
from assistant.core.settings import Settings
from assistant.core.store import PaperStore, new_revision
from assistant.engine import Assistant
from devtools.chroma_server import ChromaServer
from ingest import BUNDLED_PAPERS
from ingest.parsers import parse_paths
from ingest.records import paper_id_for

SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
OUTPUT = ROOT / "benchmarks" / "output"


def sentence_pool(embedder) -> tuple[list[str], np.ndarray, list[str]]:
    """Real sentences and their vectors (cached in benchmarks/output between runs)."""
    papers = parse_paths([BUNDLED_PAPERS]).papers
    sentences = sorted(
        {s for p in papers for s in SENTENCE.split(p.abstract) if 30 <= len(s) <= 400}
    )
    cache = OUTPUT / "sentence_vectors.npy"
    if cache.exists() and np.load(cache).shape[0] == len(sentences):
        vectors = np.load(cache)
    else:
        vectors = np.asarray(embedder.model.get_text_embedding_batch(sentences), dtype=np.float32)
        np.save(cache, vectors)
    title_words = [w for p in papers for w in p.title.split()]
    return sentences, vectors, title_words


def synthetic_batches(
    n: int, pool, batch: int, seed: int = 7, first: int = 0
) -> Iterator[tuple[list[TextNode], np.ndarray]]:
    """``n`` synthetic one-chunk papers and their vectors, ``batch`` at a time (one random
    stream, so the papers are the same whatever the batch size, and a million of them never
    sit in memory at once)."""
    sentences, vectors, title_words = pool
    rng = random.Random(seed)
    for start in range(first, first + n, batch):
        stop = min(start + batch, first + n)
        nodes, embeddings = [], np.empty((stop - start, vectors.shape[1]), dtype=np.float32)
        for i in range(start, stop):
            picks = rng.sample(range(len(sentences)), rng.randint(2, 4))
            title = " ".join(rng.sample(title_words, rng.randint(5, 10))) + f" {i}"
            text = " ".join(sentences[j] for j in picks)
            paper = Paper(
                title=title, abstract=text, paper_id=paper_id_for(title), sources=["synthetic"]
            )
            nodes.append(
                TextNode(
                    text=text,
                    id_=f"{paper.paper_id}:0",
                    metadata={**paper.metadata(), CHUNK_INDEX: 0, ABSTRACT: text},
                    excluded_embed_metadata_keys=list(HIDDEN_KEYS),
                    excluded_llm_metadata_keys=list(HIDDEN_KEYS),
                    metadata_template="{value}",
                    text_template="{metadata_str}\n\n{content}",
                )
            )
            vector = vectors[picks].mean(axis=0)
            embeddings[i - start] = vector / np.linalg.norm(vector)
        yield nodes, embeddings


def synthetic_nodes(
    n: int, pool, seed: int = 7, first: int = 0
) -> tuple[list[TextNode], np.ndarray]:
    """``n`` synthetic papers at once (see ``synthetic_batches``)."""
    ((nodes, embeddings),) = synthetic_batches(n, pool, max(n, 1), seed, first)
    return nodes, embeddings


def dev_questions() -> list[str]:
    """The questions of eval/dev.jsonl (conversation turns included)."""
    questions = []
    for line in (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        questions += [case["question"]] if "question" in case else []
        questions += [turn["question"] for turn in case.get("turns", [])]
    return questions


def ranking(engine: Assistant) -> dict[str, dict[str, list[str]]]:
    """Top 10 of each dev question: hybrid (paper ids) and BM25 alone (chunk ids)."""
    from llama_index.core.schema import QueryBundle

    return {
        question: {
            "hybrid": [hit.paper_id for hit in engine.search(question, k=10)],
            "bm25": [
                hit.node.node_id
                for hit in engine.retriever.lexical.retrieve(QueryBundle(question), 10)
            ],
        }
        for question in dev_questions()
    }


def publish(store: PaperStore, settings: Settings, written: list[TextNode]) -> None:
    """What an ingest does once its chunks are written, embedding aside: the caches of
    the new revision, then the revision. (Before the on-disk catalogue: a full BM25
    rebuild, and every paper read back for the sentence vectors.)"""
    revision = new_revision()
    try:
        from assistant.core.changes import StoreChanges
        from assistant.core.paper_file import PaperFile
    except ImportError:
        LexicalIndex.refresh(store, settings.cache_dir, revision)
        store.papers()
    else:
        changes = StoreChanges.of(written, (), base=store.revision)
        LexicalIndex.refresh(store, settings.cache_dir, revision, changes)
        PaperFile.refresh(store, settings.cache_dir, revision, changes)
    store.mark_changed(revision)


def ingest_reads(store: PaperStore, added: list[TextNode]) -> dict[str, float]:
    """What an ingest of the ``added`` papers reads before writing, timed on this store.

    ``ingest_reads_s``: with the pipeline's own planning read (``stored_chunks``) on a store
    marked as holding content ids (as any store is after its first ingest by this
    version): the listed papers' stored chunks, and their vectors checked.
    ``whole_reads_s``: the reads of a store without the mark, made once (and by every
    ingest before the mark existed): every chunk's metadata, every vector checked.
    ``paper_count_s``: counting the papers by their first chunks, which every ingest did
    at its end before the catalogue counted them. In a version without the mark, only
    the whole reads are timed (as ``ingest_reads_s``).
    """
    try:
        from ingest.pipeline import stored_chunks
    except ImportError:
        stored_chunks = None
    began = time.perf_counter()
    stored = store.chunk_metadata()
    store.missing_vectors(list(stored))
    whole = time.perf_counter() - began
    if stored_chunks is None:
        return {"ingest_reads_s": whole}
    began = time.perf_counter()
    store.paper_count()
    count = time.perf_counter() - began
    store.mark_content_ids()  # every chunk here is under its paper's content id
    papers = [
        Paper(n.metadata[TITLE], n.metadata[ABSTRACT], n.metadata[PAPER_ID], ["synthetic"])
        for n in added
    ]
    began = time.perf_counter()
    stored, whole_store = stored_chunks(store, papers)
    store.missing_vectors(list(stored))
    reads = time.perf_counter() - began
    assert not whole_store and not stored  # new papers: nothing of them is stored yet
    return {"ingest_reads_s": reads, "whole_reads_s": whole, "paper_count_s": count}


def run_size(
    n: int,
    pool,
    embedder,
    settings: Settings,
    questions: list[str],
    label: str = "",
    kept: bool = False,
) -> dict:
    store = PaperStore.open_for_writing(settings, embedder.info)
    ingest_seconds = 0.0
    for nodes, embeddings in synthetic_batches(n, pool, batch=5000):
        began = time.perf_counter()
        store.upsert_chunks(nodes, embeddings)
        ingest_seconds += time.perf_counter() - began
    # the caches an ingest writes for the revision it publishes
    revision = new_revision()
    began = time.perf_counter()
    LexicalIndex.refresh(store, settings.cache_dir, revision)
    bm25_seconds = time.perf_counter() - began
    began = time.perf_counter()
    try:
        from assistant.core.paper_file import PaperFile
    except ImportError:  # before the catalogue on disk
        pass
    else:
        PaperFile.refresh(store, settings.cache_dir, revision)
    catalogue_seconds = time.perf_counter() - began
    store.mark_changed(revision)
    began = time.perf_counter()
    engine = Assistant.from_settings(settings)
    start_seconds = time.perf_counter() - began
    latencies = search_latencies(engine, questions)
    rss_mib = psutil.Process().memory_info().rss / 2**20
    app = app_alone(settings, questions)
    if label:
        path = OUTPUT / f"ranking-{label}-{n}.json"
        path.write_text(json.dumps(ranking(engine), indent=1))
    del engine
    added, added_vectors = synthetic_nodes(1000, pool, seed=11, first=n)
    reads = ingest_reads(store, added)
    began = time.perf_counter()
    store.upsert_chunks(added, added_vectors)
    publish(store, settings, added)
    add_seconds = time.perf_counter() - began
    row = {
        "chunks": n,
        "ingest_s": ingest_seconds,
        "ingest_chunks_per_s": n / ingest_seconds,
        "bm25_build_s": bm25_seconds,
        "catalogue_build_s": catalogue_seconds,
        "engine_start_s": start_seconds,
        "search_p50_ms": percentile(latencies, 50),
        "search_p95_ms": percentile(latencies, 95),
        "rss_mib": rss_mib,
        **app,
        "add_1000_s": add_seconds,
        **reads,
    }
    if label and importlib.util.find_spec("assistant.core.paper_file"):  # this version
        row.update(same_as_full_build(settings, embedder))
    if kept:  # an app on the kept store answers from stored sentence vectors, as after ingest
        began = time.perf_counter()
        abstracts = (
            node.text
            for first, count, seed in ((0, n, 7), (n, 1000, 11))
            for nodes, _ in synthetic_batches(count, pool, 5000, seed, first)
            for node in nodes
        )
        vectors, _ = SentenceVectors.build(abstracts, embedder)
        vectors.persist(SentenceVectors.folder(settings.cache_dir, store))
        row["sentence_vectors_s"] = time.perf_counter() - began
    return row


def search_latencies(engine: Assistant, questions: list[str]) -> list[float]:
    """Milliseconds of each hybrid search (top 10), after one to warm up."""
    engine.search("warm-up", k=10)
    latencies = []
    for question in questions:
        began = time.perf_counter()
        engine.search(question, k=10)
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def app_alone(settings: Settings, questions: list[str]) -> dict:
    """Engine start, search p50/p95 and RSS in a fresh process that only opens the store
    and the caches an ingest left (as an app does), so nothing the ingest built is counted."""
    fields = {
        key: str(value)
        for key, value in settings.model_dump().items()
        if key in ("chroma_path", "cache_dir", "chroma_host", "chroma_port") and value
    }
    child = subprocess.run(
        [sys.executable, __file__, "--app", json.dumps(fields), json.dumps(questions)],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in child.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def measure_app(fields: dict, questions: list[str]) -> dict:
    began = time.perf_counter()
    engine = Assistant.from_settings(Settings(_env_file=None, **fields))
    start_seconds = time.perf_counter() - began
    latencies = search_latencies(engine, questions)
    return {
        "app_start_s": start_seconds,
        "app_search_p50_ms": percentile(latencies, 50),
        "app_search_p95_ms": percentile(latencies, 95),
        **resident_mib(),
    }


def resident_mib() -> dict[str, float]:
    """This process's resident memory, and on Linux its anonymous part: its own (heap, the
    HNSW graph, the model), without the mapped file pages (page cache the kernel shares
    between processes and takes back under pressure) that the resident figure also counts."""
    memory = psutil.Process().memory_info()
    shared = getattr(memory, "shared", None)  # Linux: resident file and shared-memory pages
    row = {"app_rss_mib": memory.rss / 2**20}
    if shared is not None:
        row["app_anonymous_mib"] = (memory.rss - shared) / 2**20
    return row


def same_as_full_build(settings: Settings, embedder) -> dict:
    """On the store after the additions: the engine (caches as ingest left them) against
    llama-index's ``BM25Retriever`` built from every stored chunk, as engines did before
    (BM25 top 10 and top ``candidate_chunks`` with scores; hybrid top 10 papers)."""
    import Stemmer
    from llama_index.core.schema import QueryBundle
    from llama_index.retrievers.bm25 import BM25Retriever

    from assistant.core.lexical import TOKEN_PATTERN
    from assistant.retrieval import HybridRetriever

    began = time.perf_counter()
    engine = Assistant.from_settings(settings, embedder=embedder)
    restart_seconds = time.perf_counter() - began
    store = PaperStore.open(settings, embedder.info)
    reference = BM25Retriever.from_defaults(
        nodes=store.chunk_nodes(),
        stemmer=Stemmer.Stemmer("english"),
        language="en",
        similarity_top_k=10,
        token_pattern=TOKEN_PATTERN,
    )
    full = LexicalIndex.build(store.chunk_nodes())  # the in-memory build, as before
    rebuilt = HybridRetriever(store, embedder, full, engine.catalog, engine.tuning.retrieval)
    candidates = engine.retriever.candidate_chunks
    same = {"bm25_top10": 0, "bm25_candidates": 0, "hybrid_top10": 0}
    questions = dev_questions()
    for question in questions:
        for key, k in (("bm25_top10", 10), ("bm25_candidates", candidates)):
            tokens = bm25s.tokenize(
                question,
                stemmer=reference.stemmer,
                token_pattern=TOKEN_PATTERN,
                show_progress=False,
            )
            docs, scores = reference.bm25.retrieve(
                tokens, corpus=reference.corpus, k=k, show_progress=False
            )
            theirs = [(d["node_id"], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
            ours = [
                (h.node.node_id, h.score)
                for h in engine.retriever.lexical.retrieve(QueryBundle(question), k)
            ]
            same[key] += ours == theirs
        hybrid = [h.paper_id for h in engine.search(question, k=10)]
        same["hybrid_top10"] += hybrid == [h.paper_id for h in rebuilt.search(question, k=10)]
    return {
        "restart_after_add_s": restart_seconds,
        "questions": len(questions),
        **{f"same_{key}": value for key, value in same.items()},
    }


def chart(results: list[dict]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.2))
    for store, marker in (("embedded", "o"), ("server", "s")):
        rows = [r for r in results if r["store"] == store]
        if not rows:
            continue
        xs = [r["chunks"] for r in rows]
        left.plot(xs, [r["search_p50_ms"] for r in rows], marker=marker, label=f"{store} p50")
        left.plot(
            xs,
            [r["search_p95_ms"] for r in rows],
            marker=marker,
            linestyle="--",
            label=f"{store} p95",
        )
        middle.plot(
            xs,
            [r["rss_mib"] + r.get("server_rss_mib", 0) for r in rows],
            marker=marker,
            label=f"{store} (engine{' + server' if store == 'server' else ''})",
        )
        right.plot(
            xs, [r["ingest_chunks_per_s"] for r in rows], marker=marker, label=f"{store} ingest"
        )
    left.set(
        xscale="log", xlabel="chunks", ylabel="hybrid search latency (ms)", title="Query latency"
    )
    middle.set(xscale="log", xlabel="chunks", ylabel="resident memory (MiB)", title="Memory")
    right.set(
        xscale="log",
        xlabel="chunks",
        ylabel="chunks/s (precomputed embeddings)",
        title="Store ingest rate",
    )
    for axis in (left, middle, right):
        axis.grid(True, alpha=0.3)
        axis.legend()
    fig.tight_layout()
    path = OUTPUT / "scale.png"
    fig.savefig(path, dpi=110)
    return path


def measure_one(n: int, store: str, label: str = "", keep: str = "") -> dict:
    """One size and store, in this (fresh) process so memory figures do not accumulate.
    ``keep``: build the embedded store in this folder and leave it there (for a load test)."""
    embedder = build_embedder(Settings(_env_file=None))
    pool = sentence_pool(embedder)
    questions = eval_questions()[:100]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(keep) if keep and store == "embedded" else Path(tmp)
        if store == "embedded":
            settings = Settings(
                _env_file=None, chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache"
            )
            row = run_size(n, pool, embedder, settings, questions, label, kept=bool(keep))
        else:
            with ChromaServer(tmp_path / "server") as server:
                settings = Settings(
                    _env_file=None,
                    chroma_host="127.0.0.1",
                    chroma_port=server.port,
                    cache_dir=tmp_path / "cache",
                )
                row = run_size(n, pool, embedder, settings, questions, label)
                row["server_rss_mib"] = psutil.Process(server.process.pid).memory_info().rss / 2**20
    row["store"] = store
    return row


def reuse_kept(folder: Path) -> dict:
    """On a store ``--keep`` left (or one whose caches were never written): what an app of
    this version needs written first, each timed (the catalogue, the BM25 index, the
    sentence vectors, when missing or of an earlier layout: read from the store once, as an
    upgraded app or ``python -m ingest`` does), the app alone (start, search, RSS), adding
    1,000 more papers beyond embedding them (store writes, the revision's BM25 index and
    catalogue, publishing), the sentence vectors of the new revision (the added papers'
    abstracts split and their new sentences embedded, the previous segments linked), and
    the app alone again."""
    from assistant.core.paper_file import PaperFile, paper_count

    embedder = build_embedder(Settings(_env_file=None))
    pool = sentence_pool(embedder)
    questions = eval_questions()[:100]
    settings = Settings(_env_file=None, chroma_path=folder / "chroma", cache_dir=folder / "cache")
    store = PaperStore.open_for_writing(settings, embedder.info)
    row: dict = {"chunks": store.count()}

    def timed(name: str, step) -> None:
        began = time.perf_counter()
        step()
        row[name] = time.perf_counter() - began
        print(f"{name}: {row[name]:.1f} s", flush=True)

    timed("catalogue_ensure_s", lambda: PaperFile.ensure(store, settings.cache_dir))
    timed("bm25_ensure_s", lambda: LexicalIndex.ensure(store, settings.cache_dir))

    def sentence_vectors(base: str | None = None, written: Sequence[str] = ()) -> None:
        """Whole (``base`` None) or, as an ingest does, the ``written`` chunks' papers
        added to the vectors of revision ``base``."""
        with closing(PaperFile.load(store, settings.cache_dir)) as catalogue:
            papers = paper_count(catalogue)
        row["sentences_embedded"] = SentenceVectors.refresh(
            store,
            settings.cache_dir,
            embedder,
            papers=lambda: PaperFile.papers(store, settings.cache_dir, store.revision),
            base=base,
            written=PaperFile.papers(store, settings.cache_dir, store.revision, written),
            paper_count=papers,
        )

    if SentenceVectors.load(store, settings.cache_dir, embedder.info) is None:
        timed("sentence_vectors_ensure_s", sentence_vectors)
    row.update(app_alone(settings, questions))
    print(json.dumps(row), flush=True)
    added, vectors = synthetic_nodes(1000, pool, seed=13, first=row["chunks"] + 1000)

    def add() -> None:
        store.upsert_chunks(added, vectors)
        publish(store, settings, added)

    base = store.revision
    timed("add_1000_s", add)
    first_chunks = [node.id_ for node in added if node.metadata.get(CHUNK_INDEX) == 0]
    timed("sentence_vectors_add_s", lambda: sentence_vectors(base, first_chunks))
    row["after_add"] = app_alone(settings, questions)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--label", default="", help="name the dev-question rankings written")
    parser.add_argument(
        "--keep",
        default="",
        help="build the embedded store of the (single) size in this empty folder and keep it "
        "(chroma/ and cache/ inside), e.g. for load_test.py --throughput against it",
    )
    parser.add_argument(
        "--reuse",
        metavar="FOLDER",
        help="measure this version on a store --keep left (app alone, adding 1,000 papers)",
    )
    parser.add_argument("--one", nargs=2, metavar=("CHUNKS", "STORE"), help=argparse.SUPPRESS)
    parser.add_argument("--app", nargs=2, metavar=("FIELDS", "QUESTIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    if args.app:
        print("RESULT " + json.dumps(measure_app(*map(json.loads, args.app))))
        return
    if args.reuse:
        print(json.dumps(reuse_kept(Path(args.reuse).resolve()), indent=1))
        return
    if args.one:
        row = measure_one(int(args.one[0]), args.one[1], args.label, args.keep)
        print("RESULT " + json.dumps(row))
        return
    if args.keep and (len(args.sizes) > 1 or any(Path(args.keep).glob("*"))):
        parser.error("--keep takes one size and an empty folder")
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        args.keep = str(Path(args.keep).resolve())
    results = []
    stores = ["embedded"] + ([] if args.no_server else ["server"])
    for n in args.sizes:
        for store in stores:
            child = subprocess.run(
                [sys.executable, __file__, "--one", str(n), store, "--label", args.label]
                + ["--keep", args.keep] * bool(args.keep),
                capture_output=True,
                text=True,
                check=True,
            )
            line = next(x for x in child.stdout.splitlines() if x.startswith("RESULT "))
            row = json.loads(line[len("RESULT ") :])
            results.append(row)
            print(
                f"{store:8s} {n:7d} chunks  ingest {row['ingest_s']:7.1f} s ({row['ingest_chunks_per_s']:6.0f}/s)  "
                f"bm25 {row['bm25_build_s']:6.1f} s  "
                f"catalogue {row.get('catalogue_build_s', 0):5.1f} s  "
                f"start {row['engine_start_s']:6.1f} s  "
                f"search p50 {row['search_p50_ms']:6.1f} ms p95 {row['search_p95_ms']:6.1f} ms  "
                f"rss {row['rss_mib']:6.0f} MiB  app alone: start {row['app_start_s']:.1f} s, "
                f"search p50 {row['app_search_p50_ms']:.1f} ms p95 {row['app_search_p95_ms']:.1f} ms, "
                f"rss {row['app_rss_mib']:.0f} MiB"
                + (
                    f" ({row['app_anonymous_mib']:.0f} anonymous)"
                    if "app_anonymous_mib" in row
                    else ""
                )
                + f"  add 1,000 papers {row['add_1000_s']:5.1f} s "
                f"(+ {row['ingest_reads_s']:.2f} s of ingest reads"
                + (
                    f"; a store without the content-ids mark: {row['whole_reads_s']:.1f} s once, "
                    f"paper count {row['paper_count_s']:.1f} s"
                    if "whole_reads_s" in row
                    else ""
                )
                + ")"
                + (
                    f" (+ server {row['server_rss_mib']:.0f} MiB)"
                    if "server_rss_mib" in row
                    else ""
                ),
                flush=True,
            )
            if "questions" in row:
                print(
                    f"    after the additions: restart {row['restart_after_add_s']:.1f} s; same "
                    f"as a full build, of {row['questions']} dev questions: BM25 top 10 "
                    f"{row['same_bm25_top10']}, BM25 candidates {row['same_bm25_candidates']}, "
                    f"hybrid top 10 {row['same_hybrid_top10']}",
                    flush=True,
                )
    # Rows re-measured now replace earlier ones; other sizes from earlier runs are kept.
    previous_path = OUTPUT / "scale.json"
    fresh = {(r["store"], r["chunks"]) for r in results}
    if previous_path.exists():
        kept = [
            r
            for r in json.loads(previous_path.read_text())
            if (r["store"], r["chunks"]) not in fresh
        ]
        results = sorted(kept + results, key=lambda r: (r["store"], r["chunks"]))
    previous_path.write_text(json.dumps(results, indent=2))
    print(f"chart: {chart(results)}")


if __name__ == "__main__":
    main()
