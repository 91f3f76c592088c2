"""Query latency on the bundled corpus: search and extractive answers over every eval question.

    python benchmarks/query_bench.py [--questions N]

Ingests the bundled corpus into a temporary store first (into ASSISTANT_CHROMA_PATH instead
when it is set: a no-op when that store already holds it), warms up once, then times each
question. ``--questions N`` times N of them, evenly spread (a short run).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import eval_questions, peak_rss_mib, summary_ms

from assistant.core.settings import Settings
from assistant.engine import Assistant
from ingest import BUNDLED_PAPERS
from ingest.pipeline import ingest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, metavar="N", help="time N questions only")
    args = parser.parse_args()
    questions = eval_questions()
    if args.questions and args.questions < len(questions):
        step = len(questions) / args.questions
        questions = [questions[int(i * step)] for i in range(args.questions)]
    with tempfile.TemporaryDirectory() as tmp:
        if os.environ.get("ASSISTANT_CHROMA_PATH"):
            settings = Settings(_env_file=None)
        else:
            settings = Settings(
                _env_file=None, chroma_path=Path(tmp) / "chroma", cache_dir=Path(tmp) / "cache"
            )
        ingest([BUNDLED_PAPERS], settings, progress=False)
        began = time.perf_counter()
        engine = Assistant.from_settings(settings)
        start_seconds = time.perf_counter() - began
        engine.ask("warm-up question about binary neural networks")
        search_ms, answer_ms = [], []
        for question in questions:
            began = time.perf_counter()
            engine.search(question, k=10)
            search_ms.append((time.perf_counter() - began) * 1000)
        for question in questions:
            began = time.perf_counter()
            engine.ask(question)
            answer_ms.append((time.perf_counter() - began) * 1000)
    print(f"questions            {len(questions)}")
    print(f"engine start         {start_seconds:.2f} s (existing index, model in memory)")
    print(f"search               {summary_ms(search_ms)}")
    print(f"extractive answer    {summary_ms(answer_ms)}")
    print(f"peak RSS             {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
