"""Shared fixtures: the real embedding model, a real Chroma store of the bundled corpus."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# As app.py and Gradio set them: so the environment of every process a test starts is
# that of devtools.prefork's server (which then forks them instead of starting them cold).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "True")
os.environ.setdefault("PAPER_ASSISTANT_PREFORK", "1")  # apps and CLIs as forks (devtools.prefork)

from assistant.core.settings import Settings  # noqa: E402
from devtools.fake_openai import FakeOpenAIServer  # noqa: E402
from devtools.prefork import run_python  # noqa: E402
from ingest import BUNDLED_PAPERS  # noqa: E402
from ingest.parsers import parse_paths  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"  # Debian's package (make browser)
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# A listing page of the bundled corpus (51 papers, DDRNet's third) and the number of its
# papers kept by :func:`ddrnet_page`, for tests whose behaviour needs a real listing page but
# not a whole one: embedding its chunks and sentences is most of an ingest's time.
DDRNET_LISTING = "000_a5a20c598f10aad2.txt"
DDRNET_PAGE_PAPERS = 24  # 48 chunks with the model's 254-token chunks
# Chunks per ingest write (``ASSISTANT_WRITE_BATCH``) for tests that kill an ingest between
# two writes: the page of :func:`ddrnet_page` then takes three writes.
SMALL_WRITE_BATCH = 16


# Each test module's kind (a marker): ``unit`` runs on hand-built objects in milliseconds
# (no model, no store, no server); ``integration`` uses the real embedding model, a real
# Chroma or real HTTP; ``e2e`` drives the running app (HTTP clients, headless Chromium).
# ``pytest -m unit`` is the quick loop while editing.
UNIT = {
    "test_chunking",
    "test_citations",
    "test_conversation",
    "test_export",
    "test_fusion",
    "test_layers",
    "test_lexical",
    "test_markup",
    "test_parsers",
    "test_premises_and_support",
    "test_relevance",
    "test_sentences",
}
E2E = {"test_api", "test_export_ui", "test_security_and_faults", "test_ui"}


def _module(item: pytest.Item) -> str:
    return item.module.__name__.rsplit(".", 1)[-1] if item.module else ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = _module(item)
        kind = "unit" if module in UNIT else "e2e" if module in E2E else "integration"
        item.add_marker(getattr(pytest.mark, kind))
    items.sort(key=_run_order(items))


# Seconds each slow file took in ``make test`` (both workers busy); files not named take a
# few. Only their order matters: :func:`_run_order` hands out the longest first.
SLOW_FILES = {
    "test_store_recovery": 150,
    "test_store_safety": 125,
    "test_ui": 110,
    "test_security_and_faults": 90,
    "test_web_doors": 85,
    "test_local_llm": 60,
    "test_export_ui": 50,
    "test_ingest": 50,
    "test_sentence_vectors": 30,
    "test_chroma_server": 30,
    "test_onnx_encoder": 28,
    "test_pipeline": 27,
    "test_engine": 25,
    "test_startup": 22,
    "test_packaging": 22,
    "test_paper_file": 18,
}


def _run_order(items: list[pytest.Item]):
    """Files in an order that keeps ``make test``'s workers busy (xdist hands out whole
    files in this order; the Makefile keeps it with ``--no-loadscope-reorder``).

    The shared corpus ingest (``corpus_store``) takes minutes and every worker that needs
    it waits for it: the first file that needs it goes first, so the ingest starts at once,
    then the files that do not need it (the other worker runs them meanwhile), then the
    rest of the files that need it, and the quick unit files last. Within each group the
    longest files go first, so the two workers finish at nearly the same time.
    """
    corpus_users = [_module(i) for i in items if "corpus_store" in i.fixturenames]
    first_user = corpus_users[0] if corpus_users else None

    def rank(item: pytest.Item) -> tuple[int, int]:
        module = _module(item)
        longest_first = -SLOW_FILES.get(module, 0)
        if module == first_user:
            return 0, 0
        if module in UNIT:
            return 3, longest_first
        return (2 if module in corpus_users else 1), longest_first

    return rank


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may pick up a developer's .env or real keys."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name, raising=False)


def clean_env(**settings: object) -> dict[str, str]:
    """This process's environment without ASSISTANT_* variables, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["HF_HUB_OFFLINE"] = "1"
    env.update({f"ASSISTANT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def run_module(module: str, *args: str, env: dict[str, str], timeout: int = 300):
    """``python -m module args…`` from the project root, output captured as text (a fork
    of :mod:`devtools.prefork`'s server: the CLI's imports are already done)."""
    return run_python(["-m", module, *args], cwd=ROOT, env=env, timeout=timeout)


def ddrnet_page(folder: Path) -> Path:
    """A folder holding one listing page: the bundled page with DDRNet, cut after its first
    :data:`DDRNET_PAGE_PAPERS` papers (its header lines, then title / abstract pairs)."""
    lines = (BUNDLED_PAPERS / DDRNET_LISTING).read_text(encoding="utf-8").splitlines()
    kept = parse_paths([BUNDLED_PAPERS / DDRNET_LISTING]).papers[:DDRNET_PAGE_PAPERS]
    last_abstract = lines.index(kept[-1].abstract)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / DDRNET_LISTING
    page.write_text("\n".join(lines[: last_abstract + 1]) + "\n", encoding="utf-8")
    return folder


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """A JSON-lines file of ``records`` at ``path``, for ingest."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def make_settings(tmp: Path, **overrides: object) -> Settings:
    return Settings(
        _env_file=None,
        chroma_path=tmp / "chroma",
        cache_dir=tmp / "cache",
        **overrides,
    )


@pytest.fixture(scope="session")
def embedder():
    from assistant.core.embeddings import build_embedder

    return build_embedder(Settings(_env_file=None))


@pytest.fixture(scope="session")
def corpus_store(tmp_path_factory: pytest.TempPathFactory, embedder):
    """The bundled corpus ingested into a temporary embedded Chroma: once per test run.

    Under pytest-xdist the first worker to get here ingests into a folder all workers share
    (beside their own temporary roots) and the others wait for it; each worker then works
    on its own copy, so no two processes ever open one embedded store.
    """
    from filelock import FileLock

    from ingest.pipeline import ingest

    run_root = tmp_path_factory.getbasetemp()  # an xdist worker's is inside the run's own
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_root = run_root.parent
    shared = run_root / "bundled-corpus-store"
    with FileLock(f"{shared}.lock"):
        report_file = shared / "report.pickle"
        if not report_file.exists():
            report = ingest(
                [BUNDLED_PAPERS], make_settings(shared), progress=False, embedder=embedder
            )
            report_file.write_bytes(pickle.dumps(report))
        report = pickle.loads(report_file.read_bytes())
        root = tmp_path_factory.mktemp("corpus-store")
        for folder in ("chroma", "cache"):
            shutil.copytree(shared / folder, root / folder)
    return make_settings(root), report


@pytest.fixture
def store_copy(corpus_store, tmp_path):
    """A copy of the session's store, free to damage."""
    settings, _ = corpus_store
    for folder in ("chroma", "cache"):
        shutil.copytree(Path(settings.chroma_path).parent / folder, tmp_path / folder)
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def assistant(corpus_store):
    from assistant.engine import Assistant

    settings, _ = corpus_store
    return Assistant.from_settings(settings)


@pytest.fixture(scope="session")
def corpus_app(corpus_store):
    """The web app on the session corpus with default settings, started once for every
    module that reads it (one app start is seconds of imports)."""
    from devtools.app_process import AppProcess

    settings, _ = corpus_store
    with AppProcess.on_store(Path(settings.chroma_path).parent, settings) as app:
        app.wait_until_ready()
        yield app


@pytest.fixture(scope="session")
def app_url(corpus_app) -> str:
    return corpus_app.url


def launch_chromium(playwright):
    """Headless Chromium as every browser test runs it."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)


@pytest.fixture(scope="session")
def fake_llm():
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
