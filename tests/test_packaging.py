"""The built wheel is complete: installed without ``-e`` into a fresh environment outside
the checkout, it answers through the OpenAI-compatible backend with the prompts it carries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile

from devtools.fake_openai import Reply
from tests.conftest import ROOT, clean_env

SCRIPT = """
import json, assistant
from assistant import Assistant
from assistant.prompts import PROMPTS_DIR
answer = Assistant.from_settings().ask("Which work reaches 77.4% mIoU at 102 FPS?")
print(json.dumps({"package": assistant.__file__, "prompts": str(PROMPTS_DIR),
                  "text": answer.text, "backend": answer.backend,
                  "verdicts": [c.verdict for c in answer.claims],
                  "titles": [c.title for c in answer.citations]}))
"""


def test_wheel_installed_outside_the_checkout_answers(tmp_path, corpus_store, fake_llm):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("paper_assistant-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    prompts = {f"assistant/prompt_texts/{p.name}" for p in (ROOT / "prompts").glob("*.txt")}
    assert prompts and prompts <= packed

    # A fresh environment; the heavy dependencies (torch, chromadb, llama-index) come from
    # this test's environment through a .pth line. Python does not process .pth files of a
    # folder added that way, so this environment's editable install stays invisible.
    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    site = next(fresh.glob("lib/python*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        + ["--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )

    settings, _ = corpus_store
    # the answer, then the verification pass's verdict (its prompts come from the wheel too)
    fake_llm.script(
        Reply("DDRNet-23-slim reaches 77.4% mIoU at 102 FPS [1]."),
        Reply(
            '{"verdicts": [{"claim": 1, "verdict": "entailed", "span": "77.4% mIoU at 102 FPS"}]}'
        ),
    )
    env = clean_env(
        chroma_path=settings.chroma_path,
        cache_dir=settings.cache_dir,
        llm="openai-compatible",
        llm_base_url=fake_llm.base_url,
        llm_model="scripted-model",
    )
    env.pop("PYTHONPATH", None)
    run = subprocess.run(
        [str(python), "-c", SCRIPT],
        cwd=tmp_path,  # outside the checkout: nothing can be imported from it
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(str(site))
    assert result["prompts"].startswith(str(site))
    assert result["backend"] == "openai-compatible"
    assert result["text"] == "DDRNet-23-slim reaches 77.4% mIoU at 102 FPS [1]."
    assert result["titles"][0].startswith("Deep Dual-resolution Networks")
    assert result["verdicts"] == ["supported"]  # confirmed by the verification call
    systems = [request["messages"][0]["content"] for request in fake_llm.requests]
    assert systems == [
        (ROOT / "prompts" / f"{name}.txt").read_text().rstrip("\n")
        for name in ("qa_system", "verify_system")
    ]
    assert not os.path.exists(site / "prompts")  # shipped inside the package, not beside it
