"""What keeping the store safe and followed costs.

    python benchmarks/store_bench.py [--sizes 10000] [--no-server]

- Bundled corpus (real model, embedded store): an unchanged re-ingest and the part of it
  spent checking that every stored chunk's vector is readable (the repair scan);
  ``ingest --check``; one revision read (what the app does every second); one engine
  reload with the model already loaded (what the app does after an ingest).
- Synthetic stores of N chunks (the real corpus's sentences recombined, random unit
  vectors written directly, so the store, not the model, is measured): the same, with the
  check split into its vector-readability scan and its own-vector search of every chunk.
- A ``chroma run`` server: one revision read over HTTP.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT  # noqa: F401  (puts the project on sys.path)

sys.path.insert(0, str(Path(__file__).parent))
from scale_bench import (
    SENTENCE,  # noqa: E402
    synthetic_nodes,  # noqa: E402
)

from assistant.core.embeddings import build_embedder  # noqa: E402
from assistant.core.settings import Settings  # noqa: E402
from assistant.core.store import PaperStore  # noqa: E402
from assistant.engine import Assistant  # noqa: E402
from devtools.chroma_server import ChromaServer  # noqa: E402
from ingest import BUNDLED_PAPERS  # noqa: E402
from ingest.check import check_store  # noqa: E402
from ingest.parsers import parse_paths  # noqa: E402
from ingest.pipeline import ingest  # noqa: E402


def timed(function, repeat: int = 1) -> tuple[float, object]:
    """Median seconds of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def revision_read_us(store: PaperStore, n: int = 2000) -> str:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        store.live_revision()
        times.append((time.perf_counter() - began) * 1e6)
    times.sort()
    return f"mean {statistics.fmean(times):.0f} µs, p95 {times[int(0.95 * n)]:.0f} µs"


def report_store(label: str, settings: Settings, embedder) -> None:
    store = PaperStore.open(settings, embedder.info)
    ids = store.chunk_ids()
    scan, missing = timed(lambda: store.missing_vectors(ids))
    own, unfound = timed(lambda: store.not_found_by_own_vector(ids))
    check, result = timed(lambda: check_store(settings))
    reload, _ = timed(lambda: Assistant.from_settings(settings, embedder=embedder), repeat=3)
    print(f"{label}: {len(ids)} chunks")
    print(f"  vector readability scan  {scan:7.2f} s  ({len(missing)} missing)")
    print(f"  own-vector search, all   {own:7.2f} s  ({len(unfound)} not found)")
    print(f"  ingest --check (whole)   {check:7.2f} s  ({'clean' if result.clean else 'DIRTY'})")
    print(f"  revision read            {revision_read_us(store)}")
    print(f"  engine reload            {reload:7.2f} s  (median of 3, model loaded)")


def synthetic_store(n: int, settings: Settings, embedder) -> None:
    papers = parse_paths([BUNDLED_PAPERS]).papers
    sentences = sorted(
        {s for p in papers for s in SENTENCE.split(p.abstract) if 30 <= len(s) <= 400}
    )
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((len(sentences), embedder.info.dimension)).astype(np.float32)
    title_words = [w for p in papers for w in p.title.split()]
    nodes, embeddings = synthetic_nodes(n, (sentences, vectors, title_words))
    store = PaperStore.open_for_writing(settings, embedder.info)
    for start in range(0, n, 5000):
        store.upsert_chunks(nodes[start : start + 5000], embeddings[start : start + 5000])
    store.mark_changed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10000])
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    embedder = build_embedder(Settings(_env_file=None))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(_env_file=None, chroma_path=root / "c", cache_dir=root / "cache")
        ingest([BUNDLED_PAPERS], settings, progress=False, embedder=embedder)
        seconds, again = timed(
            lambda: ingest([BUNDLED_PAPERS], settings, progress=False, embedder=embedder), 3
        )
        store = PaperStore.open(settings, embedder.info)
        scan, _ = timed(lambda: store.missing_vectors(store.chunk_ids()), 3)
        print(f"unchanged re-ingest of the bundled corpus: {seconds:.2f} s (median of 3), of")
        print(f"  which the vector readability scan {scan:.3f} s ({again.chunks_total} chunks)")
        report_store("bundled corpus, embedded", settings, embedder)
        for n in args.sizes:
            sized = Settings(
                _env_file=None, chroma_path=root / f"s{n}", cache_dir=root / f"cache{n}"
            )
            synthetic_store(n, sized, embedder)
            report_store("synthetic, embedded", sized, embedder)
        if not args.no_server:
            with ChromaServer(root / "server") as server:
                remote = Settings(
                    _env_file=None,
                    chroma_host="127.0.0.1",
                    chroma_port=server.port,
                    cache_dir=root / "server-cache",
                )
                synthetic_store(1000, remote, embedder)
                print(f"server revision read: {revision_read_us(PaperStore.open(remote, None))}")


if __name__ == "__main__":
    main()
