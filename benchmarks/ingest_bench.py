"""Ingest benchmark for the bundled corpus: prints figures for the README.

    python benchmarks/ingest_bench.py

Cold ingest into an empty temporary store (model loaded beforehand, so the figure is the
pipeline's), unchanged re-ingest, peak memory, and a bare ``SentenceTransformer.encode``
over the very same chunk texts in the same run: the ratio shows how close the pipeline runs
to the model's own arithmetic.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from assistant.core.embeddings import build_embedder  # noqa: E402
from assistant.core.settings import Settings  # noqa: E402
from ingest import BUNDLED_PAPERS  # noqa: E402
from ingest.chunking import chunk_papers, embedded_text  # noqa: E402
from ingest.parsers import parse_paths  # noqa: E402
from ingest.pipeline import ingest  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    began = time.perf_counter()
    settings = Settings(_env_file=None)
    embedder = build_embedder(settings)
    load_seconds = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as tmp:
        store = Settings(
            _env_file=None, chroma_path=Path(tmp) / "chroma", cache_dir=Path(tmp) / "cache"
        )
        cold = ingest([BUNDLED_PAPERS], store, progress=False, embedder=embedder)
        warm = ingest([BUNDLED_PAPERS], store, progress=False, embedder=embedder)

    papers = parse_paths([BUNDLED_PAPERS]).papers
    texts = [
        embedded_text(n) for n in chunk_papers(papers, embedder.tokenize, embedder.chunk_tokens)
    ]
    model = embedder.model._model
    began = time.perf_counter()
    model.encode(texts, batch_size=settings.embedding_batch_size, normalize_embeddings=True)
    bare_seconds = time.perf_counter() - began

    print(f"model load                 {load_seconds:6.2f} s")
    print(
        f"cold ingest                {cold.seconds:6.2f} s  {cold.papers_per_second:6.1f} papers/s  "
        f"({cold.papers} papers, {cold.chunks_embedded} chunks)"
    )
    print(
        f"  of which embedding       {cold.embed_seconds:6.2f} s  {cold.chunks_embedded / cold.embed_seconds:6.1f} chunks/s"
    )
    print(
        f"bare encode, same chunks   {bare_seconds:6.2f} s  {len(texts) / bare_seconds:6.1f} chunks/s"
    )
    print(f"ratio embed step / bare    {cold.embed_seconds / bare_seconds:6.2f}")
    print(f"ratio whole ingest / bare  {cold.seconds / bare_seconds:6.2f}")
    print(f"unchanged re-ingest        {warm.seconds:6.2f} s  (embedded {warm.chunks_embedded})")
    print(f"peak RSS                   {peak_rss_mib():6.0f} MiB")


if __name__ == "__main__":
    main()
