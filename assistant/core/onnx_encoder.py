"""The bundled sentence-transformers model run by ONNX Runtime: the same vectors (to about
1e-7) without importing torch, transformers and sentence-transformers on every start.

Those imports cost a CPU process 10-15 s, about as long as everything else an app or CLI
start does together; ONNX Runtime and the ``tokenizers`` library load in under a second.
The ONNX graph is exported once from the model's own weights (torch.onnx, the only time
torch is imported on a CPU machine) and kept in a per-user cache shared by every store,
app and test run; a copy is published by an atomic rename, so concurrent first starts each
see either no file or a whole one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Bump when the exported graph changes (inputs, outputs, opset): old copies are then ignored.
EXPORT_FORMAT = "bert-last-hidden-state-v1"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def default_model_cache() -> Path:
    """``$XDG_CACHE_HOME/paper-assistant/models`` (``~/.cache/…`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "paper-assistant" / "models"


class OnnxUnsupported(Exception):
    """This sentence-transformers directory is not the plain BERT + mean pooling +
    normalisation pipeline the ONNX encoder reproduces; use sentence-transformers."""


def pipeline_of(model_dir: Path) -> tuple[int, bool]:
    """The window (max tokens) and whether vectors are normalised, read from the model's
    sentence-transformers files; raises :class:`OnnxUnsupported` for anything else than
    Transformer → mean Pooling (→ Normalize)."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((model_dir / pooling_dir / "config.json").read_text("utf-8"))
        window = json.loads((model_dir / "sentence_bert_config.json").read_text("utf-8"))[
            "max_seq_length"
        ]
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration) as error:
        raise OnnxUnsupported(f"cannot read the model's pipeline: {error}") from error
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        value
        for key, value in pooling.items()
        if key.startswith("pooling_mode_") and key != "pooling_mode_mean_tokens"
    )
    if (
        kinds[:2] != ["Transformer", "Pooling"]
        or set(kinds[2:]) - {"Normalize"}
        or not mean_only
        or config.get("model_type") != "bert"
        or not (model_dir / "tokenizer.json").is_file()
    ):
        raise OnnxUnsupported(f"modules {kinds}, model type {config.get('model_type')}")
    return int(window), "Normalize" in kinds


def weights_key(model_dir: Path) -> str:
    """Names an export by the weights it came from (path, size and time of each weights
    file: cheap, unlike hashing 90 MB at every start) and the export format."""
    parts = [EXPORT_FORMAT, str(model_dir.resolve())]
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        stat = weights.stat()
        parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def exported_graph(model_dir: Path, cache: Path) -> Path:
    """The model's ONNX file in ``cache``, exported now if no whole copy is there yet."""
    target = cache / f"{model_dir.name}-{weights_key(model_dir)}.onnx"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s to ONNX once (%s)", model_dir.name, target)
    handle, partial = tempfile.mkstemp(dir=cache, prefix=".export-", suffix=".onnx")
    os.close(handle)
    try:
        _export(model_dir, Path(partial))
        os.replace(partial, target)  # atomic: readers see no file or a whole one
    finally:
        Path(partial).unlink(missing_ok=True)
    return target


def _export(model_dir: Path, path: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about the graph's shapes are noise
        torch.onnx.export(
            LastHiddenState(model),
            (example, example, torch.zeros_like(example)),
            str(path),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed
        )


class OnnxSentenceEncoder:
    """Mean-pooled, normalised sentence vectors from an exported BERT graph.

    Thread-safe: ONNX Runtime sessions may be run concurrently, and the two tokenizers
    (one counting whole texts, one cutting and padding batches) are configured once and
    never changed afterwards; "Already borrowed" comes only from changing a tokenizer's
    settings while another thread encodes with it.
    """

    def __init__(self, model_dir: Path, cache: Path, threads: int | None = None):
        import onnxruntime
        from tokenizers import Tokenizer

        self.window, self.normalise = pipeline_of(model_dir)
        graph = exported_graph(model_dir, cache)
        options = onnxruntime.SessionOptions()
        # OMP_NUM_THREADS is honoured as torch honours it (processes sharing the cores).
        options.intra_op_num_threads = (
            threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or min(4, os.cpu_count() or 1)
        )
        # Idle threads sleep instead of spinning: the web server's threads and other
        # processes on a small machine need the cores between two questions.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initialisers are noise
        self.session = onnxruntime.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        self._counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()  # tokenizer.json pads to a fixed length
        self._batcher = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._batcher.enable_truncation(self.window)
        self._batcher.enable_padding()
        self.dimension = int(self.encode(["dimension"]).shape[1])

    def tokenize(self, text: str) -> list[int]:
        """Word-piece ids without [CLS]/[SEP] and without truncation (for chunk budgets)."""
        return self._counter.encode(text, add_special_tokens=False).ids

    def encode(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        parts = [
            self._encode_batch(texts[start : start + batch_size])
            for start in range(0, len(texts), batch_size)
        ]
        return np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._batcher.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self.session.run(
            None,
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )[0]
        weights = mask[..., None].astype(hidden.dtype)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self.normalise:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.clip(norms, 1e-12, None)
        return pooled.astype(np.float32)
