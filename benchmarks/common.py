"""Helpers shared by the benchmark scripts (not part of the product)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.eval import percentile  # noqa: E402  (one definition for evals and benchmarks)

__all__ = [
    "ROOT",
    "app_url",
    "dev_questions",
    "engine_on_store",
    "eval_questions",
    "peak_rss_mib",
    "percentile",
    "store_arguments",
    "summary_ms",
]


@contextlib.contextmanager
def app_url(url: str | None) -> Iterator[str]:
    """``url`` when given; else the app on the bundled corpus in a temporary store (it
    ingests first), stopped on exit."""
    if url:
        yield url
        return
    from devtools.app_process import AppProcess

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        with AppProcess(
            tmp_path, chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache"
        ) as app:
            app.wait_until_ready(timeout=600)
            yield app.url


def summary_ms(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50):7.1f} ms  p95 {percentile(values, 95):7.1f} ms  "
        f"mean {statistics.fmean(values):7.1f} ms  (n={len(values)})"
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def eval_questions() -> list[str]:
    """Every question in eval/*.jsonl (single, topic, unanswerable, conversation turns)."""
    questions = []
    for path in sorted((ROOT / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            if "question" in case:
                questions.append(case["question"])
            for turn in case.get("turns", []):
                questions.append(turn["question"])
    return questions


def dev_questions(limit: int) -> list[str]:
    """The first ``limit`` single questions of eval/dev.jsonl."""
    lines = (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [case["question"] for case in map(json.loads, lines) if "question" in case][:limit]


def store_arguments(parser: argparse.ArgumentParser) -> None:
    """STORE (holding ``chroma/`` and, unless ``--cache`` names another, ``cache/``, as
    ``scale_bench.py --keep`` leaves it) and ``--rounds``."""
    parser.add_argument("store")
    parser.add_argument("--cache", help="the cache folder (default: STORE/cache)")
    parser.add_argument("--rounds", type=int, default=3)


def engine_on_store(args: argparse.Namespace):  # noqa: ANN201 - an Assistant
    """The engine on the store ``store_arguments`` named (extractive: no LLM), its start
    time printed."""
    from assistant.core.settings import Settings
    from assistant.engine import Assistant

    settings = Settings(
        _env_file=None,
        chroma_path=f"{args.store}/chroma",
        cache_dir=args.cache or f"{args.store}/cache",
        llm=None,
    )
    began = time.perf_counter()
    engine = Assistant.from_settings(settings)
    print(f"engine start {time.perf_counter() - began:.2f} s")
    return engine
