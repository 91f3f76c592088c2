"""Where a hybrid search's time goes, leg by leg, on an existing store.

    python benchmarks/search_legs.py STORE [--cache DIR] [--rounds 3]

``STORE`` holds ``chroma/`` (and ``cache/``, unless ``--cache`` names the cache folder), as
``scale_bench.py --keep`` leaves it. For the first 100 questions of ``eval/dev.jsonl``, in
each round: embedding the query, the dense leg (Chroma's nearest chunks, read from the BM25
corpus), the lexical leg (BM25) and the fusion into papers, each with p50 / p95 in ms. The
first round reads cold pages; later rounds show the warm cost.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import dev_questions, engine_on_store, store_arguments
from llama_index.core.schema import QueryBundle

from assistant.retrieval import fuse
from assistant.text.figures import query_figures
from assistant.text.phrasing import search_text

LEGS = ("embed", "dense", "lexical", "fuse", "total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    store_arguments(parser)
    args = parser.parse_args()
    engine = engine_on_store(args)
    questions = dev_questions(100)
    retriever = engine.retriever
    for round_ in range(args.rounds):
        times: dict[str, list[float]] = {leg: [] for leg in LEGS}
        for question in questions:
            marks = [time.perf_counter()]
            text = search_text(question)
            vector = retriever.embedder.model.get_query_embedding(text)
            marks.append(time.perf_counter())
            bundle = QueryBundle(query_str=text, embedding=vector)
            dense = retriever.dense_retrieve(bundle)
            marks.append(time.perf_counter())
            lexical = retriever.lexical.retrieve(bundle, retriever.candidate_chunks)
            marks.append(time.perf_counter())
            figures = query_figures(question)
            fuse(retriever.catalog, dense, lexical, 10, figures, retriever.tuning)
            marks.append(time.perf_counter())
            for leg, (start, end) in zip(LEGS, zip(marks, marks[1:])):
                times[leg].append((end - start) * 1000)
            times["total"].append((marks[-1] - marks[0]) * 1000)
        print(
            f"round {round_}: "
            + ", ".join(
                f"{leg} p50 {np.percentile(v, 50):.1f} p95 {np.percentile(v, 95):.1f}"
                for leg, v in times.items()
            )
        )


if __name__ == "__main__":
    main()
