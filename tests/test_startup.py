"""The start-up order: a refused launch imports nothing heavy, and the OpenAI-compatible API
answers from the engine before Gradio is imported (the page comes after it).

Each case runs in a fresh interpreter, so ``sys.modules`` says what the start imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

from devtools.chroma_server import free_port
from tests.conftest import ROOT, clean_env

HEAVY = ("gradio", "assistant.engine", "chromadb", "llama_index.core", "fastapi", "uvicorn")

REFUSED = f"""
import json, sys, time
began = time.perf_counter()
import app
status = app.main()
print(json.dumps({{"status": status, "seconds": time.perf_counter() - began,
                  "imported": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""

# The app on a store, with a look at the server when Gradio is about to be imported: /v1
# must already answer, and the page must still say "starting".
API_FIRST = """
import json, sys, urllib.error, urllib.request
from assistant.core.settings import Settings
from assistant.web import server
import app

settings = Settings()
url = f"http://127.0.0.1:{settings.port}/"
question = {"model": "paper-assistant",
            "messages": [{"role": "user", "content": "Which work reaches 77.4% mIoU at 102 FPS?"}]}
seen = {}
attach_page = server.Site.attach_page

def look_first(self, app_server):
    seen["gradio imported before the page"] = "gradio" in sys.modules
    request = urllib.request.Request(url + "v1/chat/completions", json.dumps(question).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        seen["v1"] = response.status
        seen["v1 cites"] = "[1]" in json.loads(response.read())["choices"][0]["message"]["content"]
    with urllib.request.urlopen(url + "health", timeout=30) as response:
        seen["health"] = response.status
    try:
        urllib.request.urlopen(url, timeout=30)
    except urllib.error.HTTPError as error:
        seen["page while starting"] = error.code
        seen["says starting"] = "Starting" in error.read().decode()
    return attach_page(self, app_server)

server.Site.attach_page = look_first
demo, holder = server.launch(settings, lambda report: app.start_engine(settings, report),
                             block=False)
try:
    with urllib.request.urlopen(url, timeout=30) as response:
        seen["page"] = response.status
        seen["page is gradio"] = "gradio" in response.read().decode().lower()
    seen["gradio imported after"] = "gradio" in sys.modules
finally:
    demo.close()
print(json.dumps(seen))
"""


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_refused_launch_imports_neither_gradio_nor_the_engine(tmp_path):
    """Issue 19: a configuration that must not be served is refused before the heavy
    imports, so the refusal takes a fraction of a second, not the seconds of a start."""
    env = clean_env(chroma_path=tmp_path / "chroma", host="0.0.0.0", port=free_port())
    result = run_python(REFUSED, env)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 2 and outcome["imported"] == []
    assert result.stderr.startswith("error: refusing to serve on 0.0.0.0:")
    assert not (tmp_path / "chroma").exists()


def test_the_api_answers_before_gradio_is_imported(corpus_store):
    """Issue 21: the first question is answered while the page is still being built."""
    settings, _ = corpus_store
    env = clean_env(
        chroma_path=settings.chroma_path, cache_dir=settings.cache_dir, port=free_port()
    )
    result = run_python(API_FIRST, env)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "gradio imported before the page": False,
        "v1": 200,
        "v1 cites": True,
        "health": 200,
        "page while starting": 503,
        "says starting": True,
        "page": 200,
        "page is gradio": True,
        "gradio imported after": True,
    }


def test_the_sentence_splitter_loads_without_nltks_optional_libraries():
    """NLTK's package init imports scipy.stats and scikit-learn (seconds) for parts of NLTK
    that Punkt never uses; the engine's start, and so the first answer, skips them."""
    code = (
        "import sys\n"
        "from assistant.core.sentence_split import load_punkt, quotable_sentences\n"
        "load_punkt()\n"
        "held = [m for m in ('scipy.stats', 'sklearn', 'pandas') if m in sys.modules]\n"
        "import scipy.stats, sklearn  # still importable afterwards\n"
        "print(held, len(quotable_sentences('We propose a new method here. It works well on "
        "three benchmarks, e.g. ImageNet. Results are strong across the board.')))\n"
    )
    result = run_python(code, clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "3"]


def test_gradio_is_imported_without_rewriting_its_type_stubs():
    """Gradio re-parses every component module to rewrite its ``.pyi`` stub as the class is
    defined (seconds of CPU per start); the app's import skips exactly that step, and the
    components still work."""
    code = (
        "from assistant.web.gradio_import import import_gradio\n"
        "gr = import_gradio()\n"
        "import gradio.component_meta as meta\n"
        "with gr.Blocks() as demo:\n"
        "    box = gr.Textbox(label='Question')\n"
        "print(meta.create_or_modify_pyi.__name__, box.label, import_gradio() is gr)\n"
    )
    result = run_python(code, clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["_no_stub_rewrite", "Question", "True"]
