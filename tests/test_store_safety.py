"""The store under concurrent writers, damage, and a running app: real Chroma, real processes.

- Two ingests at once on an embedded store take turns (the second waits, ``--no-wait``
  refuses with exit 3); nothing is lost and ``--check`` is clean afterwards.
- Two ingests at once into a ``chroma run`` server lose nothing (the server serialises);
  one publishing while the other writes makes the other build its caches from the store,
  and publishing waits for the cache folder's publish lock.
- ``--check`` finds vectors lost the way two unguarded writers lose them, and a normal
  ingest repairs them.
- A running engine follows the store: in-process (:class:`StoreFollower`) and a real app
  process during an ingest and during a ``--rebuild``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from assistant.core.settings import Settings
from assistant.core.store import open_client
from devtools.chroma_server import ChromaServer, stop_process
from ingest import BUNDLED_PAPERS
from ingest.check import check_store
from ingest.parsers import parse_paths
from ingest.pipeline import ingest
from tests.conftest import (
    ROOT,
    SMALL_WRITE_BATCH,
    clean_env,
    make_settings,
    run_module,
    write_jsonl,
)

DDRNET = (
    "Deep Dual-resolution Networks for Real-time and Accurate Semantic Segmentation of Road Scenes"
)
DDRNET_QUESTION = "Which work reaches 77.4% mIoU at 102 FPS?"
KV_CACHE = "KV Cache is 1 Bit Per Channel: Efficient Large Language Model Inference with Coupled Quantization"
KV_QUESTION = (
    "How can the key-value cache be quantized down to a single bit by coupling channels together?"
)
FIRST = [  # the app's store before anything else is ingested
    "Masked Autoencoders Are Scalable Vision Learners",
    "Squeeze-and-Excitation Networks",
    "EfficientDet: Scalable and Efficient Object Detection",
    "Big Transfer (BiT): General Visual Representation Learning",
]
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def bundled(titles: list[str]) -> list[dict]:
    papers = {p.title: p for p in parse_paths([BUNDLED_PAPERS]).papers}
    return [{"title": t, "abstract": papers[t].abstract} for t in titles]


def synthetic(count: int, seed: int, sentences_each: int = 2) -> list[dict]:
    """Papers recombined from the real corpus's sentences: one short chunk each."""
    papers = parse_paths([BUNDLED_PAPERS]).papers
    sentences = sorted({s for p in papers for s in SENTENCE.split(p.abstract) if 40 < len(s) < 200})
    words = sorted({w for p in papers for w in p.title.split()})
    rng = random.Random(seed)
    return [
        {
            "title": " ".join(rng.sample(words, 5)) + f" ({seed}.{i})",
            "abstract": " ".join(rng.sample(sentences, sentences_each)),
        }
        for i in range(count)
    ]


def concurrent_env(**settings: object) -> dict[str, str]:
    """For ingests running side by side: one torch thread each, so two processes do not
    oversubscribe the cores and spin against each other."""
    return {**clean_env(**settings), "OMP_NUM_THREADS": "1"}


def server_settings(server: ChromaServer, tmp_path: Path, **overrides: object) -> Settings:
    """Settings of a writer of ``server`` (its caches under ``tmp_path/cache``)."""
    return Settings(
        _env_file=None,
        chroma_host="127.0.0.1",
        chroma_port=server.port,
        cache_dir=tmp_path / "cache",
        **overrides,
    )


def titles_in(settings: Settings) -> set[str]:
    collection = open_client(settings).get_collection(settings.collection)
    return {m["title"] for m in collection.get(include=["metadatas"])["metadatas"]}


def start_ingest(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_stderr(process: subprocess.Popen, marker: str, timeout: float = 240) -> str:
    """Read ``process``'s stderr until ``marker`` shows; what was read is returned."""
    seen = ""
    deadline = time.time() + timeout
    while marker not in seen and time.time() < deadline:
        char = process.stderr.read(1)
        if not char:
            break
        seen += char
    assert marker in seen, seen[-2000:]
    return seen


# --- one writer at a time ----------------------------------------------------------------
def test_two_ingests_at_once_on_an_embedded_store_take_turns(tmp_path: Path):
    env = concurrent_env(chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache")
    first = write_jsonl(tmp_path / "first.jsonl", synthetic(60, seed=1))
    second = write_jsonl(tmp_path / "second.jsonl", synthetic(20, seed=2))
    writer = start_ingest(str(first), env=env)
    waiter = refused = None
    try:
        # Its progress bar shows once it holds the lock and has loaded the model; it is then
        # frozen mid-ingest (SIGSTOP), so the two others surely start while it writes.
        early = wait_for_stderr(writer, "embedding")
        os.kill(writer.pid, signal.SIGSTOP)
        waiter = start_ingest(str(second), "--quiet", env=env)
        refused = start_ingest(str(second), "--quiet", "--no-wait", env=env)
        refused_out, refused_err = refused.communicate(timeout=240)
        waited = wait_for_stderr(waiter, "; waiting")
        os.kill(writer.pid, signal.SIGCONT)
        writer_out, writer_err = writer.communicate(timeout=400)
        waiter_out, waiter_err = waiter.communicate(timeout=400)
    finally:
        for process in (writer, waiter, refused):
            if process is not None and process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                stop_process(process)
    assert writer.returncode == 0, early + writer_err
    assert refused.returncode == 3, refused_err
    lock = tmp_path / "chroma" / "ingest.lock"
    assert refused_err.strip() == (
        f"error: another ingest is writing to Chroma at {tmp_path / 'chroma'} "
        f"(lock file {lock}); not waiting (--no-wait)"
    )
    assert waiter.returncode == 0, waiter_err
    assert f"(lock file {lock}); waiting" in waited and "another ingest is writing" in waited
    assert "in store         80 papers, 80 chunks" in waiter_out  # it ran second, on top
    assert "in store         60 papers, 60 chunks" in writer_out
    check = check_store(make_settings(tmp_path))
    assert check.clean and (check.chunks, check.papers) == (80, 80), check.lines()


def test_two_ingests_at_once_into_a_chroma_server_lose_nothing(tmp_path: Path):
    """The server serialises writes: no lock is needed there, and none is taken. The first
    ingest is frozen (SIGSTOP) once it writes, until the second writes too, so the two
    surely overlap however fast either runs."""
    papers = 60
    with ChromaServer(tmp_path / "data") as server:
        env = concurrent_env(
            chroma_host="127.0.0.1",
            chroma_port=server.port,
            cache_dir=tmp_path / "cache",
            write_batch=SMALL_WRITE_BATCH,
        )
        files = [
            write_jsonl(tmp_path / f"{seed}.jsonl", synthetic(papers, seed, sentences_each=1))
            for seed in (3, 4)
        ]
        first = start_ingest(str(files[0]), env=env)
        processes = [first]
        try:
            wait_for_stderr(first, "embedding")
            os.kill(first.pid, signal.SIGSTOP)
            processes.append(start_ingest(str(files[1]), env=env))
            wait_for_stderr(processes[1], "embedding")
            os.kill(first.pid, signal.SIGCONT)  # both are writing at once
            results = [process.communicate(timeout=500) for process in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGCONT)
                    stop_process(process)
        for process, (_, err) in zip(processes, results):
            assert process.returncode == 0, err
            assert "waiting" not in err  # no lock against a server
        settings = server_settings(server, tmp_path)
        assert len(titles_in(settings)) == 2 * papers
        # Each run's count is read from the store at its end: the one that finished last
        # counts the other's papers too, the other at least its own.
        counts = sorted(int(re.search(r"in store +(\d+) papers", out)[1]) for out, _ in results)
        assert counts[1] == 2 * papers and counts[0] >= papers
        check = check_store(settings)
        assert check.clean and (check.chunks, check.papers) == (2 * papers, 2 * papers), (
            check.lines()
        )


def test_an_ingest_that_another_published_under_builds_its_caches_from_the_store(
    tmp_path: Path, embedder
):
    """Two writers of one server, the second finishing while the first still writes: the
    revision the first began on lacks the second's papers, so updating that revision's
    caches would publish a catalogue and sentence vectors without them (CI saw this race
    with two real processes). The first must build from the store instead."""
    with ChromaServer(tmp_path / "data") as server:
        settings = server_settings(server, tmp_path, write_batch=SMALL_WRITE_BATCH)
        ingest(
            [write_jsonl(tmp_path / "seed.jsonl", synthetic(5, seed=41))],
            settings,
            progress=False,
            embedder=embedder,
        )
        other = write_jsonl(tmp_path / "other.jsonl", synthetic(4, seed=42))
        finished: list[int] = []

        def the_other_ingest_finishes(done: int, total: int) -> None:
            if not finished:  # after the first batch of ours is written
                finished.append(
                    ingest([other], settings, progress=False, embedder=embedder).papers_in_store
                )

        mine = write_jsonl(tmp_path / "mine.jsonl", synthetic(3 * SMALL_WRITE_BATCH, seed=43))
        report = ingest(
            [mine],
            settings,
            progress=False,
            embedder=embedder,
            on_batch=the_other_ingest_finishes,
        )
        assert finished, "the other ingest ran while this one wrote"
        assert report.papers_in_store == 5 + 4 + 3 * SMALL_WRITE_BATCH
        check = check_store(settings)
        assert check.clean and check.papers == report.papers_in_store, check.lines()


def test_an_ingest_publishes_only_under_the_cache_folders_publish_lock(tmp_path: Path, embedder):
    """Taken by another once this ingest began writing: its writes go on, its caches and
    new revision wait (two publishing at once could drop each other's cache folders before
    either is live)."""
    from filelock import FileLock

    from assistant.core.writer_lock import PUBLISH_LOCK_NAME

    settings = make_settings(tmp_path)
    held = FileLock(str(tmp_path / "cache" / PUBLISH_LOCK_NAME))
    began, taken, written = threading.Event(), threading.Event(), threading.Event()
    reports = []

    def write(done: int, total: int) -> None:
        if not began.is_set():
            began.set()
            assert taken.wait(60)
        if done == total:
            written.set()

    papers = write_jsonl(tmp_path / "papers.jsonl", synthetic(6, seed=44))
    runner = threading.Thread(
        target=lambda: reports.append(
            ingest([papers], settings, progress=False, embedder=embedder, on_batch=write)
        )
    )
    runner.start()
    try:
        assert began.wait(120), "the ingest began writing"
        held.acquire()
        taken.set()
        assert written.wait(120), "the ingest wrote its chunks"
        runner.join(3)
        assert runner.is_alive() and not reports, "it waits to publish"
        assert not (tmp_path / "cache" / "bm25").exists()
    finally:
        taken.set()
        if held.is_locked:
            held.release()
    runner.join(60)
    assert reports and reports[0].papers_in_store == 6
    assert check_store(settings).clean


# --- check and repair ----------------------------------------------------------------------
def test_check_finds_lost_vectors_and_a_normal_ingest_repairs_them(tmp_path: Path, embedder):
    """Damage the store the way two unguarded writers do, through Chroma's own files.

    Embedded Chroma keeps a collection's vector index (HNSW) in files beside its SQLite
    metadata and rewrites them whole. A second writer holding an older copy writes that copy
    back: the later chunks keep their metadata but lose their vectors, and the write-ahead
    log that could restore them is already purged. Restoring a stale copy of the segment
    files does exactly that. (A low ``sync_threshold`` makes Chroma write the files and purge
    its log after every batch, as it does every 1000 records on large stores.)
    """
    from assistant.core.lexical import LexicalIndex
    from assistant.core.store import PaperStore

    settings = make_settings(tmp_path)
    open_client(settings, create_path=True).create_collection(
        settings.collection,
        metadata={"embedding_model": embedder.info.name, "embedding_dimension": 384},
        configuration={"hnsw": {"space": "cosine", "sync_threshold": 2, "batch_size": 2}},
        embedding_function=None,
    )
    first = write_jsonl(tmp_path / "first.jsonl", synthetic(12, seed=5))
    second = write_jsonl(tmp_path / "second.jsonl", synthetic(8, seed=6))
    ingest([first], settings, progress=False, embedder=embedder)
    (segment,) = [p for p in Path(settings.chroma_path).iterdir() if p.is_dir()]
    shutil.copytree(segment, tmp_path / "stale-copy")
    ingest([second], settings, progress=False, embedder=embedder)
    shutil.rmtree(segment)
    shutil.copytree(tmp_path / "stale-copy", segment)

    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir)
    damaged = run_module("ingest", "--check", env=env)
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    lost = [line for line in damaged.stdout.splitlines() if line.startswith("vector missing")]
    assert len(lost) == 8, damaged.stdout
    assert all("(6." in line for line in lost)  # exactly the second ingest's chunks
    assert "checked 20 chunks of 20 papers" in damaged.stdout
    assert damaged.stdout.strip().endswith("8 problem(s)")

    report = ingest([second], settings, progress=False, embedder=embedder)
    assert report.chunks_repaired == 8 and report.chunks_embedded == 0
    assert report.chunks_unchanged == 0
    healed = check_store(settings)
    assert healed.clean, healed.lines()
    again = ingest([second], settings, progress=False, embedder=embedder)
    assert again.chunks_repaired == 0 and again.chunks_unchanged == 8

    # The BM25 view is compared too: an index missing a chunk is reported.
    store = PaperStore.open(settings, None)
    nodes = store.chunk_nodes()
    folder = LexicalIndex.folder(settings.cache_dir, store)
    shutil.rmtree(folder)
    LexicalIndex.build(nodes[1:]).persist(folder)
    partial = check_store(settings)
    assert [line.split(":")[0] for line in partial.problems] == ["missing from the BM25 index"]
    assert nodes[0].id_ in partial.problems[0]


# --- a running engine follows the store --------------------------------------------------
def test_a_follower_reloads_after_an_ingest_and_keeps_answering_during_a_rebuild(
    tmp_path: Path, embedder
):
    from assistant.engine import Assistant
    from assistant.follower import StoreFollower

    settings = make_settings(tmp_path)
    ingest(
        [write_jsonl(tmp_path / "a.jsonl", bundled(FIRST))],
        settings,
        progress=False,
        embedder=embedder,
    )
    follower = StoreFollower(Assistant.from_settings(settings, embedder=embedder), interval=0)
    assert not follower.check()  # nothing moved
    assert not follower.engine.ask(DDRNET_QUESTION).answered

    ingest(
        [write_jsonl(tmp_path / "b.jsonl", bundled([DDRNET]))],
        settings,
        progress=False,
        embedder=embedder,
    )
    before = follower.engine
    assert follower.check()
    assert follower.engine.ask(DDRNET_QUESTION).citations[0].title == DDRNET
    assert follower.engine.stats()["papers"] == 5
    assert before.search("masked autoencoders")  # the replaced engine still answers

    ingest(
        [write_jsonl(tmp_path / "c.jsonl", bundled([KV_CACHE]))],
        settings,
        progress=False,
        embedder=embedder,
        rebuild=True,
    )
    old = follower.engine
    assert old.store is not None and not old.store.is_live()  # it reads the retired copy…
    assert old.ask(DDRNET_QUESTION).citations[0].title == DDRNET  # …by id, and still answers
    assert follower.check()
    assert follower.engine.stats()["papers"] == 1
    assert follower.engine.ask(KV_QUESTION).citations[0].title == KV_CACHE
    assert not follower.check()


def status_counts(url: str) -> tuple[int, int]:
    import urllib.request

    with urllib.request.urlopen(url + "health") as response:
        state = json.loads(response.read())
    papers, chunks = re.match(r"(\d+) papers · (\d+) chunks", state["status"]).groups()
    assert (state["papers"], state["chunks"]) == (int(papers), int(chunks))
    return int(papers), int(chunks)


def wait_until(predicate, timeout: float = 120, every: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not reached in time")


def test_a_running_app_follows_an_ingest_and_a_rebuild_without_restart(tmp_path: Path, embedder):
    """The app is its own process; the ingests run in this one, with the loaded model."""
    from devtools.app_process import AppProcess

    settings = make_settings(tmp_path)
    ingest(
        [write_jsonl(tmp_path / "a.jsonl", bundled(FIRST))],
        settings,
        progress=False,
        embedder=embedder,
    )
    with AppProcess.on_store(tmp_path / "app", settings) as app:
        client = app.client()
        app.wait_until_ready(client)
        assert status_counts(app.url)[0] == 4
        assert "do not answer" in client.predict(DDRNET_QUESTION, api_name="/chat")

        # A normal ingest (by this process, not the app's): answered and counted, no restart.
        more = write_jsonl(tmp_path / "b.jsonl", bundled([DDRNET]))
        ingest([more], settings, progress=False, embedder=embedder)
        began = time.time()
        wait_until(lambda: status_counts(app.url)[0] == 5)
        followed_in = time.time() - began
        assert f"[1] {DDRNET}" in client.predict(DDRNET_QUESTION, api_name="/chat")

        # A rebuild: questions keep being answered throughout, then the app moves over.
        answers: list[str] = []
        done = threading.Event()

        def ask_all_along() -> None:
            asker = app.client()
            while not done.is_set():
                try:
                    answers.append(asker.predict(DDRNET_QUESTION, api_name="/chat"))
                except Exception as error:  # a failed request is a failure too
                    answers.append(f"request failed: {error!r}")

        asking = threading.Thread(target=ask_all_along)
        asking.start()
        try:
            wait_until(lambda: len(answers) >= 2, every=0.1)  # the asker is under way
            less = write_jsonl(tmp_path / "c.jsonl", bundled([KV_CACHE]))
            ingest([less], settings, progress=False, embedder=embedder, rebuild=True)
            wait_until(lambda: status_counts(app.url)[0] == 1)
            time.sleep(1)  # a few more answers from the new collection
        finally:
            done.set()
            asking.join(timeout=120)
        assert f"[1] {KV_CACHE}" in client.predict(KV_QUESTION, api_name="/chat")
    assert len(answers) >= 3
    assert not [a for a in answers if "went wrong" in a or "cannot answer" in a or "failed" in a]
    assert f"[1] {DDRNET}" in answers[0]  # the old collection answered during the rebuild
    assert "do not answer" in answers[-1]  # and the new one, without DDRNet, at the end
    print(
        f"app followed the ingest in {followed_in:.1f} s; {len(answers)} answers across the rebuild"
    )


def test_health_takes_its_status_line_and_counts_from_one_engine(corpus_store, assistant):
    """A reload swaps the engine a moment before it sets the status line; ``/health`` once
    answered ``papers: 1`` beside a line saying "5 papers" (the app following a rebuild,
    above). Its line is now built from the engine it counts."""
    from types import SimpleNamespace

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from assistant.web.holder import EngineHolder
    from assistant.web.http_api import build_router

    settings, _ = corpus_store
    holder = EngineHolder(settings, starter=lambda report: assistant)
    holder.follower = SimpleNamespace(engine=assistant)  # swapped in; status not yet set
    holder.status = "5 papers · 8 chunks · answers: extractive"  # the previous engine's
    app = FastAPI()
    app.include_router(build_router(holder))
    state = TestClient(app).get("/health").json()
    papers = assistant.stats()["papers"]
    assert state["papers"] == papers != 5
    assert state["status"].startswith(f"{papers} papers · {state['chunks']} chunks")
