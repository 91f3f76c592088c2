"""App start-up on an existing index: seconds until the page is served and until the first
question is answered, and where those seconds go.

    python benchmarks/startup_bench.py [--runs 3]

Each run starts ``python app.py`` on the bundled corpus (ingested once into a temporary
store), polls the page, then asks ``/v1/chat/completions`` one question every 0.1 s until it
answers (a call made while the engine loads gets a retryable 503). Then one
``python -X importtime -c "import app"`` attributes the import time to the libraries, and
an in-process start times the engine itself (store, BM25 index, embedding model).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

from common import summary_ms  # noqa: F401  (sets up sys.path and offline mode)

from assistant.core.settings import Settings
from devtools.app_process import ROOT, AppProcess
from ingest import BUNDLED_PAPERS
from ingest.pipeline import ingest

QUESTION = "Which network reaches 77.4% mIoU at 102 FPS?"


def first_answer(url: str, deadline: float = 300) -> float:
    """Seconds until ``/v1`` answers the question (polled every 0.1 s)."""
    body = json.dumps(
        {"model": "paper-assistant", "messages": [{"role": "user", "content": QUESTION}]}
    ).encode()
    began = time.perf_counter()
    while time.perf_counter() - began < deadline:
        request = urllib.request.Request(
            url + "v1/chat/completions", body, {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                json.loads(response.read())
                return time.perf_counter() - began
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError("no answer")


def import_costs() -> dict[str, float]:
    """Seconds ``import app`` spends per top-level library (self time, summed)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    costs: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        costs[name.strip().split(".")[0]] += int(own) / 1e6
    return dict(costs)


def engine_start(settings: Settings) -> float:
    done = subprocess.run(
        [sys.executable, "-c",
         "import time; from assistant.engine import Assistant; t = time.perf_counter(); "
         "Assistant.from_settings(); print(time.perf_counter() - t)"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={**AppProcess(ROOT).env, "ASSISTANT_CHROMA_PATH": str(settings.chroma_path),
             "ASSISTANT_CACHE_DIR": str(settings.cache_dir)},
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        settings = Settings(
            _env_file=None, chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache"
        )
        ingest([BUNDLED_PAPERS], settings, progress=False)
        for attempt in range(runs):
            began = time.perf_counter()
            with AppProcess(
                tmp_path / f"run{attempt}",
                chroma_path=settings.chroma_path,
                cache_dir=settings.cache_dir,
            ) as app:
                served = time.perf_counter() - began
                answered = served + first_answer(app.url)
            print(
                f"run {attempt + 1}: page served after {served:.1f} s, "
                f"first answer after {answered:.1f} s"
            )
        costs = import_costs()
        total = sum(costs.values())
        top = sorted(costs.items(), key=lambda item: -item[1])[:8]
        print(f"import app: {total:.1f} s; " + ", ".join(f"{n} {s:.1f}" for n, s in top))
        print(f"engine start (store, BM25 index, embedding model): {engine_start(settings):.1f} s")


if __name__ == "__main__":
    main()
