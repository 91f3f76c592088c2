"""Scale benchmark: synthetic corpora of 1k, 10k and 100k chunks, embedded store and server.

    python benchmarks/scale_bench.py [--sizes 1000 10000 100000] [--no-server]

Synthetic papers are built from the real corpus by recombining its sentences (so texts stay
realistic) under recombined titles. Embeddings are precomputed: every real sentence is
embedded once, and a synthetic chunk's vector is the normalised mean of its sentences'
vectors, so ingest time measures the store, not the model. For each size and each store
(embedded PersistentClient, and a ``chroma run`` server) it prints ingest seconds, BM25
build seconds, engine start seconds, hybrid search p50/p95 and peak memory, and writes
``benchmarks/output/scale.png`` and ``scale.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from common import ROOT, eval_questions, percentile
from llama_index.core.schema import TextNode

from assistant.core.embeddings import build_embedder
from assistant.core.lexical import LexicalIndex
from assistant.core.schema import ABSTRACT, CHUNK_INDEX, HIDDEN_KEYS, Paper
from assistant.core.settings import Settings
from assistant.core.store import PaperStore
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


def synthetic_nodes(n: int, pool, seed: int = 7) -> tuple[list[TextNode], np.ndarray]:
    sentences, vectors, title_words = pool
    rng = random.Random(seed)
    nodes, embeddings = [], np.empty((n, vectors.shape[1]), dtype=np.float32)
    for i in range(n):
        picks = rng.sample(range(len(sentences)), rng.randint(2, 4))
        title = " ".join(rng.sample(title_words, rng.randint(5, 10))) + f" {i}"
        text = " ".join(sentences[j] for j in picks)
        paper = Paper(
            title=title, abstract=text, paper_id=paper_id_for(title), sources=["synthetic"]
        )
        node = TextNode(
            text=text,
            id_=f"{paper.paper_id}:0",
            metadata={**paper.metadata(), CHUNK_INDEX: 0, ABSTRACT: text},
            excluded_embed_metadata_keys=list(HIDDEN_KEYS),
            excluded_llm_metadata_keys=list(HIDDEN_KEYS),
            metadata_template="{value}",
            text_template="{metadata_str}\n\n{content}",
        )
        vector = vectors[picks].mean(axis=0)
        embeddings[i] = vector / np.linalg.norm(vector)
        nodes.append(node)
    return nodes, embeddings


def run_size(n: int, pool, embedder, settings: Settings, questions: list[str]) -> dict:
    nodes, embeddings = synthetic_nodes(n, pool)
    store = PaperStore.open_for_writing(settings, embedder.info)
    batch = 5000
    began = time.perf_counter()
    for start in range(0, n, batch):
        store.upsert_chunks(nodes[start : start + batch], embeddings[start : start + batch])
    store.mark_changed()
    ingest_seconds = time.perf_counter() - began
    began = time.perf_counter()
    LexicalIndex.load(store, settings.cache_dir)
    bm25_seconds = time.perf_counter() - began
    began = time.perf_counter()
    engine = Assistant.from_settings(settings)
    start_seconds = time.perf_counter() - began
    engine.search("warm-up", k=10)
    latencies = []
    for question in questions:
        began = time.perf_counter()
        engine.search(question, k=10)
        latencies.append((time.perf_counter() - began) * 1000)
    return {
        "chunks": n,
        "ingest_s": ingest_seconds,
        "ingest_chunks_per_s": n / ingest_seconds,
        "bm25_build_s": bm25_seconds,
        "engine_start_s": start_seconds,
        "search_p50_ms": percentile(latencies, 50),
        "search_p95_ms": percentile(latencies, 95),
        "rss_mib": psutil.Process().memory_info().rss / 2**20,
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


def measure_one(n: int, store: str) -> dict:
    """One size and store, in this (fresh) process so memory figures do not accumulate."""
    embedder = build_embedder(Settings(_env_file=None))
    pool = sentence_pool(embedder)
    questions = eval_questions()[:100]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if store == "embedded":
            settings = Settings(
                _env_file=None, chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache"
            )
            row = run_size(n, pool, embedder, settings, questions)
        else:
            with ChromaServer(tmp_path / "server") as server:
                settings = Settings(
                    _env_file=None,
                    chroma_host="127.0.0.1",
                    chroma_port=server.port,
                    cache_dir=tmp_path / "cache",
                )
                row = run_size(n, pool, embedder, settings, questions)
                row["server_rss_mib"] = psutil.Process(server.process.pid).memory_info().rss / 2**20
    row["store"] = store
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("CHUNKS", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    if args.one:
        print("RESULT " + json.dumps(measure_one(int(args.one[0]), args.one[1])))
        return
    results = []
    stores = ["embedded"] + ([] if args.no_server else ["server"])
    for n in args.sizes:
        for store in stores:
            child = subprocess.run(
                [sys.executable, __file__, "--one", str(n), store],
                capture_output=True,
                text=True,
                check=True,
            )
            line = next(x for x in child.stdout.splitlines() if x.startswith("RESULT "))
            row = json.loads(line[len("RESULT ") :])
            results.append(row)
            print(
                f"{store:8s} {n:7d} chunks  ingest {row['ingest_s']:7.1f} s ({row['ingest_chunks_per_s']:6.0f}/s)  "
                f"bm25 {row['bm25_build_s']:6.1f} s  start {row['engine_start_s']:6.1f} s  "
                f"search p50 {row['search_p50_ms']:6.1f} ms p95 {row['search_p95_ms']:6.1f} ms  "
                f"rss {row['rss_mib']:6.0f} MiB"
                + (
                    f" (+ server {row['server_rss_mib']:.0f} MiB)"
                    if "server_rss_mib" in row
                    else ""
                ),
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
