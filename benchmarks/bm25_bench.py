"""BM25 score matrix: bm25s's own ``BM25.index`` against the NumPy build the index uses.

    python benchmarks/bm25_bench.py [--docs 100000 1000000] [--bm25s-up-to 1000000] [--update]

For each size, a synthetic tokenised corpus (term ids drawn from a Zipf-like distribution
over 30,000 terms, 30–90 tokens a document, seeded) is indexed in a fresh process per
build, so each peak RSS is its own: ``bm25s`` (the corpus turned into Python lists, then
``BM25().index``, as the index was built before) up to ``--bm25s-up-to`` documents, and
``numpy`` (:func:`assistant.core.bm25_matrix.bm25_index` on the flat arrays). Where both
ran, the score matrices are compared element for element (they must be identical).

``--update`` times instead what an ingest's update of the index costs: 50 chunks written and
50 removed (``LexicalIndex.updated``), on an index of the same synthetic corpus. It uses only
``LexicalIndex``, so it runs in a checkout from before the NumPy build too.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT  # noqa: F401  (sets up sys.path)

VOCABULARY = 30_000


def corpus(docs: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat term ids, offsets) of ``docs`` synthetic documents."""
    rng = np.random.default_rng(0)
    weights = 1.0 / (np.arange(VOCABULARY) + 2.7)  # Zipf-Mandelbrot
    lengths = rng.integers(30, 91, docs)
    offsets = np.zeros(docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = rng.choice(VOCABULARY, int(offsets[-1]), p=weights / weights.sum())
    return flat.astype(np.int32), offsets


def build_one(docs: int, how: str, out: Path) -> dict:
    """One build in this (fresh) process; the matrix is saved to ``out`` for comparison."""
    flat, offsets = corpus(docs)
    vocabulary = {f"t{i}": i for i in range(int(flat.max()) + 1)}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    if how == "bm25s":
        import bm25s

        documents = [flat[offsets[i] : offsets[i + 1]].tolist() for i in range(docs)]
        bm25 = bm25s.BM25()
        bm25.index((documents, vocabulary), show_progress=False)
    else:
        from assistant.core.bm25_matrix import bm25_index

        bm25 = bm25_index(flat, offsets, vocabulary)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for key in ("data", "indices", "indptr"):
        np.save(out / f"{how}-{key}.npy", bm25.scores[key])
    return {"seconds": seconds, "peak_mib": peak, "before_mib": before, "tokens": len(flat)}


def update_one(docs: int) -> dict:
    """50 chunks written and 50 removed on an index of ``docs`` documents, in this process."""
    from llama_index.core.schema import TextNode

    from assistant.core.lexical import LexicalIndex

    flat, offsets = corpus(docs)
    vocabulary = {f"t{i}": i for i in range(int(flat.max()) + 1)}
    rows = [(f"c{i}", f"p{i // 10}") for i in range(docs)]
    index = LexicalIndex._assemble(flat, offsets, vocabulary, [b"{}\n"] * docs, rows)
    written = [
        TextNode(
            text=f"graph neural networks {i} routing experts",
            id_=f"new{i}",
            metadata={"paper_id": f"new{i // 10}", "title": "New"},
        )
        for i in range(50)
    ]
    removed = {f"c{i}" for i in range(0, docs, docs // 50)}
    began = time.perf_counter()
    updated = index.updated(written, removed)
    return {"seconds": time.perf_counter() - began, "rows": len(updated)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--bm25s-up-to", type=int, default=1_000_000)
    parser.add_argument("--update", action="store_true", help="time an index update instead")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.update:
        for docs in args.docs:
            row = update_one(docs)
            print(f"{docs:9,d} documents  update (50 written, 50 removed) {row['seconds']:.2f} s")
        return
    if args.one:
        docs, how, out = args.one
        print("RESULT " + json.dumps(build_one(int(docs), how, Path(out))))
        return
    for docs in args.docs:
        with tempfile.TemporaryDirectory() as tmp:
            ways = ["numpy"] + (["bm25s"] if docs <= args.bm25s_up_to else [])
            for how in ways:
                child = subprocess.run(
                    [sys.executable, __file__, "--one", str(docs), how, tmp],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                line = next(x for x in child.stdout.splitlines() if x.startswith("RESULT "))
                row = json.loads(line[len("RESULT ") :])
                print(
                    f"{docs:9,d} documents ({row['tokens']:,d} tokens)  {how:5s}  "
                    f"{row['seconds']:6.2f} s  peak RSS {row['peak_mib']:6.0f} MiB "
                    f"(before the build {row['before_mib']:.0f} MiB)",
                    flush=True,
                )
            if len(ways) == 2:
                same = all(
                    np.array_equal(
                        np.load(Path(tmp) / f"numpy-{key}.npy"),
                        np.load(Path(tmp) / f"bm25s-{key}.npy"),
                    )
                    for key in ("data", "indices", "indptr")
                )
                print(f"{docs:9,d} documents  identical matrices: {same}", flush=True)


if __name__ == "__main__":
    main()
