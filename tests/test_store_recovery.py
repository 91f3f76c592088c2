"""Crashes and races around whole-store operations, with real processes and ``kill -9``.

- A ``--rebuild`` killed between its two renames: the next open completes the swap.
- A ``--rebuild`` into a Chroma server while another ingest finishes: the swap refuses
  rather than retire that ingest's papers.
- The app killed during its first-start ingest: the next start resumes it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from assistant.core.settings import Settings
from devtools.chroma_server import ChromaServer, stop_process
from ingest.check import check_store
from ingest.parsers import parse_paths
from ingest.pipeline import ingest
from tests.conftest import (
    ROOT,
    SMALL_WRITE_BATCH,
    clean_env,
    ddrnet_page,
    make_settings,
    run_module,
    write_jsonl,
)
from tests.test_store_safety import (
    concurrent_env,
    server_settings,
    start_ingest,
    synthetic,
    titles_in,
    wait_for_stderr,
)

# ``python -m ingest`` with Chroma's rename patched to SIGKILL the process right after the
# live collection became ``__retired``: the moment between a rebuild's two renames.
KILLED_BETWEEN_RENAMES = """
import os, signal, sys
from chromadb.api.models.Collection import Collection

renamed = Collection.modify

def modify(self, *args, **kwargs):
    renamed(self, *args, **kwargs)
    if str(kwargs.get("name") or "").endswith("__retired"):
        os.kill(os.getpid(), signal.SIGKILL)

Collection.modify = modify
from ingest.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_rebuild_killed_between_its_renames_is_completed_by_the_next_open(
    tmp_path: Path, embedder
):
    settings = make_settings(tmp_path)
    old = synthetic(6, seed=21)
    new = synthetic(5, seed=22)
    ingest([write_jsonl(tmp_path / "old.jsonl", old)], settings, progress=False, embedder=embedder)
    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BETWEEN_RENAMES, "--rebuild", "--quiet",
         str(write_jsonl(tmp_path / "new.jsonl", new))],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    # The check opens the store, which finishes the swap: the rebuilt corpus is live.
    checked = run_module("ingest", "--check", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "checked 5 chunks of 5 papers" in checked.stdout
    assert "side collection 'papers__retired' present" in checked.stdout
    assert titles_in(settings) == {paper["title"] for paper in new}
    # The corpus the rebuild replaced is kept as the retired copy until the next rebuild.
    retired = Settings(**{**settings.model_dump(), "collection": "papers__retired"})
    assert titles_in(retired) == {paper["title"] for paper in old}
    again = ingest(
        [tmp_path / "new.jsonl"], settings, progress=False, embedder=embedder, rebuild=True
    )
    assert again.papers_in_store == 5 and check_store(settings).clean


def test_a_rebuild_into_a_server_refuses_to_retire_an_ingest_that_finished_meanwhile(
    tmp_path: Path, embedder
):
    with ChromaServer(tmp_path / "data") as server:
        settings = server_settings(server, tmp_path)
        first = write_jsonl(tmp_path / "first.jsonl", synthetic(5, seed=31))
        ingest([first], settings, progress=False, embedder=embedder)
        env = concurrent_env(
            chroma_host="127.0.0.1", chroma_port=server.port, cache_dir=tmp_path / "cache"
        )
        rebuild = start_ingest(
            "--rebuild", str(write_jsonl(tmp_path / "big.jsonl", synthetic(120, seed=32))), env=env
        )
        try:
            wait_for_stderr(rebuild, "embedding")
            rebuild.send_signal(signal.SIGSTOP)  # still filling its staging collection
            late = synthetic(4, seed=33)
            done = ingest(
                [write_jsonl(tmp_path / "late.jsonl", late)],
                settings,
                progress=False,
                embedder=embedder,
            )
            assert done.papers_in_store == 9  # it finished, and says so
            rebuild.send_signal(signal.SIGCONT)
            _, err = rebuild.communicate(timeout=400)
        finally:
            if rebuild.poll() is None:
                rebuild.send_signal(signal.SIGCONT)
            stop_process(rebuild)
        assert rebuild.returncode == 2, err
        assert "changed while this --rebuild ran" in err and "Traceback" not in err
        assert {paper["title"] for paper in late} <= titles_in(settings)
        assert len(titles_in(settings)) == 9
        checked = check_store(settings)
        assert checked.clean and checked.papers == 9, checked.lines()


def health(url: str) -> dict:
    try:
        with urllib.request.urlopen(url + "health", timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # 503 while starting
        return json.loads(error.read())


def test_an_app_killed_during_its_first_start_ingest_resumes_it(tmp_path: Path):
    """The first start ingests one listing page (48 chunks) in their place, 16
    chunks per write, so the kill lands after the first write and before the last."""
    from devtools.app_process import AppProcess

    settings = make_settings(tmp_path)
    corpus = ddrnet_page(tmp_path / "papers").resolve()
    papers = len(parse_paths([corpus]).papers)
    small_steps = {"write_batch": SMALL_WRITE_BATCH}
    with AppProcess.on_store(tmp_path / "app", settings, corpus=corpus, **small_steps) as app:
        deadline = time.time() + 400
        progress = None
        while progress is None and time.time() < deadline:
            status = health(app.url)["status"]
            progress = re.search(r"Indexing the bundled corpus: (\d+)/(\d+) chunks", status)
            time.sleep(0.2)
        assert progress is not None, app.log[-2000:]
        done, total = map(int, progress.groups())
        app.process.kill()  # kill -9 with part of the corpus written
        app.process.wait()
    assert 0 < done < total

    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir)
    checked = run_module("ingest", "--check", env=env)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"an ingest of {corpus} did not finish" in checked.stdout

    with AppProcess.on_store(tmp_path / "app", settings, corpus=corpus, **small_steps) as app:
        app.wait_until_ready(timeout=400)
        state = health(app.url)
        assert (state["papers"], state["chunks"]) == (papers, total), state
        resumed = re.search(r"chunks unchanged +(\d+)", app.log)  # its summary, printed
        assert resumed is not None and int(resumed[1]) >= done, app.log[-2000:]
    assert check_store(settings).clean


def test_an_ingest_killed_after_its_writes_is_finished_by_a_rerun_with_nothing_to_write(
    tmp_path: Path, embedder, monkeypatch
):
    """Killed once every chunk was written but before it published (its caches take
    minutes at a million chunks): the rerun finds nothing to write, yet must publish caches
    holding the killed run's papers and clear its mark."""
    import ingest.pipeline as pipeline

    settings = make_settings(tmp_path)
    corpus = write_jsonl(tmp_path / "papers.jsonl", synthetic(6, seed=51))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as SIGINT would, once the writes are done

    with monkeypatch.context() as patched:
        patched.setattr(pipeline, "_publish", killed)
        try:
            ingest([corpus], settings, progress=False, embedder=embedder)
        except KeyboardInterrupt:
            pass
    assert not check_store(settings).clean  # the unfinished run is reported
    report = ingest([corpus], settings, progress=False, embedder=embedder)
    assert report.chunks_embedded == 0 and report.papers_in_store == 6
    check = check_store(settings)
    assert check.clean and check.papers == 6, check.lines()


def test_a_server_ingest_finishing_leaves_the_mark_of_another_under_way(tmp_path: Path, embedder):
    """Two writers of one server: the first to finish clears its own mark, not the other's,
    so the other, killed later, is still reported unfinished."""
    with ChromaServer(tmp_path / "data") as server:
        settings = server_settings(server, tmp_path, write_batch=SMALL_WRITE_BATCH)
        other = write_jsonl(tmp_path / "other.jsonl", synthetic(3, seed=52))
        mine = write_jsonl(tmp_path / "mine.jsonl", synthetic(3 * SMALL_WRITE_BATCH, seed=53))

        def other_finishes_then_this_one_is_killed(done: int, total: int) -> None:
            ingest([other], settings, progress=False, embedder=embedder)
            raise KeyboardInterrupt

        try:
            ingest(
                [mine],
                settings,
                progress=False,
                embedder=embedder,
                on_batch=other_finishes_then_this_one_is_killed,
            )
        except KeyboardInterrupt:
            pass
        lines = check_store(settings).lines()
        assert any(f"an ingest of {mine.resolve()} did not finish" in line for line in lines), lines
        assert not any(f"an ingest of {other.resolve()}" in line for line in lines), lines


def test_damaged_bm25_files_are_rebuilt_and_named_by_check(tmp_path: Path, embedder):
    from assistant.core.lexical import LexicalIndex
    from assistant.core.store import PaperStore

    settings = make_settings(tmp_path)
    papers = write_jsonl(tmp_path / "a.jsonl", synthetic(30, seed=41))
    ingest([papers], settings, progress=False, embedder=embedder)
    folder = LexicalIndex.folder(settings.cache_dir, PaperStore.open(settings, None))
    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir)

    # A truncated corpus.jsonl: questions are answered (the index is rebuilt on load).
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(corpus.read_text().splitlines(keepends=True)[:10]))
    searched = run_module("assistant", "search", "neural network training", env=env)
    assert searched.returncode == 0 and "Traceback" not in searched.stderr, searched.stderr
    assert len(searched.stdout.splitlines()) == 10
    assert check_store(settings).clean  # the rebuilt index was persisted in its place

    # A bit flip in a matrix: --check names the file, a plain ingest rebuilds the index.
    matrix = folder / "data.csc.index.npy"
    raw = bytearray(matrix.read_bytes())
    raw[-7] ^= 0x40
    matrix.write_bytes(bytes(raw))
    damaged = check_store(settings)
    assert damaged.problems == [
        f"BM25 index at {folder} damaged: data.csc.index.npy fails its checksum; "
        "`python -m ingest` rebuilds it (so does the app, at start)"
    ]
    again = ingest([papers], settings, progress=False, embedder=embedder)
    assert again.chunks_embedded == 0
    assert check_store(settings).clean


def test_check_gives_one_verdict_on_an_intact_store_of_identical_vectors(tmp_path, embedder):
    """Thirty chunks with one vector: a search for it returns ten of them, whichever HNSW
    reaches first. Every chunk is still searchable, and ``--check`` must say so each time
    (it used to call the twenty it did not rank "not found by its own vector")."""
    from assistant.core.store import PaperStore
    from ingest.chunking import chunk_papers

    settings = make_settings(tmp_path)
    papers = parse_paths([write_jsonl(tmp_path / "a.jsonl", synthetic(40, seed=51))]).papers
    nodes = chunk_papers(papers, embedder.tokenize, embedder.chunk_tokens)
    vectors = embedder.model.get_text_embedding_batch([node.get_content() for node in nodes])
    vectors[:30] = [vectors[0]] * 30
    PaperStore.open_for_writing(settings, embedder.info).upsert_chunks(nodes, vectors)
    verdicts = {tuple(check_store(settings).problems) for _ in range(5)}
    assert verdicts == {()}


def test_check_of_a_large_store_searches_a_sample_and_says_so(tmp_path, embedder, monkeypatch):
    """Searching every chunk by its own vector takes hours at a million chunks: above a
    size ``--check`` searches a random sample (every vector is still read), and names it;
    ``--thorough`` (``search_all_up_to=None``) searches every chunk."""
    from assistant.core.store import PaperStore

    settings = make_settings(tmp_path)
    ingest(
        [write_jsonl(tmp_path / "a.jsonl", synthetic(30, seed=53))],
        settings,
        progress=False,
        embedder=embedder,
    )
    chunks = PaperStore.open(settings, None).count()
    searched: list[int] = []
    search = PaperStore.not_found_by_own_vector
    monkeypatch.setattr(
        PaperStore,
        "not_found_by_own_vector",
        lambda self, ids: searched.append(len(set(ids))) or search(self, ids),
    )
    sampled = check_store(settings, search_all_up_to=chunks - 1, search_sample=7)
    assert sampled.clean and searched == [7]
    assert f"searched 7 of {chunks} chunks, drawn at random" in " ".join(sampled.notes)
    assert check_store(settings, search_all_up_to=None).clean and searched[-1] == chunks
    assert check_store(settings, search_all_up_to=chunks).clean and searched[-1] == chunks
    refused = run_module("ingest", "--thorough", env=clean_env(chroma_path=settings.chroma_path))
    assert refused.returncode == 2 and "--thorough goes with --check" in refused.stderr


def corrupt_middle(path: Path) -> None:
    """Scramble 40 kB from a third of the way into ``path`` (a damaged sqlite file)."""
    raw = bytearray(path.read_bytes())
    start = len(raw) // 3
    for i in range(start, min(len(raw), start + 40_000)):
        raw[i] = (raw[i] * 7 + 13) % 256
    path.write_bytes(bytes(raw))


def test_a_damaged_sqlite_file_is_one_line_from_each_cli(tmp_path: Path, embedder):
    settings = make_settings(tmp_path)
    papers = write_jsonl(tmp_path / "a.jsonl", synthetic(40, seed=61))
    ingest([papers], settings, progress=False, embedder=embedder)
    corrupt_middle(Path(settings.chroma_path) / "chroma.sqlite3")
    env = clean_env(chroma_path=settings.chroma_path, cache_dir=settings.cache_dir)
    for command in (["ingest", "--check"], ["ingest", str(papers)], ["assistant", "search", "x"]):
        result = run_module(*command, env=env)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and f"Chroma at {settings.chroma_path} failed: " in errors[0]


def wait_for(predicate, timeout: float = 60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not reached in time")


def test_the_app_says_not_ready_while_its_chroma_server_is_down(tmp_path: Path, embedder):
    from gradio_client.exceptions import AppError

    from devtools.app_process import AppProcess

    with ChromaServer(tmp_path / "data") as server:
        port = server.port
        settings = Settings(
            _env_file=None, chroma_host="127.0.0.1", chroma_port=port, cache_dir=tmp_path / "c"
        )
        ingest(
            [write_jsonl(tmp_path / "a.jsonl", synthetic(8, seed=71))],
            settings,
            progress=False,
            embedder=embedder,
        )
        app = AppProcess(
            tmp_path / "app", chroma_host="127.0.0.1", chroma_port=port, cache_dir=tmp_path / "c"
        ).__enter__()
        client = app.client()
        app.wait_until_ready(client)
    try:  # the server is stopped now; the app still runs
        down = wait_for(lambda: (lambda s: not s["ready"] and s)(health(app.url)))
        assert "failed" in down["status"] and down["papers"] == 8, down
        before = app.log.count("Traceback")
        for _ in range(5):
            try:
                client.predict("neural networks", api_name="/chat")
                raise AssertionError("answered without a store")
            except AppError as error:
                assert "the paper store cannot answer right now" in str(error).lower()
        time.sleep(2.5)  # a few probes more, still one log line
        assert app.log.count("Traceback") == before
        assert app.log.count("the paper store cannot answer:") == 1

        with ChromaServer(tmp_path / "data", port=port):
            wait_for(lambda: health(app.url)["ready"])
            assert client.predict("neural networks", 3, api_name="/search")
        assert app.log.count("the paper store answers again") == 1
    finally:
        app.__exit__()


def test_a_large_file_shows_progress_while_it_is_read_and_chunked(tmp_path: Path):
    """Reading and chunking come before the model's first batch: each has its own bar, so a
    large file is never minutes of silence. The run is stopped once embedding starts."""
    big = write_jsonl(tmp_path / "big.jsonl", synthetic(3000, seed=81, sentences_each=1))
    env = clean_env(chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache")
    process = start_ingest(str(big), env=env)
    try:
        seen = wait_for_stderr(process, "embedding")
    finally:
        stop_process(process)
    reading, chunking = seen.find("reading: "), seen.find("chunking: ")
    assert 0 <= reading < chunking < seen.find("embedding"), seen[-2000:]
    assert re.search(r"reading: \d+ record", seen), seen[-2000:]  # shown before the first
    assert re.search(r"chunking: +\d+%.*\| *\d+/3000 ", seen), seen[-2000:]
