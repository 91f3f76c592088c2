"""App start-up on an existing index: seconds from launch until the server answers, until
the first question is answered and until the page is served, and where those seconds go.

    python benchmarks/startup_bench.py [--runs 3] [--store DIR] [--compare OTHER_CHECKOUT]

Each run starts ``python app.py`` on the bundled corpus (ingested once into a temporary
store, or the store given with ``--store``: a folder holding ``chroma/`` and ``cache/``) and
polls, every 0.1 s, ``/health`` (any HTTP answer: the server is up), ``/v1/chat/completions``
with one question (a call made while the engine loads waits or gets a retryable 503) and
``/`` (200: Gradio's page; a 503 is the "starting" page). ``--compare`` runs another
checkout's ``app.py`` the same way, alternating with this one (same machine, same load).

Then, in one fresh process, the start's steps one after another: importing what the server
and ``/v1`` need (the server; the engine's modules), the engine start (store, BM25 index,
embedding model, sentence splitter), importing Gradio and the page's module, and building the
page; with ``python -X importtime`` attributing the imports of each part to the libraries.
"""

from __future__ import annotations

import argparse
import json
import os
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
from devtools.chroma_server import stop_process
from ingest import BUNDLED_PAPERS
from ingest.pipeline import ingest

QUESTION = "Which network reaches 77.4% mIoU at 102 FPS?"
MARKS = ("server up", "first answer", "page")

# The start's steps in the order the app takes them (assistant/web/server.py).
STEPS = """
import json, sys, time
marks = [("start", time.perf_counter())]
def mark(name): marks.append((name, time.perf_counter()))
from assistant.core.settings import Settings
from assistant.web import server
mark("import of the server (settings, FastAPI, uvicorn, the /v1 routes)")
import assistant.engine, assistant.answer, assistant.follower, assistant.text.sentences
import app
mark("import of the engine's modules (llama-index, chromadb, ...)")
from assistant.engine import Assistant
from assistant.text.sentences import load_punkt
engine = Assistant.from_settings(Settings()); load_punkt()
mark("engine start (store, BM25 index, embedding model, sentence splitter)")
import gradio
from assistant.web import ui
mark("import of gradio and the page's module")
from assistant.web.holder import EngineHolder
holder = EngineHolder(Settings(), lambda report: engine)
holder.start(background=False)
ui.build_ui(holder, ui.ExportFolders()).queue()
mark("page build")
print(json.dumps([(name, at - marks[0][1]) for name, at in marks[1:]]))
"""

# What each part imports, for -X importtime: the server and /v1's, then the page's.
IMPORT_PARTS = {
    "server and /v1": "import assistant.web.server, assistant.engine, assistant.answer, "
    "assistant.follower, assistant.text.sentences, app\n"
    "assistant.text.sentences.load_punkt()  # imports NLTK's Punkt",
    "page": "import gradio, assistant.web.ui",
}


def timeline(url: str, deadline: float = 300) -> dict[str, float]:
    """Seconds from now until each of :data:`MARKS` (polled every 0.1 s)."""
    body = json.dumps(
        {"model": "paper-assistant", "messages": [{"role": "user", "content": QUESTION}]}
    ).encode()
    began, seen = time.perf_counter(), {}

    def reached(name: str) -> None:
        seen.setdefault(name, time.perf_counter() - began)

    while len(seen) < len(MARKS):
        if time.perf_counter() - began > deadline:
            raise RuntimeError(f"not started after {deadline} s: {seen}")
        if "server up" not in seen:
            try:
                urllib.request.urlopen(url + "health", timeout=60).close()
                reached("server up")
            except urllib.error.HTTPError:
                reached("server up")  # 503 while the engine starts: it answers
            except OSError:
                pass
        if "first answer" not in seen:
            request = urllib.request.Request(
                url + "v1/chat/completions", body, {"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    json.loads(response.read())
                reached("first answer")
            except (urllib.error.URLError, OSError):
                pass
        if "page" not in seen:
            try:
                urllib.request.urlopen(url, timeout=60).close()
                reached("page")
            except OSError:  # refused, or the 503 "starting" page
                pass
        time.sleep(0.1)
    return seen


def run_app(root: Path, store: Path, workdir: Path) -> dict[str, float]:
    """One start of ``root``'s ``app.py`` on ``store``: its :func:`timeline`."""
    app = AppProcess(workdir, chroma_path=store / "chroma", cache_dir=store / "cache")
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**app.env, "PYTHONPATH": str(root)}
    with open(app.log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            return timeline(app.url)
        finally:
            stop_process(process, grace=30)


def steps(store: Path) -> list[tuple[str, float]]:
    done = subprocess.run(
        [sys.executable, "-c", STEPS],
        cwd=ROOT, capture_output=True, text=True, check=True, env=store_env(store),
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_costs(statement: str, already: str = "") -> dict[str, float]:
    """Seconds ``statement`` spends importing, per top-level library (self time, summed);
    ``already`` is imported first and not counted."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{already}\nimport __hello__\n{statement}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    lines = done.stderr.splitlines()
    if already:  # only what comes after the marker (a small module nothing else imports)
        marker = max(
            (i for i, line in enumerate(lines) if line.endswith("| __hello__")), default=-1
        )
        lines = lines[marker + 1 :]
    costs: dict[str, float] = defaultdict(float)
    for line in lines:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        costs[name.strip().split(".")[0]] += int(own) / 1e6
    return dict(costs)


def store_env(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "ASSISTANT_CHROMA_PATH": str(store / "chroma"),
        "ASSISTANT_CACHE_DIR": str(store / "cache"),
    }


def describe(label: str, seen: dict[str, float]) -> str:
    return f"{label}: " + ", ".join(f"{name} {seen[name]:.1f} s" for name in MARKS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", type=Path, help="a folder with chroma/ and cache/")
    parser.add_argument("--compare", type=Path, help="another checkout, run alternately")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        store = args.store
        if store is None:
            store = tmp_path / "store"
            settings = Settings(
                _env_file=None, chroma_path=store / "chroma", cache_dir=store / "cache"
            )
            ingest([BUNDLED_PAPERS], settings, progress=False)
        for attempt in range(args.runs):
            if args.compare:
                other = run_app(args.compare.resolve(), store, tmp_path / f"other{attempt}")
                print(describe(f"run {attempt + 1}, {args.compare}", other), flush=True)
            seen = run_app(ROOT, store, tmp_path / f"run{attempt}")
            print(describe(f"run {attempt + 1}", seen), flush=True)
        print("in one process, step by step (seconds each):")
        previous = 0.0
        for name, at in steps(store):
            print(f"  {at - previous:5.1f}  {name}")
            previous = at
        server_part = import_costs(IMPORT_PARTS["server and /v1"])
        page_part = import_costs(IMPORT_PARTS["page"], already=IMPORT_PARTS["server and /v1"])
        for label, costs in (("server and /v1", server_part), ("page", page_part)):
            top = sorted(costs.items(), key=lambda item: -item[1])[:8]
            print(
                f"imports for the {label}: {sum(costs.values()):.1f} s; "
                + ", ".join(f"{n} {s:.1f}" for n, s in top)
            )


if __name__ == "__main__":
    main()
